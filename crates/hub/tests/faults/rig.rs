//! What the store-fault tests share: a `synchub serve` whose data directory sits on a file
//! system only its private mount namespace sees (a small tmpfs, or ext4 on a loop device), phones
//! that keep a ledger of what the hub acknowledged and resend the rest, and the check that the
//! database holds every acknowledged batch exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{http_json, http_text, now_ms, read_ready_port};

/// Beats per batch; every stored batch must have exactly this many rows. A batch every 400 ms
/// of two ~200 ms beats keeps the phone's beat time at the pace of real time, as the hub
/// requires (each beat is stored once; beats cannot outrun time).
pub const BEATS_PER_BATCH: usize = 2;

/// How long the tests wait for any one state of the hub.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// `unshare -m` works here (root, or a kernel that lets us): else the tests say so and skip.
pub fn mount_namespaces_available() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Loop devices and ext4 work inside a private mount namespace here (root with loop devices,
/// `mkfs.ext4` and `e2fsck` installed): else the ext4 tests say so and skip.
pub fn ext4_on_loop_available() -> bool {
    let tools = ["mkfs.ext4", "e2fsck", "losetup", "python3"]
        .iter()
        .all(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        });
    tools && Path::new("/dev/loop-control").exists() && mount_namespaces_available()
}

