//! The real `socket.io-client` v4 from npm, used exactly as the original web client uses it
//! (`tests/node/web-client.mjs`, and its score loop in `tests/node/rerender-client.mjs`),
//! against a running hub. `scripts/test` installs it with
//! `npm ci --prefix crates/hub/tests/node`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{HubProcess, TestHub};

fn node_driver() -> PathBuf {
    node_script("web-client.mjs")
}

fn node_script(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "socket.io-client is not installed: run `npm ci --prefix crates/hub/tests/node`"
    );
    dir.join(name)
}

/// Runs the web client to completion; the events it received, in order.
async fn run_web_client(
    url: String,
    user_id: &str,
    room_code: Option<&str>,
) -> Vec<(String, Value)> {
    let mut command = Command::new("node");
    command.arg(node_driver()).arg(url).arg(user_id);
    if let Some(code) = room_code {
        command.arg(code);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "the web client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("the driver prints JSON lines");
            (
                value["event"].as_str().unwrap().to_owned(),
                value["data"].clone(),
            )
        })
        .collect()
}

fn first<'a>(events: &'a [(String, Value)], name: &str) -> &'a Value {
    &events
        .iter()
        .find(|(event, _)| event == name)
        .unwrap_or_else(|| panic!("no {name} among {events:?}"))
        .1
}

