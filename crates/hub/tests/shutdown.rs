//! `synchub serve` as a real process: one ready line, and SIGTERM stops it with exit 0 after
//! storing everything — every beat acknowledged before the signal is in the database.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{WsClient, count_rows, now_ms};

/// A minimal HTTP/1.1 request (the test needs one POST; no client library for that).
fn http(port: u16, method: &str, path: &str, token: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts TCP");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_serve_cleanly_with_every_acknowledged_beat_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_synchub"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-mdns",
            "--no-room-code",
            "--schedule",
            "manual",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("SYNCHUB_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("synchub serve starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let port: u16 = ready
        .trim()
        .strip_prefix("synchub ready on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {ready:?}"))
        .parse()
        .unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin_token")).unwrap();
    let started = http(port, "POST", "/api/sessions", &token);
    assert!(started.starts_with("HTTP/1.1 201"), "{started}");

    let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=phone-s")).await;
    phone.join().await;
    for seq in 1..=5_u64 {
        let rr: Vec<f64> = vec![800.0; 20];
        phone
            .send(
                "rr_intervals",
                json!({"rr": rr, "endedAt": now_ms(), "seq": seq}),
            )
            .await;
        assert_eq!(phone.expect("rr_ack").await["seq"], seq);
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
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
