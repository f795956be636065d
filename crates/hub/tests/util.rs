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
        central_sync: None,
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

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
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