fn has_keys(value: &Value, keys: &[&str]) {
    for key in keys {
        assert!(value.get(key).is_some(), "`{key}` missing from {value}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_web_client_joins_and_receives_the_original_events() {
    let hub = TestHub::start(None).await;
    let url = format!("http://127.0.0.1:{}", hub.port());
    let events = run_web_client(url, "web-user-1", None).await;

    let joined = first(&events, "session_joined");
    has_keys(
        joined,
        &[
            "sessionId",
            "startedAt",
            "duration",
            "currentPhase",
            "participantCount",
            "groupMetrics",
            "audioTrack",
        ],
    );
    assert_eq!(joined["participantCount"], 1);
    has_keys(&joined["audioTrack"], &["id", "name", "duration"]);
    let feedback = first(&events, "personal_feedback");
    has_keys(feedback, &["yourCoherence", "groupAverage", "contribution"]);
    assert_eq!(feedback["yourCoherence"], 72.0);
    let group = &first(&events, "group_metrics_update")["groupMetrics"];
    has_keys(
        group,
        &[
            "sessionId",
            "timestamp",
            "participantCount",
            "averageCoherence",
            "peakCoherence",
            "coherencePhase",
            "coherenceDistribution",
        ],
    );
    has_keys(&group["coherenceDistribution"], &["low", "medium", "high"]);
    assert_eq!(first(&events, "participant_update")["participantCount"], 1);
    // The client's `leave_session` (no arguments) closed its participant at once.
    let mut view = hub.hub.state.engine.view.clone();
    let left = tokio::time::timeout(
        crate::util::WAIT,
        view.wait_for(|room| room.participants.is_empty()),
    )
    .await;
    assert!(left.is_ok(), "the participant left the room");
    hub.hub.stop().await.unwrap();

    // The private note never reaches the store.
    let bytes = std::fs::read(hub.database.clone()).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("a private note"));
    assert!(
        !text.contains("web-user-1"),
        "the raw user id is pseudonymised"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socketio_client_with_a_wrong_room_code_gets_bad_room_code() {
    let hub = TestHub::start(Some("4711")).await;
    let url = format!("http://127.0.0.1:{}", hub.port());
    let mut command = Command::new("node");
    command
        .arg(node_driver())
        .arg(url)
        .arg("web-user-2")
        .arg("1234");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let error = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|value| value["event"] == "error")
        .unwrap_or_else(|| panic!("no error event in {stdout}"));
    assert_eq!(error["data"]["code"], "bad_room_code");
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_payloads_over_socketio_get_the_same_codes_and_the_socket_stays_served() {
    let hub = TestHub::start(None).await;
    let url = format!("http://127.0.0.1:{}", hub.port());
    let driver = node_driver().with_file_name("bad-client.mjs");
    let mut command = Command::new("node");
    command.arg(driver).arg(url).arg("web-user-3");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    let codes: Vec<String> = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|value| value["event"] == "error")
        .map(|value| value["data"]["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        codes,
        [
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "unknown_event",
            "too_large"
        ]
    );
    hub.hub.stop().await.unwrap();
    assert_eq!(
        crate::util::count_rows(&hub.database, "SELECT count(*) FROM hrv_metrics"),
        0
    );
}

/// A Socket.IO message over the hub's read limit (128 KiB; events from 64 KiB get
/// `too_large` and the connection stays open, see above) cannot be answered: socketioxide
/// refuses it from its length — the WebSocket frame's header, or the polling request's body
/// counted as it arrives — and closes the Engine.IO session itself, before the hub sees an
/// event. What the real client sees, per transport: a disconnect, no `too_large`; and the
/// hub serves the next client as before.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::print_stdout)] // What each transport saw is this test's output (`--no-capture`).
async fn a_socketio_message_over_the_read_limit_closes_the_connection_unread() {
    let hub = TestHub::start(None).await;
    let url = format!("http://127.0.0.1:{}", hub.port());
    for transport in ["websocket", "polling"] {
        let mut command = Command::new("node");
        command
            .arg(node_script("oversize-client.mjs"))
            .arg(&url)
            .arg(format!("oversize-{transport}"))
            .arg(transport)
            .arg("200");
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("node runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.success(),
            "{transport}: the hub kept the connection:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let events: Vec<Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON lines"))
            .collect();
        let last = events.last().expect("a disconnect line");
        let names: Vec<&str> = events
            .iter()
            .filter_map(|event| event["event"].as_str())
            .collect();
        println!(
            "{transport}, a 200 KiB message after joining: events {names:?}, then {}",
            last["data"]
        );
        assert_eq!(last["event"], "disconnect", "{transport}: {stdout}");
        assert_eq!(
            last["data"]["sent"], true,
            "{transport}: it was sent after joining"
        );
        let reason = last["data"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason == "transport close" || reason == "transport error",
            "{transport}: closed by the transport, not by the hub's own disconnect: {reason}"
        );
        assert!(
            !events.iter().any(|event| event["event"] == "error"),
            "{transport}: nothing reached the hub, so nothing was answered: {stdout}"
        );
    }
    // The hub serves the next client as before.
    let events = run_web_client(url, "after-oversize", None).await;
    first(&events, "session_joined");
    hub.hub.stop().await.unwrap();
}

/// How long the original client's score loop runs against the hub.
const SCORE_LOOP_SECS: u64 = 30;

#[tokio::test(flavor = "multi_thread")]
async fn an_original_client_that_rearms_its_score_timer_on_every_event_gets_its_scores_through() {
    // The original web client re-arms its 1 s "send my score" timer on every event it
    // receives. Against figures every second it would never send; with the original cadence
    // (figures right after its own score, otherwise every 5 s) it sends about once a second.
    let hub = HubProcess::start(&[], &[]);
    let (status, started) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{started}");
    let mut command = Command::new("node");
    command
        .arg(node_script("rerender-client.mjs"))
        .arg(format!("http://127.0.0.1:{}", hub.port))
        .arg("original-web-1")
        .arg(SCORE_LOOP_SECS.to_string());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().expect("a summary line"))
        .expect("the summary is JSON");
    let count = |key: &str| summary[key].as_u64().expect("a count");
    assert!(
        count("sent") >= 24,
        "at least 24 scores in {SCORE_LOOP_SECS} s: {summary}"
    );
    assert!(
        count("seen") >= 24 && count("seen") <= count("sent"),
        "its scores come back in group_metrics_update: {summary}"
    );
    // Each score is answered once; between them the client hears no other figures.
    assert!(
        count("groupUpdates") <= count("sent") + SCORE_LOOP_SECS / 5 + 1,
        "no figures at 1 Hz on top of the answers: {summary}"
    );
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
}
