//! Real store faults against a real `synchub serve`: its data directory is a small tmpfs in a
//! private mount namespace (`unshare -m`), which the test fills, frees, remounts read-only and
//! read-write again from inside that namespace (`nsenter -m`), while phones send beat batches
//! with `seq` and resend every batch until it is acknowledged, as real phones do.
//!
//! Afterwards every acknowledged batch is in the database exactly once, every batch a phone
//! held is acknowledged (resent and stored), the database passes `PRAGMA integrity_check`, and
//! `/health` was 503 with the reason during each fault and 200 after.
//!
//! The kernel refuses to remount a file system read-only while a process has a file on it open
//! for writing, and so a read-only remount under a healthy hub is impossible; the hub closes
//! its database while the store cannot write, so the test remounts it read-only while the disk
//! is full, which is also the order in which a full disk then turns read-only in real life.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::util::{http_json, http_text, now_ms, read_ready_port};

/// Size of the data directory's file system: room for the database of this test and little more.
const TMPFS_SIZE: &str = "24m";

/// Beats per batch; every stored batch must have exactly this many rows. A batch every 400 ms
/// of two ~200 ms beats keeps the phone's beat time at the pace of real time, as the hub
/// requires (each beat is stored once; beats cannot outrun time).
const BEATS_PER_BATCH: usize = 2;

/// How long the test waits for any one state of the hub.
const PATIENCE: Duration = Duration::from_secs(90);

/// `unshare -m` works here (root, or a kernel that lets us): else the test says so and skips.
fn mount_namespaces_available() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A `synchub serve` whose data directory is a tmpfs only its mount namespace sees.
struct NamespacedHub {
    /// The `unshare`d shell: its pid names the mount namespace, and it copies the data
    /// directory out after the hub exits (the tmpfs vanishes with the namespace).
    shell: Child,
    hub_pid: u32,
    port: u16,
    token: String,
    mount: PathBuf,
    log: Arc<Mutex<String>>,
}

impl NamespacedHub {
    fn start(work: &Path) -> NamespacedHub {
        use std::io::BufRead as _;
        let mount = work.join("data");
        let copy = work.join("copy");
        std::fs::create_dir_all(&mount).expect("mount point");
        std::fs::create_dir_all(&copy).expect("copy directory");
        let pid_file = work.join("hub.pid");
        let script = r#"
            set -e
            mount -t tmpfs -o "size=$4,mode=0700" tmpfs "$1"
            "$2" serve --bind 127.0.0.1 --port 0 --no-mdns --no-room-code --schedule manual \
                --min-free-disk-mb 1 --data-dir "$1" &
            echo $! > "$5"
            status=0
            wait $! || status=$?
            cp -a "$1"/. "$3"/
            exit $status
        "#;
        let mut shell = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
            .arg(&mount)
            .arg(env!("CARGO_BIN_EXE_synchub"))
            .arg(&copy)
            .arg(TMPFS_SIZE)
            .arg(&pid_file)
            .env_remove("SYNCHUB_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare runs");
        let mut stdout = std::io::BufReader::new(shell.stdout.take().expect("piped stdout"));
        let port = read_ready_port(&mut stdout);
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = shell.stderr.take().expect("piped stderr");
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    let mut log = log.lock().expect("log lock");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        std::thread::spawn(move || for _ in stdout.lines() {});
        let hub_pid = std::fs::read_to_string(&pid_file)
            .expect("the hub's pid")
            .trim()
            .parse()
            .expect("a pid");
        let mut hub = NamespacedHub {
            shell,
            hub_pid,
            port,
            token: String::new(),
            mount,
            log,
        };
        hub.token = hub.inside(&format!("cat {}/admin_token", hub.mount.display()));
        hub
    }

