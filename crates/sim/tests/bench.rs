//! The `synchub-sim bench` binary against the stand-in hub: its last stdout line is the JSON
//! summary with exactly the agreed keys, and its exit code says whether the run was clean.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{Behaviour, FakeHub, Framing};

/// Runs the binary with `args` (off the async runtime: it blocks until the bench ends).
async fn run_sim(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_synchub-sim"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn summary_of(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).unwrap()
}

fn bench_args(hub: &FakeHub, room_code: &str, transport: &str) -> Vec<String> {
    [
        "bench",
        "--hub",
        &hub.url,
        "--participants",
        "5",
        "--duration-secs",
        "2",
        "--room-code",
        room_code,
        "--transport",
        transport,
        "--ramp-per-sec",
        "50",
        "--join-timeout-secs",
        "5",
        "--settle-secs",
        "1",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn bench_prints_the_summary_with_exactly_the_agreed_keys() {
    let hub = FakeHub::start(Behaviour {
        framing: Framing::Ws,
        room_code: "K7Q2",
        drop_first_connection_after_batches: None,
        hub_clock_ahead_ms: 0.0,
        engine_ping_interval: std::time::Duration::from_millis(300),
    })
    .await;
    let output = run_sim(bench_args(&hub, "K7Q2", "ws")).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("sim: "),
        "a progress line on stderr: {stderr}"
    );

    let summary = summary_of(&output);
    let keys: BTreeSet<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "participants_requested",
        "participants_connected",
        "errors",
        "batches_sent",
        "batches_acked",
        "scores_sent",
        "scores_answered",
        "group_updates",
        "ack_ms",
        "broadcast_ms",
        "score_answer_ms",
        "messages_per_sec",
        "hub_cpu_pct_avg",
        "hub_cpu_pct_peak",
        "hub_rss_mb_peak",
        "generator_cpu_pct",
    ]
    .into();
    assert_eq!(keys, expected);
    let ack_keys: BTreeSet<&str> = summary["ack_ms"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ack_keys, ["p50", "p95", "p99", "max"].into());
    let broadcast_keys: BTreeSet<&str> = summary["broadcast_ms"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(broadcast_keys, ["p50", "p99", "max"].into());

    assert_eq!(summary["participants_requested"], 5);
    assert_eq!(summary["participants_connected"], 5);
    assert_eq!(summary["errors"], serde_json::json!({}));
    let sent = summary["batches_sent"].as_u64().unwrap();
    assert!(sent >= 5, "{summary}");
    assert_eq!(summary["batches_acked"].as_u64().unwrap(), sent);
    assert!(summary["ack_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(summary["messages_per_sec"].as_f64().unwrap() > 5.0);
    // Without --hub-pid the hub figures are unknown, not zero.
    assert_eq!(summary["hub_cpu_pct_avg"], Value::Null);
    assert!(summary["generator_cpu_pct"].as_f64().is_some());
}

#[tokio::test]
async fn bench_fails_when_participants_are_refused() {
    let hub = FakeHub::start(Behaviour {
        framing: Framing::SocketIo,
        room_code: "K7Q2",
        drop_first_connection_after_batches: None,
        hub_clock_ahead_ms: 0.0,
        engine_ping_interval: std::time::Duration::from_millis(300),
    })
    .await;
    let output = run_sim(bench_args(&hub, "0000", "socketio")).await;
    assert!(!output.status.success());
    let summary = summary_of(&output);
    assert_eq!(summary["participants_connected"], 0);
    assert_eq!(summary["errors"]["bad_room_code"], 5);
}
