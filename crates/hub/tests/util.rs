//! Running the real `synchub` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (examples live there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `synchub` with `args` from the repository root.
pub fn synchub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synchub"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("the synchub binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

// ----- A hub in this process, and clients of it -------------------------------------------

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use synchub::config::HubConfig;
use synchub::engine_task::AdminCommand;
use synchub::serve::RunningHub;
use synchub_session::record::ScheduleMode;
use synchub_session::{PhaseDurations, ScheduleConfig};
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for any one expected message before failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// A hub on 127.0.0.1 (free port, no mDNS) in a fresh data directory, manual schedule.
pub fn test_config(data_dir: &Path, room_code: Option<&str>) -> HubConfig {
    HubConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        data_dir: Some(data_dir.to_path_buf()),
        room_name: "Test room".to_owned(),
        room_code: room_code.map(str::to_owned),
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations {
                preparation_secs: 1,
                active_secs: 600,
                integration_secs: 1,
            },
        },
        mdns: None,
        max_participants: None,
        caps: synchub::server::caps::CapsConfig::default(),
        central_sync: None,
        sync_timeout: None,
        ble: false,
        ble_links_per_adapter: synchub_ble::DEFAULT_LINKS_PER_ADAPTER,
        admin_remote: false,
        // A shared CI disk may be fuller than a laptop's; the fault tests set their own.
        min_free_disk_bytes: 0,
    }
}

/// A running hub with a session started, and the directory it stores into.
pub struct TestHub {
    pub hub: RunningHub,
    /// Kept so the directory lives as long as the hub (removed on drop).
    _dir: tempfile::TempDir,
    /// The hub's SQLite database.
    pub database: PathBuf,
}

impl TestHub {
    pub async fn start(room_code: Option<&str>) -> TestHub {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let hub = synchub::serve::start(test_config(dir.path(), room_code))
            .await
            .expect("the hub starts");
        hub.state
            .engine
            .admin(AdminCommand::StartSession)
            .await
            .expect("the engine answers")
            .expect("a session starts");
        let database = dir.path().join("synchub.sqlite3");
        TestHub {
            hub,
            _dir: dir,
            database,
        }
    }

    pub fn port(&self) -> u16 {
        self.hub.local_addr.port()
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://127.0.0.1:{}/ws{query}", self.port())
    }

    /// Ends the running session as the facilitator does, and returns its id.
    pub async fn end_session(&self) -> synchub_session::SessionId {
        let session = self
            .hub
            .state
            .engine
            .view
            .borrow()
            .session
            .as_ref()
            .expect("a running session")
            .session_id;
        self.hub
            .state
            .engine
            .admin(|reply| AdminCommand::End(session, reply))
            .await
            .expect("the engine answers")
            .expect("the session ends");
        session
    }
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A plain-WebSocket client of `/ws` speaking `{"event","data"}` frames.
pub struct WsClient {
    stream: WsStream,
}

impl WsClient {
    pub async fn connect(url: &str) -> WsClient {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the WebSocket connects");
        WsClient { stream }
    }

    /// Connects to `/ws{query}` of the hub at `hub` from the local address `source` (the
    /// socket is bound to it first, so the hub sees that address). An error when the hub
    /// refuses or closes the connection before the upgrade.
    pub async fn connect_from(
        source: std::net::IpAddr,
        hub: std::net::SocketAddr,
        query: &str,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let socket = match source {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }?;
        socket.bind(std::net::SocketAddr::new(source, 0))?;
        let tcp = tokio::time::timeout(WAIT, socket.connect(hub))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let url = format!("ws://{hub}/ws{query}");
        let (stream, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(tcp)),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        Ok(WsClient { stream })
    }

    pub async fn send(&mut self, event: &str, data: Value) {
        self.send_text(&json!({"event": event, "data": data}).to_string())
            .await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("the frame is sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::binary(bytes))
            .await
            .expect("the frame is sent");
    }

    /// Starts a masked text frame whose header announces `announced` bytes and sends the first
    /// `sent` of them, straight onto the socket: a client about to send a huge frame.
    pub async fn send_frame_start(&mut self, announced: u64, sent: usize) {
        use tokio::io::AsyncWriteExt as _;
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = self.stream.get_mut() else {
            unreachable!("tests use plain ws://");
        };
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&announced.to_be_bytes());
        frame.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        frame.resize(frame.len() + sent, b'x' ^ 0x12);
        // The hub may close before taking it all; what it answered is read after.
        let _ = tcp.write_all(&frame).await;
    }

