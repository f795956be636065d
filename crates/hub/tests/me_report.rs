//! `GET /api/me/report` on a real hub with real clients over loopback: after the session
//! completes, each resume token opens its holder's own curve against the room's median and
//! nobody else's; a participant without heart data gets the room's curve; a wrong or absent
//! token gets 401; the session's report is built once for all of them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{TestHub, WsClient, http_json};

/// The scores the three participants with heart data send, distinct enough that any one of
/// them showing up in someone else's reply would be noticed.
const SCORES: [f64; 3] = [31.5, 52.25, 73.75];

struct Joined {
    client: WsClient,
    token: String,
}

async fn join(hub: &TestHub, user: &str) -> Joined {
    let mut client = WsClient::connect(&hub.ws_url(&format!("?userId={user}"))).await;
    let joined = client.join().await;
    let token = joined["resumeToken"]
        .as_str()
        .expect("session_joined carries a resume token")
        .to_owned();
    Joined { client, token }
}

async fn get_report(port: u16, token: Option<String>) -> (u16, Value) {
    tokio::task::spawn_blocking(move || match token {
        Some(token) => http_json(port, "GET", "/api/me/report", &token, None),
        None => without_authorization(port, "/api/me/report"),
    })
    .await
    .expect("the request thread finishes")
}

/// A GET with no `Authorization` header at all.
fn without_authorization(port: u16, path: &str) -> (u16, Value) {
    use std::io::{Read as _, Write as _};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts TCP");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("an HTTP status");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn curve(report: &Value) -> Vec<f64> {
    report["yourCurve"]
        .as_array()
        .expect("yourCurve is a list")
        .iter()
        .map(|point| point["coherence"].as_f64().expect("a score"))
        .collect()
}

fn medians(report: &Value) -> Vec<(u64, Option<f64>)> {
    report["roomMedian"]
        .as_array()
        .expect("roomMedian is a list")
        .iter()
        .map(|point| {
            (
                point["counted"].as_u64().expect("a count"),
                point["median"].as_f64(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_opens_its_own_curve_after_the_session_and_only_its_own() {
    let hub = TestHub::start(None).await;
    let port = hub.port();
    let mut with_data = Vec::new();
    for user in ["report-a", "report-b", "report-c"] {
        with_data.push(join(&hub, user).await);
    }
    let browser = join(&hub, "report-browser").await;
    // Every second for 12 s, as a phone app sends its own score.
    for _ in 0..12 {
        for (participant, score) in with_data.iter_mut().zip(SCORES) {
            participant
                .client
                .send("update_coherence", json!({"coherence": score}))
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let session = hub.end_session().await;

    for (index, participant) in with_data.iter().enumerate() {
        let (status, report) = get_report(port, Some(participant.token.clone())).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["sessionId"], session.to_string());
        assert_eq!(report["hadHeartData"], true);
        let ended_at = report["endedAt"].as_u64().expect("the session ended");
        assert_eq!(
            report["availableUntil"].as_u64(),
            Some(ended_at + 24 * 3600 * 1000)
        );
        let own = curve(&report);
        assert!(own.len() >= 8, "{own:?}");
        assert!(own.iter().all(|score| *score == SCORES[index]), "{own:?}");
        // The room's median is the middle score wherever all three counted, and withheld
        // wherever fewer did.
        let room = medians(&report);
        assert!(room.contains(&(3, Some(SCORES[1]))), "{room:?}");
        assert!(
            room.iter()
                .all(|(counted, median)| (*counted >= 3) == median.is_some()),
            "{room:?}"
        );
        let text = report.to_string();
        for (other, score) in SCORES.iter().enumerate() {
            if other != index && other != 1 {
                assert!(
                    !text.contains(&score.to_string()),
                    "participant {index}'s reply holds {score}: {text}"
                );
            }
        }
        assert_eq!(report["phases"][0]["phase"], "preparation");
    }

    let (status, report) = get_report(port, Some(browser.token.clone())).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["hadHeartData"], false);
    assert_eq!(curve(&report), Vec::<f64>::new());
    assert_eq!(report["change"]["yours"], Value::Null);
    assert!(medians(&report).contains(&(3, Some(SCORES[1]))));

    // The ended session's report was built once for all four, and a burst of every join page
    // asking at once (as on `session_complete`) builds nothing more.
    let builds = || {
        hub.hub
            .state
            .metrics
            .participant_report_builds
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(builds(), 1);
    let tokens: Vec<String> = with_data
        .iter()
        .map(|participant| participant.token.clone())
        .chain([browser.token.clone()])
        .collect();
    let burst: Vec<_> = (0..24)
        .map(|index| tokio::spawn(get_report(port, Some(tokens[index % tokens.len()].clone()))))
        .collect();
    for request in burst {
        let (status, body) = request.await.expect("the request task finishes");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(builds(), 1, "the burst was served from the one build");

    for wrong in [
        Some("0123456789abcdef0123456789abcdef".to_owned()),
        Some("not-a-token".to_owned()),
        Some(String::new()),
        None,
    ] {
        let (status, body) = get_report(port, wrong.clone()).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{wrong:?}");
    }

    for participant in with_data {
        participant.client.close().await;
    }
    browser.client.close().await;
    hub.hub.stop().await.unwrap();
}
