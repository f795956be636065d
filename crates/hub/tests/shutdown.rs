//! `synchub serve` as a real process: one ready line, and SIGTERM stops it with exit 0 after
//! storing everything — every beat acknowledged before the signal is in the database.

use serde_json::json;

use crate::util::{HubProcess, StoppedHub, WsClient, count_rows, now_ms};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_serve_cleanly_with_every_acknowledged_beat_stored() {
    let hub = HubProcess::start(&[], &[]);
    let port = hub.port;
    let (status, started) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{started}");

    let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=phone-s")).await;
    phone.join().await;
    for seq in 1..=5_u64 {
        let rr: Vec<f64> = vec![800.0; 20];
        phone
            .send(
                "rr_intervals",
                // Consecutive 16 s batches of the last two minutes: none overlaps another.
                json!({"rr": rr, "endedAt": now_ms() - 120_000 + seq * 16_000, "seq": seq}),
            )
            .await;
        assert_eq!(phone.expect("rr_ack").await["seq"], seq);
    }
    let StoppedHub {
        exit,
        log,
        stdout: rest,
        dir,
    } = hub.stop();
    assert!(exit.success(), "exit status {exit:?}\n{log}");
    assert!(!rest.contains("synchub ready"), "exactly one ready line");
    assert!(
        log.contains("accepting connections"),
        "the start-up time is logged: {log}"
    );
    assert!(!log.contains("phone-s"), "no raw user id in the log");
    let database = dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        100
    );
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM session_participants"),
        1
    );
}