    /// Runs `script` with `sh` inside the hub's mount namespace; its standard output.
    fn inside(&self, script: &str) -> String {
        let output = Command::new("nsenter")
            .args(["-t", &self.shell.id().to_string(), "-m", "sh", "-c", script])
            .output()
            .expect("nsenter runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Like [`Self::inside`], but the script must succeed.
    fn inside_ok(&self, script: &str) -> bool {
        Command::new("nsenter")
            .args(["-t", &self.shell.id().to_string(), "-m", "sh", "-c", script])
            .stderr(Stdio::null())
            .status()
            .expect("nsenter runs")
            .success()
    }

    fn fill_disk(&self) {
        // dd stops with "No space left on device": that is the point.
        self.inside(&format!(
            "dd if=/dev/zero of={}/filler bs=64k 2>/dev/null; sync",
            self.mount.display()
        ));
    }

    fn free_disk(&self) {
        assert!(
            self.inside_ok(&format!("rm -f {}/filler", self.mount.display())),
            "removing the filler"
        );
    }

    /// Remounts read-only, retrying while the kernel says the mount is busy (the hub reopens
    /// its database for a moment on each retry).
    fn remount(&self, mode: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.inside_ok(&format!("mount -o remount,{mode} {}", self.mount.display())) {
            assert!(
                Instant::now() < deadline,
                "could not remount {mode} within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        http_json(self.port, "GET", path, &self.token, None)
    }

    fn metrics(&self) -> String {
        http_text(self.port, "GET", "/metrics", &self.token, None).1
    }

    /// Polls until `check` holds on `GET path`; the time it took.
    fn wait_for(&self, what: &str, path: &str, check: impl Fn(u16, &Value) -> bool) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path);
            if check(status, &body) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: not within {PATIENCE:?}; last {path}: {status} {body}\n{}",
                self.log.lock().expect("log lock")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM to the hub; its exit status (the shell exits with it after copying the data).
    fn stop(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.hub_pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was not delivered");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.shell.try_wait().expect("the shell's status") {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NamespacedHub {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.hub_pid.to_string()])
            .status();
        let _ = self.shell.wait();
    }
}

/// What one simulated phone saw.
#[derive(Default)]
struct Ledger {
    participant_id: String,
    /// Batches sent and not yet acknowledged, by `seq`: the phone keeps and resends them.
    unacked: BTreeMap<u64, Value>,
    acked: BTreeSet<u64>,
    /// `rr_ack`s for a `seq` already acknowledged (allowed after a resend; counted).
    repeated_acks: u64,
    refused_store_unavailable: u64,
    other_errors: Vec<Value>,
}

/// A phone: a new batch every 400 ms while `producing`, every unacknowledged batch resent
/// every second, acknowledgements and errors written to its ledger.
async fn phone(
    port: u16,
    name: String,
    producing: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
) {
    let url = format!("ws://127.0.0.1:{port}/ws?userId={name}");
    let (stream, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the WebSocket connects");
    let (mut sink, mut source) = stream.split();
    let join = json!({"event": "join_session", "data": {"device": {"kind": "sim"}}});
    sink.send(Message::text(join.to_string()))
        .await
        .expect("join is sent");
    let reader_ledger = ledger.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = source.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str()).expect("JSON from the hub");
            let mut ledger = reader_ledger.lock().expect("ledger lock");
            match frame["event"].as_str() {
                Some("session_joined") => {
                    ledger.participant_id = frame["data"]["participantId"]
                        .as_str()
                        .expect("a participant id")
                        .to_owned();
                }
                Some("rr_ack") => {
                    let seq = frame["data"]["seq"].as_u64().expect("an acked seq");
                    ledger.unacked.remove(&seq);
                    if !ledger.acked.insert(seq) {
                        ledger.repeated_acks += 1;
                    }
                }
                Some("error") if frame["data"]["code"] == "store_unavailable" => {
                    ledger.refused_store_unavailable += 1;
                }
                Some("error") => ledger.other_errors.push(frame["data"].clone()),
                _ => {}
            }
        }
    });
    let mut seq = 0_u64;
    // The phone's own beat clock: consecutive batches, starting a minute back.
    #[allow(clippy::cast_precision_loss)]
    let mut beat_clock_ms = now_ms() as f64 - 60_000.0;
    let mut tick = tokio::time::interval(Duration::from_millis(400));
    let mut last_resend = Instant::now();
    while running.load(Ordering::Acquire) {
        tick.tick().await;
        let mut frames = Vec::new();
        {
            let mut ledger = ledger.lock().expect("ledger lock");
            if ledger.participant_id.is_empty() {
                continue;
            }
            if last_resend.elapsed() >= Duration::from_secs(1) {
                frames.extend(ledger.unacked.values().cloned());
                last_resend = Instant::now();
            }
            if producing.load(Ordering::Acquire) {
                seq += 1;
                #[allow(clippy::cast_precision_loss)]
                let rr_ms = 200.0 + (seq % 7) as f64;
                beat_clock_ms += rr_ms * 2.0; // BEATS_PER_BATCH beats
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ended_at_ms = beat_clock_ms.round() as u64;
                let frame = json!({"event": "rr_intervals", "data": {
                    "rr": vec![rr_ms; BEATS_PER_BATCH],
                    "endedAt": ended_at_ms,
                    "seq": seq,
                }});
                ledger.unacked.insert(seq, frame.clone());
                frames.push(frame);
            }
        }
        for frame in frames {
            sink.send(Message::text(frame.to_string()))
                .await
                .expect("a frame is sent");
        }
    }
    let _ = sink.close().await;
    reader.abort();
}

