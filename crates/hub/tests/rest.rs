//! Every REST route through `app(state)` without a socket (`oneshot`): the original JSON
//! shapes, the facilitator routes behind the admin token, and the error bodies.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::util::TestHub;

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Value,
    text: String,
    bytes: Vec<u8>,
    headers: axum::http::HeaderMap,
}

async fn call(
    hub: &TestHub,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = synchub::server::app(hub.hub.state.clone())
        .oneshot(request.body(body).expect("a valid request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        body,
        text,
        bytes: bytes.to_vec(),
        headers,
    }
}

fn admin_token(hub: &TestHub) -> String {
    std::fs::read_to_string(&hub.hub.admin_token_path).expect("the admin token file exists")
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

const ORIGINAL_SESSION_KEYS: [&str; 7] = [
    "audioTrack",
    "currentPhase",
    "duration",
    "groupMetrics",
    "participantCount",
    "sessionId",
    "startedAt",
];

const ORIGINAL_GROUP_KEYS: [&str; 7] = [
    "averageCoherence",
    "coherenceDistribution",
    "coherencePhase",
    "participantCount",
    "peakCoherence",
    "sessionId",
    "timestamp",
];

fn assert_original_session_shape(session: &Value) {
    let keys = keys(session);
    for key in ORIGINAL_SESSION_KEYS {
        assert!(
            keys.contains(&key.to_owned()),
            "session lacks `{key}`: {session}"
        );
    }
    let group_keys = self::keys(&session["groupMetrics"]);
    for key in ORIGINAL_GROUP_KEYS {
        assert!(
            group_keys.contains(&key.to_owned()),
            "groupMetrics lacks `{key}`"
        );
    }
    assert!(session["startedAt"].is_u64());
    assert!(session["duration"].is_u64());
    assert_eq!(
        keys_of(&session["groupMetrics"]["coherenceDistribution"]),
        ["high", "low", "medium"]
    );
}

fn keys_of(value: &Value) -> Vec<String> {
    keys(value)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_the_original_shape() {
    let hub = TestHub::start(None).await;
    let reply = call(&hub, "GET", "/health", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
    assert!(reply.body["timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    assert_eq!(reply.headers["x-frame-options"], "DENY");
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn current_session_is_the_original_shape_and_404s_without_one() {
    let hub = TestHub::start(None).await;
    let reply = call(&hub, "GET", "/api/sessions/current", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_original_session_shape(&reply.body);
    let session_id = reply.body["sessionId"].as_str().unwrap().to_owned();

    let by_id = call(
        &hub,
        "GET",
        &format!("/api/sessions/{session_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(by_id.status, StatusCode::OK);
    assert_eq!(by_id.body["sessionId"], session_id.as_str());

    let list = call(&hub, "GET", "/api/sessions", None, None).await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body.as_array().expect("a bare array, as the original");
    assert_eq!(sessions.len(), 1);
    assert_original_session_shape(&sessions[0]);

    let token = admin_token(&hub);
    let ended = call(
        &hub,
        "POST",
        &format!("/api/sessions/{session_id}/end"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);

    let none = call(&hub, "GET", "/api/sessions/current", None, None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(none.body, json!({"error": "No active session found"}));

    let missing = call(
        &hub,
        "GET",
        "/api/sessions/00000000-0000-0000-0000-000000000000",
        None,
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body, json!({"error": "Session not found"}));
    let junk = call(&hub, "GET", "/api/sessions/not-a-uuid", None, None).await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
    assert_eq!(junk.body["error"], "Session not found");

    // The ended session is still listed, from the store, in the original shape.
    let list = call(&hub, "GET", "/api/sessions", None, None).await;
    let sessions = list.body.as_array().unwrap();
    assert_eq!(sessions[0]["sessionId"], session_id.as_str());
    assert_eq!(sessions[0]["currentPhase"], "complete");
    assert_original_session_shape(&sessions[0]);
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn facilitator_routes_refuse_missing_and_wrong_tokens() {
    let hub = TestHub::start(Some("4242")).await;
    let routes = [
        ("GET", "/api/hub"),
        ("PUT", "/api/schedule"),
        ("POST", "/api/sessions"),
        (
            "POST",
            "/api/sessions/00000000-0000-0000-0000-000000000000/advance",
        ),
        (
            "POST",
            "/api/sessions/00000000-0000-0000-0000-000000000000/end",
        ),
        ("GET", "/api/participants"),
        ("GET", "/api/research/export"),
        ("GET", "/api/research/stats"),
        ("PUT", "/api/pacer"),
        ("GET", "/api/straps"),
        ("PUT", "/api/sync"),
        ("POST", "/api/sync"),
        ("POST", "/api/straps/AA:BB/assign"),
        ("DELETE", "/api/straps/AA:BB/assign"),
    ];
    for (method, uri) in routes {
        for token in [None, Some("wrong-token")] {
            let reply = call(&hub, method, uri, token, None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
            assert_eq!(
                reply.body["error"]["code"], "unauthorized",
                "{method} {uri}"
            );
            assert!(reply.body["error"]["message"].is_string());
        }
    }
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_facilitator_sets_the_pacer_and_bad_paces_are_refused() {
    let hub = TestHub::start(None).await;
    let token = admin_token(&hub);
    let set = call(
        &hub,
        "PUT",
        "/api/pacer",
        Some(&token),
        Some(json!({"breathsPerMin": 5.5, "inhaleRatio": 0.4})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(
        keys(&set.body),
        ["breathsPerMin", "epochHubTime", "inhaleRatio"]
    );
    assert_eq!(set.body["breathsPerMin"], 5.5);
    assert_eq!(set.body["inhaleRatio"], 0.4);

    // Without a ratio the current one stays.
    let pace_only = call(
        &hub,
        "PUT",
        "/api/pacer",
        Some(&token),
        Some(json!({"breathsPerMin": 6})),
    )
    .await;
    assert_eq!(pace_only.status, StatusCode::OK, "{}", pace_only.text);
    assert_eq!(pace_only.body["breathsPerMin"], 6.0);
    assert_eq!(pace_only.body["inhaleRatio"], 0.4);

    for body in [
        json!({"breathsPerMin": 45}),
        json!({"inhaleRatio": 0.5}),
        json!([]),
    ] {
        let refused = call(&hub, "PUT", "/api/pacer", Some(&token), Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.body["error"]["code"], "invalid_payload", "{body}");
    }
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_started_without_bluetooth_says_how_to_read_straps() {
    let hub = TestHub::start(None).await;
    let token = admin_token(&hub);
    let list = call(&hub, "GET", "/api/straps", Some(&token), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["available"], false);
    assert!(
        list.body["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("--ble")),
        "{}",
        list.text
    );
    assert_eq!(list.body["straps"], json!([]));
    let assign = call(
        &hub,
        "POST",
        "/api/straps/AA:BB/assign",
        Some(&token),
        Some(json!({"label": "Seat 1"})),
    )
    .await;
    assert_eq!(assign.status, StatusCode::CONFLICT, "{}", assign.text);
    let bad = call(
        &hub,
        "POST",
        "/api/straps/AA:BB/assign",
        Some(&token),
        Some(json!({"label": ""})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    let release = call(
        &hub,
        "DELETE",
        "/api/straps/AA:BB/assign",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(release.status, StatusCode::NOT_FOUND, "{}", release.text);
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_info_participants_and_schedule_for_the_facilitator() {
    let hub = TestHub::start(Some("4242")).await;
    let token = admin_token(&hub);
    let info = call(&hub, "GET", "/api/hub", Some(&token), None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["name"], "Test room");
    assert_eq!(info.body["roomCode"], "4242");
    let join_url = info.body["joinUrl"].as_str().unwrap();
    assert!(join_url.starts_with("http://127.0.0.1:"), "{join_url}");
    assert!(join_url.ends_with("/join?room=4242"), "{join_url}");
    assert_eq!(info.body["schedule"]["mode"], "manual");
    assert_eq!(info.body["store"]["ok"], true);

    let participants = call(&hub, "GET", "/api/participants", Some(&token), None).await;
    assert_eq!(participants.status, StatusCode::OK);
    assert_eq!(participants.body, json!({"participants": []}));

    let schedule = json!({"mode": "rolling", "slotMinutes": 2, "phases": {"preparation": 10, "active": 100, "integration": 10}});
    let put = call(
        &hub,
        "PUT",
        "/api/schedule",
        Some(&token),
        Some(schedule.clone()),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body, schedule);

    let bad = json!({"mode": "rolling", "slotMinutes": "2", "phases": {"preparation": 10, "active": 100, "integration": 10}});
    let refused = call(&hub, "PUT", "/api/schedule", Some(&token), Some(bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"]["code"], "invalid_payload");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("slotMinutes")
    );
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_start_advance_and_end_on_command() {
    let hub = TestHub::start(None).await;
    let token = admin_token(&hub);
    let running = call(&hub, "POST", "/api/sessions", Some(&token), None).await;
    assert_eq!(
        running.status,
        StatusCode::CONFLICT,
        "a session is already running"
    );
    assert_eq!(running.body["error"]["code"], "conflict");

    let current = call(&hub, "GET", "/api/sessions/current", None, None).await;
    let id = current.body["sessionId"].as_str().unwrap().to_owned();
    let advanced = call(
        &hub,
        "POST",
        &format!("/api/sessions/{id}/advance"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(advanced.status, StatusCode::OK, "{}", advanced.text);
    assert_eq!(
        advanced.text,
        format!(r#"{{"phase":"active","sessionId":"{id}"}}"#),
        "the session command's reply, byte for byte"
    );
    let other = call(
        &hub,
        "POST",
        "/api/sessions/00000000-0000-0000-0000-000000000000/advance",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body["error"]["code"], "not_found");
    let ended = call(
        &hub,
        "POST",
        &format!("/api/sessions/{id}/end"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(
        ended.text,
        format!(r#"{{"phase":"complete","sessionId":"{id}"}}"#)
    );
    // The ended session keeps its figures, as `session_complete` gave them, in the history.
    let history = call(&hub, "GET", "/api/sessions", None, None).await;
    let finished = history
        .body
        .as_array()
        .and_then(|sessions| {
            sessions
                .iter()
                .find(|session| session["sessionId"] == id.as_str())
        })
        .unwrap_or_else(|| panic!("the ended session is listed: {}", history.text));
    assert_original_session_shape(finished);
    let summary = &finished["summary"];
    assert_eq!(
        keys(summary),
        [
            "averageCoherence",
            "duration",
            "endedAt",
            "participantCount",
            "peakCoherence",
            "startedAt",
            "timeInPhase"
        ]
    );
    assert!(
        summary["duration"].as_u64().unwrap() < finished["duration"].as_u64().unwrap(),
        "ended early, so it ran shorter than scheduled: {finished}"
    );
    let started = call(&hub, "POST", "/api/sessions", Some(&token), None).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    assert_ne!(started.body["sessionId"], id.as_str());
    let new_id = started.body["sessionId"].as_str().unwrap();
    assert_eq!(
        started.text,
        format!(r#"{{"phase":"preparation","sessionId":"{new_id}"}}"#)
    );
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn research_stats_and_export_keep_their_shapes() {
    let hub = TestHub::start(None).await;
    let token = admin_token(&hub);
    let stats = call(&hub, "GET", "/api/research/stats", Some(&token), None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    assert_eq!(stats.body["success"], true);
    assert_eq!(
        keys(&stats.body["stats"]),
        [
            "avg_group_coherence",
            "avg_participants",
            "max_group_coherence",
            "total_sessions",
            "total_users"
        ]
    );
    let export = call(
        &hub,
        "GET",
        "/api/research/export?format=json",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert_eq!(export.body["success"], true);
    assert!(export.body["tables"].is_object());
    assert!(
        export.text.starts_with(r#"{"exportId":""#),
        "the fields in the order the hub has always written them: {}",
        export.text
    );
    assert_eq!(
        keys(&export.body),
        ["exportId", "participants", "sessions", "success", "tables"]
    );
    let json_tables = keys(&export.body["tables"]);
    assert!(!json_tables.is_empty());

    // CSV and Parquet: one file per table, downloaded as a zip.
    for (format, magic) in [("csv", None), ("parquet", Some(&b"PAR1"[..]))] {
        let download = call(
            &hub,
            "GET",
            &format!("/api/research/export?format={format}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(download.status, StatusCode::OK, "{}", download.text);
        assert_eq!(download.content_type, "application/zip");
        let disposition = download.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"synchub-research-")
                && disposition.ends_with(&format!("-{format}.zip\"")),
            "{disposition}"
        );
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(download.bytes)).unwrap();
        let mut names: Vec<String> = archive
            .file_names()
            .map(|name| name.unwrap().into_owned())
            .collect();
        names.sort();
        let expected: Vec<String> = json_tables
            .iter()
            .map(|table| format!("{table}.{format}"))
            .collect();
        assert_eq!(names, expected);
        for name in &names {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut content).unwrap();
            match magic {
                Some(magic) => assert!(content.starts_with(magic), "{name} is not parquet"),
                // Even an empty table has its header line.
                None => assert!(
                    content.ends_with(b"\n") && content.contains(&b','),
                    "{name}"
                ),
            }
        }
    }
    let bad = call(
        &hub,
        "GET",
        "/api/research/export?format=xml",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["code"], "invalid_payload");
    let bad_range = call(
        &hub,
        "GET",
        "/api/research/export?start=yesterday",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(bad_range.status, StatusCode::BAD_REQUEST);
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_pages_and_unknown_routes() {
    let hub = TestHub::start(Some("4242")).await;
    let metrics = call(&hub, "GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(metrics.text.contains("# TYPE synchub_participants gauge"));
    assert!(metrics.text.contains("synchub_store_queue_depth"));

    // The web console and join page: the files of the UI build, byte for byte.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    for (page, file) in [("/", "index.html"), ("/join", "join.html")] {
        let reply = call(&hub, "GET", page, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{page}");
        assert_eq!(reply.content_type, "text/html; charset=utf-8");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache");
        let html = std::fs::read_to_string(dist.join(file)).expect("ui/dist is built");
        assert_eq!(reply.text, html, "{page}");
        // Each page's script is served from /assets with a long cache life.
        let script = html
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page loads a script");
        let path = format!(
            "/{}",
            script.trim_start_matches("./").trim_start_matches('/')
        );
        let asset = call(&hub, "GET", &path, None, None).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert_eq!(asset.content_type, "text/javascript; charset=utf-8");
        assert_eq!(
            asset.headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
    let missing = call(&hub, "GET", "/assets/no-such-file.js", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "not_found");
    let unknown = call(&hub, "GET", "/api/nothing-here", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"]["code"], "not_found");
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_the_hubs_origin_and_the_desktop_app_only() {
    let hub = TestHub::start(None).await;
    let own = format!("http://127.0.0.1:{}", hub.port());
    for (origin, allowed) in [
        (own.as_str(), true),
        ("tauri://localhost", true),
        ("http://tauri.localhost", true),
        ("http://evil.example", false),
    ] {
        let request = Request::builder()
            .uri("/health")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap();
        let response = synchub::server::app(hub.hub.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let header = response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        assert_eq!(header.is_some(), allowed, "{origin}");
    }
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_exports_and_erases_their_own_data_with_their_resume_token() {
    let hub = TestHub::start(None).await;
    let mut phone = crate::util::WsClient::connect(&hub.ws_url("?userId=rights-holder")).await;
    let joined = phone.join().await;
    let token = joined["resumeToken"].as_str().unwrap().to_owned();
    let rr = vec![810.0; 30];
    phone
        .send(
            "rr_intervals",
            json!({"rr": rr, "endedAt": crate::util::now_ms(), "seq": 1}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);

    for wrong in [
        None,
        Some("0123456789abcdef0123456789abcdef"),
        Some("not-a-token"),
    ] {
        let refused = call(&hub, "GET", "/api/me/export", wrong, None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(refused.body["error"]["code"], "unauthorized");
    }
    let export = call(&hub, "GET", "/api/me/export", Some(&token), None).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert!(
        export.text.starts_with(r#"{"success":true,"tables":{"#),
        "{}",
        export.text
    );
    assert_eq!(
        export.body["tables"]["rr_intervals"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
    assert!(
        !export.text.contains("rights-holder"),
        "no raw user id in the export"
    );

    let erased = call(&hub, "DELETE", "/api/me", Some(&token), None).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    assert_eq!(erased.body["erased"]["beatRows"], 30);
    let erased_rows = &erased.body["erased"];
    assert_eq!(
        erased.text,
        format!(
            r#"{{"erased":{{"beatRows":30,"metricRows":{},"pairRows":{},"participantRows":1}},"success":true}}"#,
            erased_rows["metricRows"], erased_rows["pairRows"]
        ),
        "the erasure's reply, byte for byte"
    );
    // The token is spent: the participant has left and their data is gone.
    let again = call(&hub, "GET", "/api/me/export", Some(&token), None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    hub.hub.stop().await.unwrap();
    assert_eq!(
        crate::util::count_rows(&hub.database, "SELECT count(*) FROM rr_intervals"),
        0
    );
    assert_eq!(
        crate::util::count_rows(&hub.database, "SELECT count(*) FROM erasures"),
        1
    );
}