/// The file system under the hub's data directory.
#[derive(Debug, Clone, Copy)]
pub enum DataDisk {
    /// A tmpfs of this size (`24m`), mounted at the data directory itself: it can be filled
    /// and remounted read-only.
    Tmpfs(&'static str),
    /// ext4 (`errors=remount-ro`, as distributions mount it) on a loop device over a sparse
    /// image of this size; the data directory is a folder on it, so while the file system is
    /// unmounted for repair the directory does not exist and nothing can be written in its
    /// place.
    Ext4(&'static str),
}

/// A `synchub serve` whose data directory is on a file system only its mount namespace sees.
pub struct NamespacedHub {
    /// The `unshare`d shell: its pid names the mount namespace, and it copies the data
    /// directory out after the hub exits (the file system vanishes with the namespace).
    shell: Child,
    hub_pid: u32,
    pub port: u16,
    pub token: String,
    /// Where the file system is mounted.
    pub mount: PathBuf,
    /// The hub's data directory (the mount itself for a tmpfs).
    pub data: PathBuf,
    /// ext4 only: the image file behind the loop device.
    image: Option<PathBuf>,
    pub log: Arc<Mutex<String>>,
}

impl NamespacedHub {
    pub fn start(work: &Path, disk: DataDisk) -> NamespacedHub {
        use std::io::BufRead as _;
        let mount = work.join("mnt");
        let backing = work.join("backing");
        let copy = work.join("copy");
        for dir in [&mount, &backing, &copy] {
            std::fs::create_dir_all(dir).expect("a work directory");
        }
        let (kind, size, data, image) = match disk {
            DataDisk::Tmpfs(size) => ("tmpfs", size, mount.clone(), None),
            DataDisk::Ext4(size) => (
                "ext4",
                size,
                mount.join("hub"),
                Some(backing.join("disk.img")),
            ),
        };
        let pid_file = work.join("hub.pid");
        let script = r#"
            set -e
            if [ "$KIND" = tmpfs ]; then
                mount -t tmpfs -o "size=$SIZE,mode=0700" tmpfs "$MOUNT"
            else
                mount -t tmpfs -o "size=256m,mode=0700" tmpfs "$BACKING"
                truncate -s "$SIZE" "$IMAGE"
                mkfs.ext4 -q -F "$IMAGE"
                mount -o loop,errors=remount-ro "$IMAGE" "$MOUNT"
                mkdir -m 0700 "$DATA"
            fi
            "$HUB" serve --bind 127.0.0.1 --port 0 --no-mdns --no-room-code --schedule manual \
                --min-free-disk-mb 1 --data-dir "$DATA" &
            echo $! > "$PID_FILE"
            status=0
            wait $! || status=$?
            cp -a "$DATA"/. "$COPY"/ || status=97
            umount "$MOUNT" || true
            exit $status
        "#;
        let mut shell = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script])
            .env("KIND", kind)
            .env("SIZE", size)
            .env("MOUNT", &mount)
            .env("BACKING", &backing)
            .env("IMAGE", image.clone().unwrap_or_default())
            .env("DATA", &data)
            .env("COPY", &copy)
            .env("PID_FILE", &pid_file)
            .env("HUB", env!("CARGO_BIN_EXE_synchub"))
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
            data,
            image,
            log,
        };
        hub.token = hub.inside(&format!("cat {}/admin_token", hub.data.display()));
        hub
    }

    /// Runs `script` with `sh` inside the hub's mount namespace; its standard output.
    pub fn inside(&self, script: &str) -> String {
        let output = Command::new("nsenter")
            .args(["-t", &self.shell.id().to_string(), "-m", "sh", "-c", script])
            .output()
            .expect("nsenter runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Like [`Self::inside`], but the script must succeed.
    pub fn inside_ok(&self, script: &str) -> bool {
        Command::new("nsenter")
            .args(["-t", &self.shell.id().to_string(), "-m", "sh", "-c", script])
            .stderr(Stdio::null())
            .status()
            .expect("nsenter runs")
            .success()
    }

    pub fn fill_disk(&self) {
        // dd stops with "No space left on device": that is the point.
        self.inside(&format!(
            "dd if=/dev/zero of={}/filler bs=64k 2>/dev/null; sync",
            self.data.display()
        ));
    }

    pub fn free_disk(&self) {
        assert!(
            self.inside_ok(&format!("rm -f {}/filler", self.data.display())),
            "removing the filler"
        );
    }

    /// Remounts the tmpfs `ro` or `rw`, retrying while the kernel says the mount is busy (the
    /// hub reopens its database for a moment on each retry).
    pub fn remount(&self, mode: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.inside_ok(&format!("mount -o remount,{mode} {}", self.mount.display())) {
            assert!(
                Instant::now() < deadline,
                "could not remount {mode} within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// ext4: the file system detects an error (what a bad block or a corrupt journal does) and,
    /// as `errors=remount-ro` says, turns itself read-only at once, under the hub's open files.
    /// Uses ext4's own `trigger_fs_error` switch in sysfs.
    pub fn ext4_error(&self) {
        assert!(
            self.inside_ok(&format!(
                "dev=$(findmnt -no SOURCE {mount}); \
                 echo 'fault test' > /sys/fs/ext4/$(basename $dev)/trigger_fs_error; \
                 findmnt -no OPTIONS {mount} | grep -q emergency_ro",
                mount = self.mount.display()
            )),
            "ext4 did not turn read-only"
        );
    }

    /// ext4: the file system shuts down (`EXT4_IOC_SHUTDOWN` without flushing its journal, the
    /// state ext4 enters when its disk stops answering): every read and write on it fails
    /// with EIO from then on.
    pub fn ext4_shutdown(&self) {
        let script = format!(
            "python3 -c 'import fcntl, os, struct; \
             fcntl.ioctl(os.open(\"{}\", os.O_RDONLY), 0x8004587d, struct.pack(\"I\", 2))' && \
             ! touch {}/probe 2>/dev/null",
            self.mount.display(),
            self.mount.display()
        );
        assert!(self.inside_ok(&script), "ext4 did not shut down");
    }

    /// ext4: what an administrator does after an error or a shutdown — unmount (retried while
    /// the hub briefly holds a file on it), check and repair (`e2fsck -fy`), mount again. The
    /// hub is not restarted.
    pub fn ext4_repair(&self) {
        let image = self.image.as_ref().expect("an ext4 data disk");
        let deadline = Instant::now() + PATIENCE;
        while !self.inside_ok(&format!("umount {}", self.mount.display())) {
            assert!(
                Instant::now() < deadline,
                "could not unmount within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // e2fsck: 0 = clean, 1 = errors corrected.
        assert!(
            self.inside_ok(&format!(
                "e2fsck -fy {image} >/dev/null 2>&1; test $? -le 1",
                image = image.display()
            )),
            "e2fsck could not repair the image"
        );
        assert!(
            self.inside_ok(&format!(
                "mount -o loop,errors=remount-ro {} {}",
                image.display(),
                self.mount.display()
            )),
            "mounting the repaired file system"
        );
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        http_json(self.port, "GET", path, &self.token, None)
    }

    pub fn metrics(&self) -> String {
        http_text(self.port, "GET", "/metrics", &self.token, None).1
    }

    /// Polls until `check` holds on `GET path`; the time it took.
    pub fn wait_for(
        &self,
        what: &str,
        path: &str,
        check: impl FnMut(u16, &Value) -> bool,
    ) -> Duration {
        wait_for(self.port, &self.token, &self.log, what, path, check)
    }

    /// SIGTERM to the hub; its exit status (the shell exits with it after copying the data).
    pub fn stop(mut self) -> std::process::ExitStatus {
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

/// Polls `GET path` on the hub at `port` until `check` holds; the time it took. Fails with the
/// hub's log after [`PATIENCE`].
pub fn wait_for(
    port: u16,
    token: &str,
    log: &Mutex<String>,
    what: &str,
    path: &str,
    mut check: impl FnMut(u16, &Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = http_json(port, "GET", path, token, None);
        if check(status, &body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}; last {path}: {status} {body}\n{}",
            log.lock().expect("log lock")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What one simulated phone saw.
#[derive(Default)]
pub struct Ledger {
    pub participant_id: String,
    /// Batches sent and not yet acknowledged, by `seq`: the phone keeps and resends them.
    pub unacked: BTreeMap<u64, Value>,
    pub acked: BTreeSet<u64>,
    /// `rr_ack`s for a `seq` already acknowledged (allowed after a resend; counted).
    pub repeated_acks: u64,
    pub refused_store_unavailable: u64,
    pub other_errors: Vec<Value>,
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

/// A few phones sending batches with `seq` to one hub, each with its ledger.
pub struct Phones {
    pub ledgers: Vec<Arc<Mutex<Ledger>>>,
    producing: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Phones {
    /// `count` phones (`phone-0`, …) join the hub at `port` and start sending.
    pub fn start(port: u16, count: usize) -> Phones {
        let producing = Arc::new(AtomicBool::new(true));
        let running = Arc::new(AtomicBool::new(true));
        let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..count).map(|_| Arc::default()).collect();
        let tasks = ledgers
            .iter()
            .enumerate()
            .map(|(index, ledger)| {
                tokio::spawn(phone(
                    port,
                    format!("phone-{index}"),
                    producing.clone(),
                    running.clone(),
                    ledger.clone(),
                ))
            })
            .collect();
        Phones {
            ledgers,
            producing,
            running,
            tasks,
        }
    }

    /// Batches acknowledged so far, all phones together.
    pub fn acked(&self) -> usize {
        self.ledgers
            .iter()
            .map(|ledger| ledger.lock().expect("ledger lock").acked.len())
            .sum()
    }

    /// `store_unavailable` refusals heard so far, all phones together.
    pub fn refused(&self) -> u64 {
        self.ledgers
            .iter()
            .map(|ledger| {
                ledger
                    .lock()
                    .expect("ledger lock")
                    .refused_store_unavailable
            })
            .sum()
    }

    /// Waits until `count` more batches than now are acknowledged.
    pub async fn wait_for_more_acks(&self, count: usize, what: &str) {
        let target = self.acked() + count;
        let deadline = Instant::now() + PATIENCE;
        while self.acked() < target {
            assert!(
                Instant::now() < deadline,
                "{what}: acknowledgements stopped"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops making batches, waits until every batch the phones hold is acknowledged, and
    /// hangs up.
    pub async fn drain_and_stop(self) -> Vec<Arc<Mutex<Ledger>>> {
        self.producing.store(false, Ordering::Release);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let waiting: usize = self
                .ledgers
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
        self.running.store(false, Ordering::Release);
        for task in self.tasks {
            task.await.expect("a phone task");
        }
        self.ledgers
    }
}

/// The database at `database` passes `PRAGMA integrity_check` and holds exactly the batches
/// each phone saw acknowledged, each exactly once and whole; no phone heard an error other
/// than `store_unavailable`. Returns (batches acknowledged, `store_unavailable` refusals).
pub fn check_ledgers_against(database: &Path, ledgers: &[Arc<Mutex<Ledger>>]) -> (usize, u64) {
    let connection = rusqlite::Connection::open(database).expect("the database opens");
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    let mut total_acked = 0;
    let mut total_refused = 0;
    for ledger in ledgers {
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
    (total_acked, total_refused)
}

pub fn has_problem(body: &Value, code: &str) -> bool {
    body["problems"]
        .as_array()
        .is_some_and(|problems| problems.iter().any(|problem| problem["code"] == code))
}

pub fn store_fault_kind(body: &Value) -> Option<String> {
    body["store"]["fault"]["kind"].as_str().map(str::to_owned)
}

pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}
