//! The real `socket.io-client` v4 from npm, used exactly as the original web client uses it
//! (`tests/node/web-client.mjs`), against a running hub. `scripts/test` installs it with
//! `npm ci --prefix crates/hub/tests/node`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::TestHub;

fn node_driver() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "socket.io-client is not installed: run `npm ci --prefix crates/hub/tests/node`"
    );
    dir.join("web-client.mjs")
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