    /// The next event, or `None` when the connection closed.
    pub async fn next_event(&mut self) -> Option<(String, Value)> {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a message arrives in time")?
                .ok()?;
            match message {
                Message::Text(text) => {
                    let frame: Value =
                        serde_json::from_str(text.as_str()).expect("the hub sends JSON");
                    let event = frame["event"]
                        .as_str()
                        .expect("frames name their event")
                        .to_owned();
                    return Some((event, frame["data"].clone()));
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Skips other events until `event` arrives; its data. An `error` while waiting for
    /// something else fails the test with that error, and so does waiting longer than [`WAIT`].
    pub async fn expect(&mut self, event: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.next_event())
                .await
                .unwrap_or_else(|_| panic!("no {event} within {WAIT:?}"));
            match next {
                Some((name, data)) if name == event => return data,
                Some((name, data)) if name == "error" => {
                    panic!("got an error while waiting for {event}: {data}")
                }
                Some(_) => {}
                None => panic!("the connection closed while waiting for {event}"),
            }
        }
    }

    /// Joins and returns `session_joined`'s data.
    pub async fn join(&mut self) -> Value {
        self.send(
            "join_session",
            json!({"intention": "grief", "device": {"kind": "sim"}}),
        )
        .await;
        self.expect("session_joined").await
    }

    /// Closes as a well-behaved client does: sends the close frame, then reads until the hub
    /// answers it. Dropping a socket that still has unread frames (the hub's broadcasts) makes
    /// the kernel reset the connection, and a reset throws away what the hub had received but
    /// not yet read — a `leave_session` sent just before, which the hub then never sees and
    /// takes the close for a dropped connection.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis(),
    )
    .expect("fits")
}

/// Counts rows of `table` (optionally filtered) in a hub's database.
pub fn count_rows(database: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(database).expect("the database opens");
    connection
        .query_row(sql, [], |row| row.get(0))
        .expect("the count query runs")
}

/// A minimal HTTP/1.1 request with an optional JSON body (tests need a few calls to a hub
/// process; no client library for that). Returns the status and the body parsed as JSON
/// (`Null` when empty or not JSON; the hub answers JSON with a length, never chunked).
pub fn http_json(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, content) = http_text(port, method, path, token, body);
    (
        status,
        serde_json::from_str(&content).unwrap_or(Value::Null),
    )
}

/// [`http_json`] with the body as text (`/metrics`).
pub fn http_text(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts TCP");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let content = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, content)| content);
    (status, content.to_owned())
}

/// Lines a child wrote to one pipe so far, collected on a thread ([`collect_lines`]).
pub type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Collects what a child writes to one of its pipes line by line, on a thread, for tests that
/// look at where in the output something appeared.
pub fn collect_lines(pipe: impl std::io::Read + Send + 'static) -> Lines {
    use std::io::BufRead as _;
    let lines: Lines = std::sync::Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().expect("lines lock").push(line);
        }
    });
    lines
}

/// The lines collected so far.
pub fn snapshot(lines: &Lines) -> Vec<String> {
    lines.lock().expect("lines lock").clone()
}

/// Collects what a child writes to one of its pipes, on a thread, so the pipe never fills.
fn collect(
    pipe: impl std::io::Read + Send + 'static,
) -> (
    std::sync::Arc<std::sync::Mutex<String>>,
    std::thread::JoinHandle<()>,
) {
    use std::io::BufRead as _;
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        let mut pipe = std::io::BufReader::new(pipe);
        let mut line = String::new();
        while pipe.read_line(&mut line).is_ok_and(|read| read > 0) {
            sink.lock().expect("pipe text lock").push_str(&line);
            line.clear();
        }
    });
    (text, reader)
}

/// `synchub serve` as a child process on a free loopback port (manual schedule, no room code,
/// no mDNS), with extra flags and environment variables. Killed when dropped.
pub struct HubProcess {
    child: std::process::Child,
    pub port: u16,
    pub token: String,
    dir: Option<tempfile::TempDir>,
    /// Everything the hub logged so far.
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// What it printed after the ready line.
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// A hub process after SIGTERM.
pub struct StoppedHub {
    pub exit: std::process::ExitStatus,
    pub log: String,
    /// Standard output after the ready line.
    pub stdout: String,
    pub dir: tempfile::TempDir,
}

impl HubProcess {
    pub fn start(extra_args: &[&str], env: &[(&str, &str)]) -> HubProcess {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self::start_in(dir, extra_args, env)
    }