fn has_problem(body: &Value, code: &str) -> bool {
    body["problems"]
        .as_array()
        .is_some_and(|problems| problems.iter().any(|problem| problem["code"] == code))
}

fn store_fault_kind(body: &Value) -> Option<String> {
    body["store"]["fault"]["kind"].as_str().map(str::to_owned)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_and_read_only_lose_no_beat_and_the_hub_recovers_by_itself() {
    if !mount_namespaces_available() {
        eprintln!(
            "SKIPPED: `unshare -m` is not available (needs root or user namespaces); \
             this test puts the hub's data directory on a tmpfs in a private mount namespace"
        );
        return;
    }
    let work = tempfile::tempdir().expect("a work directory");
    let hub = NamespacedHub::start(work.path());
    let (status, started) = http_json(hub.port, "POST", "/api/sessions", &hub.token, None);
    assert_eq!(status, 201, "{started}");
    hub.wait_for("healthy at start", "/health", |status, _| status == 200);

    let producing = Arc::new(AtomicBool::new(true));
    let running = Arc::new(AtomicBool::new(true));
    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..5).map(|_| Arc::default()).collect();
    let phones: Vec<_> = ledgers
        .iter()
        .enumerate()
        .map(|(index, ledger)| {
            tokio::spawn(phone(
                hub.port,
                format!("phone-{index}"),
                producing.clone(),
                running.clone(),
                ledger.clone(),
            ))
        })
        .collect();
    let acked = |ledgers: &[Arc<Mutex<Ledger>>]| -> usize {
        ledgers
            .iter()
            .map(|ledger| ledger.lock().expect("ledger lock").acked.len())
            .sum()
    };
    let hub = Arc::new(hub);
    let blocking = |job: Box<dyn FnOnce(&NamespacedHub) -> Duration + Send>| {
        let hub = hub.clone();
        async move {
            tokio::task::spawn_blocking(move || job(&hub))
                .await
                .expect("a blocking step")
        }
    };
    // Steady state first: acknowledgements flow.
    let deadline = Instant::now() + PATIENCE;
    while acked(&ledgers) < 20 {
        assert!(Instant::now() < deadline, "no acknowledgements at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Fault 1: the disk fills up.
    let to_red = blocking(Box::new(|hub| {
        hub.fill_disk();
        let to_red = hub.wait_for("503 while the disk is full", "/health", |status, body| {
            status == 503 && has_problem(body, "store_cannot_write")
        });
        hub.wait_for("the fault named", "/api/hub", |_, body| {
            store_fault_kind(body).as_deref() == Some("disk_full")
        });
        to_red
    }))
    .await;
    // Phones are refused meanwhile: give them a few batches' time to hear it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recovery_full = blocking(Box::new(|hub| {
        hub.free_disk();
        hub.wait_for("200 after space returns", "/health", |status, _| {
            status == 200
        })
    }))
    .await;

    // Fault 2: full again, then read-only, then read-write and freed.
    let kinds = blocking(Box::new(|hub| {
        hub.fill_disk();
        hub.wait_for("503 on the second fill", "/health", |status, body| {
            status == 503 && has_problem(body, "store_cannot_write")
        });
        hub.remount("ro");
        hub.wait_for("the read-only disk named", "/api/hub", |_, body| {
            store_fault_kind(body).as_deref() == Some("read_only")
        });
        let (status, _) = hub.get("/health");
        assert_eq!(status, 503, "red while read-only");
        hub.remount("rw");
        hub.free_disk();
        hub.wait_for(
            "200 after read-write and space return",
            "/health",
            |status, _| status == 200,
        )
    }))
    .await;

    // Let the phones send a little more, then stop producing and wait for every batch they
    // hold to be acknowledged.
    tokio::time::sleep(Duration::from_secs(2)).await;
    producing.store(false, Ordering::Release);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let waiting: usize = ledgers
            .iter()
            .map(|ledger| ledger.lock().expect("ledger lock").unacked.len())
            .sum();
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} batches still unacknowledged after recovery"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.store(false, Ordering::Release);
    for phone in phones {
        phone.await.expect("a phone task");
    }

    let metrics = hub.metrics();
    assert!(metric(&metrics, "synchub_store_write_errors_total") >= 2.0);
    assert!((metric(&metrics, "synchub_store_writable") - 1.0).abs() < f64::EPSILON);
    assert!(metric(&metrics, "synchub_free_disk_bytes") > 1_000_000.0);
    let log = hub.log.lock().expect("log lock").clone();
    let hub = Arc::try_unwrap(hub).unwrap_or_else(|_| panic!("the hub is still shared"));
    let exit = hub.stop();
    assert!(
        exit.success(),
        "serve exits 0 after SIGTERM: {exit:?}\n{log}"
    );
    assert!(log.contains("the store cannot write"), "{log}");
    assert!(log.contains("the store writes again"), "{log}");

    // The database: whole, and every acknowledged batch in it exactly once.
    let database = work.path().join("copy/synchub.sqlite3");
    let connection = rusqlite::Connection::open(&database).expect("the copied database");
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    let mut total_acked = 0;
    let mut total_refused = 0;
    for ledger in &ledgers {
        let ledger = ledger.lock().expect("ledger lock");
        assert!(ledger.other_errors.is_empty(), "{:?}", ledger.other_errors);
        let mut statement = connection
            .prepare(
                "SELECT batch_seq, count(*) FROM rr_intervals r \
                 JOIN session_participants p ON p.id = r.participant_ref \
                 WHERE p.participant_id = ?1 GROUP BY batch_seq ORDER BY batch_seq",
            )
            .expect("a query");
        let stored: BTreeMap<u64, usize> = statement
            .query_map([&ledger.participant_id], |row| {
                let seq: i64 = row.get(0)?;
                let beats: i64 = row.get(1)?;
                Ok((
                    u64::try_from(seq).expect("a seq"),
                    usize::try_from(beats).expect("a count"),
                ))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("stored batches");
        let stored_seqs: BTreeSet<u64> = stored.keys().copied().collect();
        assert_eq!(stored_seqs, ledger.acked, "stored = acknowledged");
        for (seq, beats) in &stored {
            assert_eq!(*beats, BEATS_PER_BATCH, "batch {seq} stored exactly once");
        }
        total_acked += ledger.acked.len();
        total_refused += ledger.refused_store_unavailable;
    }
    assert!(
        total_refused > 0,
        "phones heard store_unavailable while the disk was full"
    );
    eprintln!(
        "disk full → 503 in {:.1} s; recovered {:.1} s after space returned; read-only episode \
         recovered {:.1} s after read-write and space returned; {total_acked} batches acked = \
         stored; {total_refused} refusals with store_unavailable, all resent and stored",
        to_red.as_secs_f64(),
        recovery_full.as_secs_f64(),
        kinds.as_secs_f64()
    );
}
