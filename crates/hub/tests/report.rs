//! The session report where a facilitator gets it: `GET /api/sessions/{id}/report` behind the
//! admin token and `synchub report` from a data directory — and, end to end, a real
//! `synchub serve` with simulated rooms whose report must find the rise of a room that
//! settles into coherence and no rise in a restless one.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use synchub_sim::crowd::{Crowd, CrowdConfig, ProfileMix};
use synchub_sim::rr::Profile;
use tower::ServiceExt as _;

use crate::util::{HubProcess, TestHub, WsClient, now_ms, stderr, synchub};

struct Reply {
    status: u16,
    content_type: String,
    disposition: String,
    text: String,
}

async fn get(hub: &TestHub, uri: &str, token: Option<&str>) -> Reply {
    let mut request = Request::builder().method("GET").uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = synchub::server::app(hub.hub.state.clone())
        .oneshot(request.body(Body::empty()).expect("a valid request"))
        .await
        .expect("the router answers");
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (
        header_text(header::CONTENT_TYPE),
        header_text(header::CONTENT_DISPOSITION),
    );
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    Reply {
        status,
        content_type,
        disposition,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// One participant with a minute and a half of steady beats, in a session that then ends.
async fn an_ended_session(hub: &TestHub) -> String {
    let mut phone = WsClient::connect(&hub.ws_url("?userId=phone-report")).await;
    phone.join().await;
    // 90 s of beats ending now, in one batch per 300 beats (the protocol's limit).
    let rr = vec![1000.0; 90];
    phone
        .send(
            "rr_intervals",
            json!({"rr": rr, "endedAt": now_ms(), "seq": 1}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    let session = hub.end_session().await;
    phone.close().await;
    session.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_route_serves_the_page_and_its_twin_behind_the_admin_token() {
    let hub = TestHub::start(None).await;
    let session = an_ended_session(&hub).await;
    let token = hub.hub.state.admin.tokens.current().as_str().to_owned();
    let path = format!("/api/sessions/{session}/report");

    let page = get(&hub, &path, Some(&token)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(
        page.text.starts_with("<!DOCTYPE html>"),
        "{}",
        &page.text[..80]
    );
    assert!(page.text.contains("<svg"), "charts are inline SVG");
    assert!(!page.text.contains("<script"), "the page runs no script");
    assert!(
        page.text.contains("Test room"),
        "the hub's room name is on the page"
    );
    assert!(
        page.disposition
            .starts_with("inline; filename=\"synchub-report-")
            && page
                .disposition
                .ends_with(&format!("-{}.html\"", &session[..8])),
        "{}",
        page.disposition
    );
    assert!(
        !page.text.contains("phone-report"),
        "no user id on the page"
    );

    let twin = get(&hub, &format!("{path}?format=json"), Some(&token)).await;
    assert_eq!(twin.status, 200, "{}", twin.text);
    assert_eq!(twin.content_type, "application/json");
    let twin: Value = serde_json::from_str(&twin.text).expect("the twin is JSON");
    assert_eq!(twin["schema"], "synchub-report/1");
    assert_eq!(twin["overview"]["participants"]["joined"], 1);
    assert!(
        twin["overview"]["ended_at_ms"].is_i64(),
        "{}",
        twin["overview"]
    );
    assert_eq!(twin["quality"][0]["beats"], 90);
    // The same report twice: the seed is the session's, not the moment's.
    let again = get(&hub, &format!("{path}?format=json"), Some(&token)).await;
    assert_eq!(serde_json::from_str::<Value>(&again.text).unwrap(), twin);

    // Typed errors: no token, a wrong format, an unknown and a malformed session.
    let anonymous = get(&hub, &path, None).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.text.contains("\"unauthorized\""),
        "{}",
        anonymous.text
    );
    let wrong_format = get(&hub, &format!("{path}?format=pdf"), Some(&token)).await;
    assert_eq!(wrong_format.status, 400);
    assert!(
        wrong_format.text.contains("invalid_payload") && wrong_format.text.contains("`pdf`"),
        "{}",
        wrong_format.text
    );
    for unknown in [
        "/api/sessions/00000000-0000-7000-8000-000000000000/report",
        "/api/sessions/yesterday/report",
    ] {
        let missing = get(&hub, unknown, Some(&token)).await;
        assert_eq!(missing.status, 404, "{unknown}: {}", missing.text);
        assert!(missing.text.contains("\"not_found\""), "{}", missing.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchub_report_writes_a_stored_session_and_says_what_is_wrong() {
    let hub = TestHub::start(None).await;
    let session = an_ended_session(&hub).await;
    hub.hub.state.store.flush().expect("the store flushes");
    let data_dir = hub
        .database
        .parent()
        .expect("the data directory")
        .to_owned();
    let data_dir = data_dir.to_str().expect("a UTF-8 path");
    let out = tempfile::tempdir().expect("a temporary directory");
    let json_path = out.path().join("latest.json");
    let json_out = json_path.to_str().unwrap();

    // `latest` while the hub still runs on the directory: the store is only read.
    let run = synchub(&[
        "report",
        "--data-dir",
        data_dir,
        "--session",
        "latest",
        "--format",
        "json",
        "--room-name",
        "Test room",
        "--out",
        json_out,
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains(&session), "{}", stderr(&run));
    let from_cli: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let token = hub.hub.state.admin.tokens.current().as_str().to_owned();
    let from_route = get(
        &hub,
        &format!("/api/sessions/{session}/report?format=json"),
        Some(&token),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&from_route.text).unwrap(),
        from_cli,
        "the command and the route give the same report"
    );

    // By id, as HTML (the default format).
    let html_path = out.path().join("report.html");
    let run = synchub(&[
        "report",
        "--data-dir",
        data_dir,
        "--session",
        &session,
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let page = std::fs::read_to_string(&html_path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));

    // What is wrong, and what to do.
    let unknown = synchub(&[
        "report",
        "--data-dir",
        data_dir,
        "--session",
        "00000000-0000-7000-8000-000000000000",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no session 00000000-0000-7000-8000-000000000000"),
        "{}",
        stderr(&unknown)
    );
    let empty = tempfile::tempdir().unwrap();
    let nothing = synchub(&[
        "report",
        "--data-dir",
        empty.path().to_str().unwrap(),
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(!nothing.status.success());
    assert!(
        stderr(&nothing).contains("no Sync Hub database")
            && stderr(&nothing).contains("--data-dir"),
        "{}",
        stderr(&nothing)
    );
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "an empty data directory stays empty"
    );
    let malformed = synchub(&["report", "--session", "yesterday", "--out", "x.html"]);
    assert!(!malformed.status.success());
    assert!(
        stderr(&malformed).contains("`yesterday`"),
        "{}",
        stderr(&malformed)
    );
    // The earlier page is still whole: failed runs replaced nothing.
    assert_eq!(std::fs::read_to_string(&html_path).unwrap(), page);
}

// ----- End to end --------------------------------------------------------------------------

/// Preparation shorter than 2 minutes, so the baseline is the first 2 minutes of the active
/// phase; the end window is the 90 s of the active phase after it. Short enough for CI,
/// long enough for the simulated settling (restless for 50–100 s of their stream, then
/// settling over 90–240 s) to show.
const PHASES: &str = "5,210,5";
/// Each participant arrives with this much earlier heart data (as phones send their last
/// minute on joining), so scores flow from the session's first seconds.
const BACKFILL: Duration = Duration::from_secs(60);
const PARTICIPANTS: usize = 8;

/// A real `synchub serve` with a crowd of one profile through one whole session; its report
/// from the REST route, checked equal to `synchub report`'s.
struct RoomRun {
    hub: HubProcess,
    crowd: Crowd,
    session: String,
}

impl RoomRun {
    fn start(profile: Profile, seed: u64) -> RoomRun {
        let hub = HubProcess::start(&["--phases", PHASES, "--room-name", "Report room"], &[]);
        let (status, started) = hub.call("POST", "/api/sessions", None);
        assert_eq!(status, 201, "{started}");
        let session = started["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let mut config = CrowdConfig::new(&format!("http://127.0.0.1:{}", hub.port), PARTICIPANTS);
        config.profile = ProfileMix::Only(profile);
        config.backfill = BACKFILL;
        config.ramp_per_sec = 100.0;
        config.seed = seed;
        let crowd = Crowd::start(config);
        RoomRun {
            hub,
            crowd,
            session,
        }
    }

    /// Waits (polling, with a generous deadline) until the session completed, stops the crowd
    /// and returns the report's JSON, from the route and from the command line (equal).
    async fn finish(self) -> Value {
        let RoomRun {
            hub,
            crowd,
            session,
        } = self;
        let deadline = Instant::now() + Duration::from_secs(400);
        loop {
            let (_, info) = hub.call("GET", &format!("/api/sessions/{session}"), None);
            if info["currentPhase"] == "complete" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the session did not complete: {info}\n{}",
                hub.log()
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let outcome = crowd.stop(Duration::from_secs(5)).await;
        assert_eq!(
            outcome.stats.joined, PARTICIPANTS as u64,
            "{:?}",
            outcome.stats
        );
        let report = report_text(hub.port, &hub.token, &session);
        let from_route: Value = serde_json::from_str(&report).expect("the report is JSON");
        let out = tempfile::tempdir().unwrap();
        let out_file = out.path().join("report.json");
        let run = synchub(&[
            "report",
            "--data-dir",
            hub.data_dir().to_str().unwrap(),
            "--session",
            &session,
            "--room-name",
            "Report room",
            "--format",
            "json",
            "--out",
            out_file.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        let from_cli: Value =
            serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
        assert_eq!(from_route, from_cli, "the route and the command agree");
        from_route
    }
}

/// `GET /api/sessions/{id}/report?format=json` over a real socket.
fn report_text(port: u16, token: &str, session: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("TCP");
    write!(
        stream,
        "GET /api/sessions/{session}/report?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    body.to_owned()
}

fn coherence_change(report: &Value) -> (f64, f64, usize) {
    let change = &report["change"]["coherence"];
    (
        change["median_change"].as_f64().expect("a median change"),
        change["test"]["p_value"].as_f64().expect("a p-value"),
        change["participants"]
            .as_array()
            .expect("participants")
            .len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_settles_rises_significantly_and_a_restless_room_does_not() {
    // Both rooms at once, each on its own hub: the test takes one session's time.
    let settling = RoomRun::start(Profile::Settling, 11);
    let restless = RoomRun::start(Profile::Restless, 11);
    let (settling, restless) = tokio::join!(settling.finish(), restless.finish());

    let windows = &settling["change"]["windows"];
    assert_eq!(windows["baseline"]["kind"], "first_two_minutes_of_active");
    assert_eq!(windows["end"]["kind"], "active_after_baseline");
    let (median, p, compared) = coherence_change(&settling);
    assert!(compared >= 6, "compared {compared}: {}", settling["change"]);
    assert!(
        median > 0.0 && p < 0.05,
        "settling room: median change {median}, p {p}: {}",
        settling["change"]["coherence"]
    );
    assert!(
        settling["change"]["coherence"]["test"]["rank_biserial"]
            .as_f64()
            .unwrap()
            > 0.5
    );

    let (median, p, compared) = coherence_change(&restless);
    assert!(compared >= 6, "compared {compared}: {}", restless["change"]);
    assert!(
        !(median > 0.0 && p < 0.05),
        "restless room: median change {median}, p {p}: {}",
        restless["change"]["coherence"]
    );
}
