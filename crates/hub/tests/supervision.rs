//! A panic in the engine task, injected through the test-only `fault-injection` feature into a
//! real `synchub serve`: `/health` turns red with the reason, the process exits non-zero within
//! seconds, and a restart on the same data directory resumes the session with every
//! acknowledged beat stored and the phone's resume token still valid.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{HubProcess, WsClient, count_rows, now_ms};

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_panic_turns_health_red_exits_non_zero_and_a_restart_resumes_the_session() {
    let mut hub = HubProcess::start(&[], &[]);
    let (status, started) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{started}");
    let port = hub.port;
    let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=phone-p")).await;
    let joined = phone.join().await;
    for seq in 1..=4_u64 {
        phone
            .send(
                "rr_intervals",
                json!({"rr": vec![810.0; 12], "endedAt": now_ms(), "seq": seq}),
            )
            .await;
        assert_eq!(phone.expect("rr_ack").await["seq"], seq);
    }

    let (status, _) = hub.call("POST", "/api/faults/engine-panic", None);
    assert_eq!(status, 202, "the fault hook is compiled into test builds");
    let panicked = Instant::now();
    // Red, with the reason, while the process lingers before it exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let (status, body) = hub.call("GET", "/health", None);
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "/health stayed {status}: {body}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(health["status"], "unavailable");
    assert_eq!(health["problems"][0]["code"], "engine_stopped", "{health}");

    let exit = hub
        .wait_exit(Duration::from_secs(30))
        .expect("the hub exits by itself after an engine panic");
    let exited_after = panicked.elapsed();
    assert!(!exit.success(), "a non-zero exit status: {exit:?}");
    let log = hub.log();
    assert!(
        log.contains("injected fault: the engine task panics"),
        "the panic's message is logged: {log}"
    );
    assert!(log.contains("the session engine failed"), "{log}");
    eprintln!("engine panic → exit {exit:?} after {exited_after:?}");

    // Restarted on the same data: the session resumes and the phone rejoins with its token.
    let dir = hub.take_dir();
    drop(hub);
    let database = dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        4 * 12,
        "every acknowledged beat is stored"
    );
    let hub = HubProcess::start_in(dir, &[], &[]);
    let token = joined["resumeToken"].as_str().expect("a resume token");
    let mut phone = WsClient::connect(&format!(
        "ws://127.0.0.1:{}/ws?userId=phone-p&resumeToken={token}",
        hub.port
    ))
    .await;
    let resumed = phone.expect("session_joined").await;
    assert_eq!(
        resumed["sessionId"], joined["sessionId"],
        "the same session"
    );
    assert_eq!(resumed["participantId"], joined["participantId"]);
    // A batch stored before the panic is acknowledged again, not stored twice; a new one is
    // stored.
    phone
        .send(
            "rr_intervals",
            json!({"rr": vec![810.0; 12], "endedAt": now_ms(), "seq": 4}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 4);
    phone
        .send(
            "rr_intervals",
            json!({"rr": vec![820.0; 12], "endedAt": now_ms(), "seq": 5}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 5);
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
    let database = stopped.dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        5 * 12
    );
    assert_eq!(count_rows(&database, "SELECT count(*) FROM sessions"), 1);
}
