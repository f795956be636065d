//! Runs the strap manager for a while and prints what it reports, one JSON object per line:
//!
//! ```text
//! synchub-ble-probe [--secs N] [--no-scan] [--scan-only]
//! {"event":"status","status":{"id":"A0:9E:1A:12:34:56","code":"EEYE",…}}
//! {"event":"beats","strap":"A0:9E:1A:12:34:56","rrMs":[955.078125],"endedAtMs":1780000000000}
//! {"event":"straps","straps":[…]}                      (the snapshot, at the end)
//! {"event":"unavailable","reason":"could not reach the Bluetooth service: …"}  (exit code 2)
//! ```
//!
//! With `--scan-only` it runs `scan_once` for N seconds instead (what `synchub ble scan` does)
//! and prints `{"event":"scan","straps":[…]}`.
//!
//! The integration tests run it as a child process against the emulated BlueZ: libdbus reads
//! `DBUS_SYSTEM_BUS_ADDRESS` once per process, so each bus a test needs gets its own process
//! (and the tests never have to change their own environment). It is also the quickest way to
//! see what a real strap sends on a developer's machine.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde_json::json;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use synchub_ble::{BleError, ManagerConfig, StrapEvent, StrapManager, scan_once};

fn main() -> ExitCode {
    let mut secs = 30_u64;
    let mut scan = true;
    let mut scan_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => match args.next().and_then(|value| value.parse().ok()) {
                Some(value) => secs = value,
                None => return usage("--secs needs a whole number of seconds"),
            },
            "--no-scan" => scan = false,
            "--scan-only" => scan_only = true,
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("synchub-ble-probe: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let duration = Duration::from_secs(secs);
    if scan_only {
        runtime.block_on(scan_and_list(duration))
    } else {
        runtime.block_on(probe(duration, scan))
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "synchub-ble-probe: {problem}\nusage: synchub-ble-probe [--secs N] [--no-scan] [--scan-only]"
    );
    ExitCode::from(64)
}

fn print_line(value: serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the test stopped reading) is not worth a panic.
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

fn print_unavailable(error: &BleError) -> ExitCode {
    let reason = match error {
        BleError::Unavailable { reason } => reason.clone(),
        other => other.to_string(),
    };
    print_line(json!({"event": "unavailable", "reason": reason}));
    ExitCode::from(2)
}

async fn scan_and_list(duration: Duration) -> ExitCode {
    match scan_once(duration).await {
        Ok(straps) => {
            print_line(json!({"event": "scan", "straps": straps}));
            ExitCode::SUCCESS
        }
        Err(error) => print_unavailable(&error),
    }
}

async fn probe(duration: Duration, scan: bool) -> ExitCode {
    let config = ManagerConfig {
        scan,
        ..ManagerConfig::default()
    };
    let (manager, mut events) = match StrapManager::start(config).await {
        Ok(started) => started,
        Err(error) => return print_unavailable(&error),
    };
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            event = events.recv() => match event {
                Some(StrapEvent::Status(status)) => {
                    print_line(json!({"event": "status", "status": status}));
                }
                Some(StrapEvent::Beats { strap, batch }) => print_line(json!({
                    "event": "beats",
                    "strap": strap,
                    "rrMs": batch.rr_ms,
                    "endedAtMs": batch.ended_at_ms,
                })),
                None => break,
            },
        }
    }
    print_line(json!({"event": "straps", "straps": manager.straps()}));
    manager.shutdown().await;
    print_line(json!({"event": "stopped"}));
    ExitCode::SUCCESS
}