    /// [`HubProcess::start`] on an existing data directory (a restart).
    pub fn start_in(
        dir: tempfile::TempDir,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> HubProcess {
        Self::start_bound(dir, "127.0.0.1", extra_args, env)
    }

    /// [`HubProcess::start_in`] listening on `bind` (`0.0.0.0`: every address, inside a
    /// private network namespace); [`HubProcess::call`] still goes through loopback.
    pub fn start_bound(
        dir: tempfile::TempDir,
        bind: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> HubProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_synchub"));
        command
            .args([
                "serve",
                "--bind",
                bind,
                "--port",
                "0",
                "--no-mdns",
                "--no-room-code",
                "--schedule",
                "manual",
            ])
            .args(extra_args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("SYNCHUB_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("synchub serve starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let port = read_ready_port(&mut stdout);
        let (stdout, stdout_reader) = collect(stdout);
        let (log, log_reader) = collect(child.stderr.take().expect("piped stderr"));
        let token = std::fs::read_to_string(dir.path().join("admin_token"))
            .expect("the admin token is written")
            .trim()
            .to_owned();
        HubProcess {
            child,
            port,
            token,
            dir: Some(dir),
            log,
            stdout,
            readers: vec![stdout_reader, log_reader],
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http_json(self.port, method, path, &self.token, body)
    }

    /// The hub's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.as_ref().expect("the data directory").path()
    }

    /// The hub's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the hub logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits for the hub to exit by itself; `None` if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(exit) = self.child.try_wait().expect("the hub's status") {
                for reader in self.readers.drain(..) {
                    reader.join().expect("a pipe reader");
                }
                return Some(exit);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The data directory, taken back after the hub exited (to restart on it).
    pub fn take_dir(&mut self) -> tempfile::TempDir {
        self.dir.take().expect("the data directory")
    }

    /// SIGTERM; fails the test when the hub has not exited 20 s later.
    pub fn stop(mut self) -> StoppedHub {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM was not delivered");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("the hub's status") {
                break exit;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // Both pipes are closed once the process is gone: the readers finish.
        for reader in self.readers.drain(..) {
            reader.join().expect("a pipe reader");
        }
        StoppedHub {
            exit,
            log: self.log(),
            stdout: self.stdout.lock().expect("stdout lock").clone(),
            dir: self.dir.take().expect("the data directory"),
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in `synchub serve`'s first line on stdout ("synchub ready on http://127.0.0.1:PORT"),
/// which it prints once it listens.
pub fn read_ready_port(stdout: &mut impl std::io::BufRead) -> u16 {
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("a ready line");
    // `http://127.0.0.1:PORT`, or the LAN address for a hub bound to every address.
    ready
        .trim()
        .strip_prefix("synchub ready on http://")
        .and_then(|address| address.rsplit_once(':'))
        .unwrap_or_else(|| panic!("unexpected first line: {ready:?}"))
        .1
        .parse()
        .expect("a port number")
}

/// Set in the environment of a test binary rerun by [`rerun_in_private_network_namespace`].
pub const INSIDE_PRIVATE_NETNS: &str = "SYNCHUB_TEST_IN_PRIVATE_NETNS";

/// Runs the test `name` of this binary again inside a private network namespace (`unshare
/// -rn`), after the shell commands `setup` (at least `ip link set lo up`), with
/// [`INSIDE_PRIVATE_NETNS`] set; fails unless the inner run passed that one test. Nothing the
/// inner test does on the network leaves the namespace.
#[allow(clippy::print_stderr)] // The inner test's figures.
pub fn rerun_in_private_network_namespace(name: &str, setup: &str) {
    let test_binary = std::env::current_exe().expect("the test binary");
    let script = format!("{setup} && exec \"$0\" \"$@\"");
    let output = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script])
        .arg(test_binary)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE_PRIVATE_NETNS, "1")
        .output()
        .expect("unshare runs");
    assert!(
        output.status.success(),
        "inside the namespace:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the inner test ran"
    );
    // What the inner test measured (shown with --no-capture, like any test's output).
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}
