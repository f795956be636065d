//! Runs the strap reader for a while and prints what it reports, one JSON object per line:
//!
//! ```text
//! synchub-ble-probe [--secs N] [--no-scan] [--scan-only] [--links-per-adapter K]
//!                   [--snapshot-every-secs N]
//! {"event":"adapters","adapters":[{"id":"hci0","linkBudget":7,"linksInUse":1,…}]}
//! {"event":"status","status":{"id":"A0:9E:1A:12:34:56","code":"EEYE","adapter":"hci0",…}}
//! {"event":"beats","strap":"A0:9E:1A:12:34:56","rrMs":[955.078125],"endedAtMs":1780000000000}
//! {"event":"snapshot","snapshot":{"adapters":[…],"straps":[…],"advice":null}}
//!                                        (every N s with --snapshot-every-secs, and at the end)
//! {"event":"unavailable","reason":"could not reach the Bluetooth service: …"}  (exit code 2)
//! ```
//!
//! With `--scan-only` it runs `scan_once` for N seconds instead (what `synchub ble scan` does)
//! and prints `{"event":"scan","adapters":["hci0",…],"straps":[…]}`.
//!
//! The integration tests run it as a child process against the emulated BlueZ: libdbus reads
//! `DBUS_SYSTEM_BUS_ADDRESS` once per process, so each bus a test needs gets its own process
//! (and the tests never have to change their own environment). It is also the quickest way to
//! see what a real strap sends on a developer's machine, and the process whose CPU and memory
//! are measured for a relay on a small computer.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde_json::json;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use synchub_ble::{BleError, ReaderConfig, StrapEvent, StrapReader, scan_once};

const USAGE: &str = "usage: synchub-ble-probe [--secs N] [--no-scan] [--scan-only] \
                     [--links-per-adapter K] [--snapshot-every-secs N]";

/// What the command line asked for.
struct Options {
    duration: Duration,
    scan_only: bool,
    snapshot_every: Option<Duration>,
    config: ReaderConfig,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("synchub-ble-probe: {problem}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
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
    if options.scan_only {
        runtime.block_on(scan_and_list(options.duration))
    } else {
        runtime.block_on(probe(options))
    }
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        duration: Duration::from_secs(30),
        scan_only: false,
        snapshot_every: None,
        config: ReaderConfig::default(),
    };
    let number = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next()
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| format!("{flag} needs a whole number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => options.duration = Duration::from_secs(number(&mut args, "--secs")?),
            "--no-scan" => options.config.scan = false,
            "--scan-only" => options.scan_only = true,
            "--links-per-adapter" => {
                options.config.links_per_adapter =
                    usize::try_from(number(&mut args, "--links-per-adapter")?)
                        .map_err(|_| "--links-per-adapter is too large".to_owned())?;
            }
            "--snapshot-every-secs" => {
                let secs = number(&mut args, "--snapshot-every-secs")?;
                options.snapshot_every = Some(Duration::from_secs(secs.max(1)));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
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
        Ok(report) => {
            print_line(
                json!({"event": "scan", "adapters": report.adapters, "straps": report.straps}),
            );
            ExitCode::SUCCESS
        }
        Err(error) => print_unavailable(&error),
    }
}

async fn probe(options: Options) -> ExitCode {
    let (reader, mut events) = match StrapReader::start(options.config).await {
        Ok(started) => started,
        Err(error) => return print_unavailable(&error),
    };
    let deadline = tokio::time::sleep(options.duration);
    tokio::pin!(deadline);
    let every = options.snapshot_every.unwrap_or(Duration::from_secs(3600));
    let mut snapshots = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            _ = snapshots.tick(), if options.snapshot_every.is_some() => {
                print_line(json!({"event": "snapshot", "snapshot": reader.snapshot()}));
            }
            event = events.recv() => match event {
                Some(StrapEvent::Status(status)) => {
                    print_line(json!({"event": "status", "status": status}));
                }
                Some(StrapEvent::Adapters(adapters)) => {
                    print_line(json!({"event": "adapters", "adapters": adapters}));
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
    print_line(json!({"event": "snapshot", "snapshot": reader.snapshot()}));
    reader.shutdown().await;
    print_line(json!({"event": "stopped"}));
    ExitCode::SUCCESS
}
