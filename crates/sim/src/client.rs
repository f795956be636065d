//! One simulated participant over a real socket: connects, joins, streams its beats (or its
//! scores), survives dropped connections, and records what it saw into [`CrowdStats`].
//!
//! It behaves like the phone clients the hub is built for:
//!
//! 1. connect over the plain WebSocket (`/ws`) or Socket.IO v4 (`/socket.io/`, WebSocket
//!    transport only), with the handshake fields `userId`, `roomCode`, `resumeToken`, `role`;
//! 2. `time_sync {clientTime}` to learn the hub clock offset;
//! 3. `join_session` with an intention, research consent and `device: {kind: "sim"}` — or, when
//!    resuming with a token, wait briefly for the hub's own `session_joined` first;
//! 4. every second, `rr_intervals {rr, seq, endedAt}` with the beats that ended in that second
//!    (or, for score-only participants, `update_coherence` every 5 s like the original clients);
//! 5. on `rr_ack {seq}` forget the batch; batches not acknowledged when the connection drops are
//!    sent again, in order, after reconnecting with the `resumeToken` of `session_joined`.
//!
//! On the plain WebSocket the handshake goes either into the URL query string
//! (`/ws?userId=…&roomCode=…&resumeToken=…&role=participant`, [`WsHandshake::Query`]) or into a
//! first `hello` event with the same fields ([`WsHandshake::Hello`]); a crowd uses both so the
//! hub's two paths are exercised. Over Socket.IO the fields go in the `auth` object of the
//! namespace connect packet, as `socket.io-client` sends them.
//!
//! Hub events are read leniently, field by field, rather than with the strict
//! `synchub_protocol::HubEvent` decoder: the simulator measures the hub and must keep working
//! while additive fields come and go. What it sends is built from the protocol's own types.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use synchub_hrv::CoherenceAnalyzer;
use synchub_protocol::{
    ClientEvent, Consent, Device, DeviceKind, Handshake, Intention, IntentionCategory, JoinSession,
    Role, RrIntervals, TimeSyncRequest, UpdateCoherence,
};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval_at, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::rr::{Profile, RrStream};
use crate::socketio::{EnginePacket, FramingError, SocketPacket};
use crate::stats::{CrowdStats, SIM_ERROR_PREFIX};

/// Which of the hub's two socket endpoints a participant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain WebSocket at `/ws`, `{"event", "data"}` text frames (the original iOS client).
    Ws,
    /// Socket.IO v4 at `/socket.io/` over the WebSocket transport (the original web client).
    SocketIo,
}

impl Transport {
    /// Lower-case name, as the command line spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::SocketIo => "socketio",
        }
    }
}

/// Where a plain-WebSocket participant puts its handshake fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsHandshake {
    /// In the URL: `/ws?userId=…&roomCode=…&resumeToken=…&role=participant`.
    Query,
    /// In a first `hello` event carrying the same fields.
    Hello,
}

/// What a participant reports to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reporting {
    /// `rr_intervals` batches every second; the hub computes the score.
    RrBatches,
    /// `update_coherence` every 5 s with a score computed here (the original clients).
    ScoresOnly,
}

/// Everything one simulated participant needs.
#[derive(Debug, Clone)]
pub struct ParticipantConfig {
    /// The hub's base URL: `http://127.0.0.1:7878`, `ws://…`, or `host:port`.
    pub hub_url: String,
    /// The room code shown on the projector, when the hub requires one.
    pub room_code: Option<String>,
    /// The client's own id (`userId` of the handshake).
    pub user_id: String,
    /// Socket endpoint.
    pub transport: Transport,
    /// Where the handshake goes on the plain WebSocket (ignored for Socket.IO).
    pub ws_handshake: WsHandshake,
    /// RR batches or scores only.
    pub reporting: Reporting,
    /// Heart-rhythm behaviour.
    pub profile: Profile,
    /// Seed of the participant's physiology and beats.
    pub seed: u64,
    /// Intention sent with `join_session`.
    pub intention: Option<IntentionCategory>,
    /// Research consent sent with `join_session`.
    pub research_consent: bool,
    /// How often an RR batch is sent (1 s in a real room).
    pub batch_interval: Duration,
    /// How often a score-only participant sends `update_coherence` (5 s in the original).
    pub score_interval: Duration,
    /// Give up after this many failed connection attempts in a row.
    pub max_connect_attempts: u32,
    /// Timeout of one connection attempt, handshake included.
    pub connect_timeout: Duration,
    /// When resuming with a token, how long to wait for the hub's own `session_joined` before
    /// sending `join_session` anyway.
    pub resume_wait: Duration,
    /// Beats from before the participant connected that its first batch carries (at most
    /// 4 minutes), the way a phone sends its last minute of beats on joining so the hub can
    /// score it at once instead of after the 64 s warm-up. Score-only participants use them
    /// for their first score. Zero: the stream starts at connection time.
    pub backfill: Duration,
}

impl ParticipantConfig {
    /// A participant with the defaults of a real room: 1 s batches, 5 s scores, RR reporting,
    /// WebSocket with the query-string handshake, consent given, a few retries.
    pub fn new(hub_url: &str, user_id: &str, profile: Profile, seed: u64) -> Self {
        ParticipantConfig {
            hub_url: hub_url.to_owned(),
            room_code: None,
            user_id: user_id.to_owned(),
            transport: Transport::Ws,
            ws_handshake: WsHandshake::Query,
            reporting: Reporting::RrBatches,
            profile,
            seed,
            intention: Some(IntentionCategory::Other),
            research_consent: true,
            batch_interval: Duration::from_secs(1),
            score_interval: Duration::from_secs(5),
            max_connect_attempts: 5,
            connect_timeout: Duration::from_secs(10),
            resume_wait: Duration::from_secs(2),
            backfill: Duration::ZERO,
        }
    }
}

/// Where a crowd is in its life; every participant watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Streaming beats.
    Running,
    /// No new batches; leave once every sent batch is acknowledged.
    Draining,
    /// Leave now.
    Stopped,
}

/// How one participant's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantOutcome {
    /// The id the hub assigned, from the last `session_joined`.
    pub participant_id: Option<String>,
    /// Whether `session_joined` ever arrived.
    pub joined: bool,
    /// Successful connections (1 + reconnections).
    pub connections: u32,
    /// RR batches still unacknowledged at the end.
    pub unacked_batches: usize,
    /// Why the participant stopped early, if it did (a refusal code or a connection error).
    pub failure: Option<String>,
}

/// Why a connection could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub URL is not `http://`, `ws://` or `host:port`.
    #[error("unsupported hub URL {0:?} (expected http://host:port or ws://host:port)")]
    Url(String),
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The Socket.IO framing was broken.
    #[error("socket.io framing: {0}")]
    Framing(#[from] FramingError),
    /// Socket.IO: the hub refused the namespace connection.
    #[error("connection refused by the hub: {0}")]
    Refused(String),
    /// The connection or its handshake took too long.
    #[error("timed out")]
    Timeout,
    /// The hub closed the connection during the handshake.
    #[error("closed during the handshake")]
    Closed,
}

/// Milliseconds since the Unix epoch on this machine's clock, with sub-millisecond precision.
pub fn epoch_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// `http://h:p/`, `ws://h:p` or `h:p` → `ws://h:p` (no TLS: the hub serves a LAN).
pub fn websocket_base_url(hub_url: &str) -> Result<String, ClientError> {
    let trimmed = hub_url.trim().trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("ws://") {
        rest
    } else if trimmed.contains("://") || trimmed.is_empty() {
        return Err(ClientError::Url(hub_url.to_owned()));
    } else {
        trimmed
    };
    if rest.is_empty() || rest.contains('/') {
        return Err(ClientError::Url(hub_url.to_owned()));
    }
    Ok(format!("ws://{rest}"))
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay as they are).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn handshake_of(config: &ParticipantConfig, resume_token: Option<&str>) -> Handshake {
    Handshake {
        user_id: Some(config.user_id.clone()),
        room_code: config.room_code.clone(),
        resume_token: resume_token.map(str::to_owned),
        role: Role::Participant,
    }
}

/// The `/ws` URL with the handshake in its query string.
pub fn ws_query_url(base: &str, handshake: &Handshake) -> String {
    let mut url = format!("{base}/ws?role=participant");
    let fields = [
        ("userId", &handshake.user_id),
        ("roomCode", &handshake.room_code),
        ("resumeToken", &handshake.resume_token),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            url.push('&');
            url.push_str(key);
            url.push('=');
            url.push_str(&percent_encode(value));
        }
    }
    url
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket with Nagle's algorithm off, as browsers and the `ws` package of
/// `socket.io-client` do: otherwise a small frame can wait ~40 ms for the previous one's
/// delayed ACK, and the benchmark would measure TCP timers instead of the hub.
async fn connect(url: String) -> Result<Socket, ClientError> {
    let (socket, _) = connect_async_with_config(url, None, true).await?;
    Ok(socket)
}

/// What one incoming frame meant.
enum Incoming {
    /// A hub event, with its data (`Null` when it had none).
    Event(String, Value),
    /// Engine.IO heartbeat: answer with a pong carrying this data.
    EnginePing(String),
    /// Nothing the participant acts on (WebSocket ping, Socket.IO ack, noop …).
    Nothing,
    /// The connection is gone.
    Closed,
}

/// An open connection, handshake done.
struct Connection {
    socket: Socket,
    transport: Transport,
    /// Events that arrived during the Socket.IO handshake.
    early_events: VecDeque<(String, Value)>,
}

impl Connection {
    async fn open(
        config: &ParticipantConfig,
        resume_token: Option<&str>,
    ) -> Result<Self, ClientError> {
        let base = websocket_base_url(&config.hub_url)?;
        let handshake = handshake_of(config, resume_token);
        match config.transport {
            Transport::Ws => {
                let url = match config.ws_handshake {
                    WsHandshake::Query => ws_query_url(&base, &handshake),
                    WsHandshake::Hello => format!("{base}/ws"),
                };
                let socket = connect(url).await?;
                let mut connection = Connection {
                    socket,
                    transport: Transport::Ws,
                    early_events: VecDeque::new(),
                };
                if config.ws_handshake == WsHandshake::Hello {
                    connection.send(&ClientEvent::Hello(handshake)).await?;
                }
                Ok(connection)
            }
            Transport::SocketIo => {
                let url = format!("{base}/socket.io/?EIO=4&transport=websocket");
                let socket = connect(url).await?;
                let mut connection = Connection {
                    socket,
                    transport: Transport::SocketIo,
                    early_events: VecDeque::new(),
                };
                connection.socketio_handshake(&handshake).await?;
                Ok(connection)
            }
        }
    }

    /// Engine.IO `open`, then the namespace connect with `auth`, as `socket.io-client` does.
    async fn socketio_handshake(&mut self, handshake: &Handshake) -> Result<(), ClientError> {
        match self.next_text().await? {
            Some(text) => match EnginePacket::decode(&text)? {
                EnginePacket::Open(_) => {}
                other => {
                    return Err(ClientError::Framing(FramingError::Payload(format!(
                        "expected the open packet, got {other:?}"
                    ))));
                }
            },
            None => return Err(ClientError::Closed),
        }
        let auth = serde_json::to_value(handshake).unwrap_or(Value::Null);
        let connect = SocketPacket::Connect {
            namespace: "/".to_owned(),
            data: Some(auth),
        };
        self.send_text(connect.to_frame()).await?;
        loop {
            let Some(text) = self.next_text().await? else {
                return Err(ClientError::Closed);
            };
            match EnginePacket::decode(&text)? {
                EnginePacket::Ping(data) => {
                    self.send_text(EnginePacket::Pong(data).encode()).await?
                }
                EnginePacket::Message(payload) => match SocketPacket::decode(&payload)? {
                    SocketPacket::Connect { .. } => return Ok(()),
                    SocketPacket::ConnectError { data, .. } => {
                        return Err(ClientError::Refused(error_code_of(&data)));
                    }
                    SocketPacket::Event { name, args, .. } => {
                        let data = args.into_iter().next().unwrap_or(Value::Null);
                        self.early_events.push_back((name, data));
                    }
                    SocketPacket::Disconnect { .. } => return Err(ClientError::Closed),
                    SocketPacket::Ack { .. } => {}
                },
                EnginePacket::Close => return Err(ClientError::Closed),
                _ => {}
            }
        }
    }

    /// The next text frame (binary and control frames skipped); `None` once closed.
    async fn next_text(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            match self.socket.next().await {
                None => return Ok(None),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(Message::Text(text))) => return Ok(Some(text.as_str().to_owned())),
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads one frame. Cancel-safe (it never writes), so it can sit in a `select!` next to
    /// timers; the caller answers Engine.IO pings.
    async fn next_incoming(&mut self) -> Incoming {
        if let Some((name, data)) = self.early_events.pop_front() {
            return Incoming::Event(name, data);
        }
        let text = match self.socket.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Incoming::Closed,
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => return Incoming::Nothing,
        };
        match self.transport {
            Transport::Ws => match serde_json::from_str::<Value>(text.as_str()) {
                Ok(Value::Object(mut frame)) => match frame.remove("event") {
                    Some(Value::String(name)) => {
                        Incoming::Event(name, frame.remove("data").unwrap_or(Value::Null))
                    }
                    _ => Incoming::Event(sim_error("frame_without_event"), Value::Null),
                },
                _ => Incoming::Event(sim_error("malformed_frame"), Value::Null),
            },
            Transport::SocketIo => match EnginePacket::decode(text.as_str()) {
                Ok(EnginePacket::Ping(data)) => Incoming::EnginePing(data),
                Ok(EnginePacket::Close) => Incoming::Closed,
                Ok(EnginePacket::Message(payload)) => match SocketPacket::decode(&payload) {
                    Ok(SocketPacket::Event { name, args, .. }) => {
                        Incoming::Event(name, args.into_iter().next().unwrap_or(Value::Null))
                    }
                    Ok(SocketPacket::Disconnect { .. }) => Incoming::Closed,
                    Ok(SocketPacket::ConnectError { data, .. }) => {
                        Incoming::Event("error".into(), data)
                    }
                    Ok(SocketPacket::Ack { .. } | SocketPacket::Connect { .. }) => {
                        Incoming::Nothing
                    }
                    Err(_) => Incoming::Event(sim_error("malformed_frame"), Value::Null),
                },
                Ok(_) => Incoming::Nothing,
                Err(_) => Incoming::Event(sim_error("malformed_frame"), Value::Null),
            },
        }
    }

    async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        self.socket.send(Message::text(text)).await?;
        Ok(())
    }

    async fn send(&mut self, event: &ClientEvent) -> Result<(), ClientError> {
        let text = match self.transport {
            Transport::Ws => event.to_frame(),
            Transport::SocketIo => {
                let (name, data) = event.to_socketio();
                SocketPacket::event(name, data).to_frame()
            }
        };
        self.send_text(text).await
    }

    async fn close(mut self) {
        // Best effort: the hub treats a vanished socket the same way.
        let _ = self.socket.close(None).await;
    }
}

fn sim_error(what: &str) -> String {
    format!("{SIM_ERROR_PREFIX}{what}")
}

/// The `code` of an `error` event or connect error (`{code}` or `{data: {code}}`), else
/// `message`, else `unknown`.
fn error_code_of(data: &Value) -> String {
    data.get("code")
        .or_else(|| data.get("data").and_then(|inner| inner.get("code")))
        .and_then(Value::as_str)
        .or_else(|| data.get("message").and_then(Value::as_str))
        .unwrap_or("unknown")
        .to_owned()
}

/// Error codes after which retrying the same handshake is pointless.
fn is_refusal(code: &str) -> bool {
    matches!(code, "bad_room_code" | "session_full" | "rate_limited_join")
}

/// One RR batch waiting for its `rr_ack`.
#[derive(Debug, Clone)]
struct PendingBatch {
    rr_ms: Vec<f64>,
    ended_at_ms: u64,
    /// When it was last sent on the current connection; `None`: not sent on it yet.
    sent_at: Option<Instant>,
    /// Whether it was already sent on an earlier connection.
    sent_before: bool,
}

/// How one connection ended.
enum SessionEnd {
    /// Stop or drain finished: do not reconnect.
    Finished,
    /// The connection dropped: reconnect.
    Dropped,
    /// The hub refused us (`bad_room_code`, …): do not reconnect.
    Refused(String),
}

thread_local! {
    /// One analyser per runtime thread, not per participant: it holds an FFT plan and
    /// buffers worth tens of kilobytes, and the work between two awaits is synchronous.
    static ANALYZER: RefCell<CoherenceAnalyzer> = RefCell::new(CoherenceAnalyzer::new());
}

/// Most beats in one `rr_intervals` message (protocol limit).
const MAX_RR_PER_BATCH: usize = synchub_protocol::limits::MAX_RR_PER_MESSAGE;

/// Longest [`ParticipantConfig::backfill`]; the hub refuses beats older than 5 minutes.
const MAX_BACKFILL: Duration = Duration::from_secs(240);

/// After a long disconnection many batches wait; the hub allows 20 messages/s per connection
/// (burst 40), so they are resent in slices that stay under that with the regular traffic.
const MAX_BATCHES_PER_FLUSH: usize = 15;

/// How often the hub clock offset is measured again. The first exchange happens while a crowd
/// is still connecting and the hub is busy, so its round trip (and the offset's error) is large;
/// later, quieter exchanges replace it.
const TIME_SYNC_INTERVAL: Duration = Duration::from_secs(10);

fn time_sync_now() -> ClientEvent {
    ClientEvent::TimeSync(TimeSyncRequest {
        client_time: epoch_ms_now(),
    })
}

/// Window and warm-up of the score a score-only participant computes (`coherence.md` §2).
const SCORE_WINDOW_SECS: f64 = 64.0;
const SCORE_WARM_UP_SECS: f64 = 32.0;

/// A participant's state across connections.
struct Participant {
    config: ParticipantConfig,
    stats: Arc<CrowdStats>,
    stream: RrStream,
    started: Instant,
    started_epoch_ms: f64,
    /// Hub clock minus local clock, ms (from `time_sync`).
    clock_offset_ms: f64,
    /// Round trip of the `time_sync` exchange the offset came from, ms: the offset is only
    /// known to within half of it, so the fastest exchange wins (as in NTP).
    clock_offset_rtt_ms: f64,
    next_seq: u64,
    pending: BTreeMap<u64, PendingBatch>,
    resume_token: Option<String>,
    participant_id: Option<String>,
    joined: bool,
    /// Whether the hub let us in (`session_joined`) on the current connection.
    in_session: bool,
    connections: u32,
    /// Score-only participants: (beat end s, rr ms) of the last ~64 s.
    recent_beats: VecDeque<(f64, f64)>,
    batch_buffer: Vec<f64>,
}

impl Participant {
    fn new(config: ParticipantConfig, stats: Arc<CrowdStats>) -> Self {
        let stream = RrStream::new(config.profile, config.seed);
        // The hub accepts beats up to 5 minutes old; stay well inside that.
        let backfill = config.backfill.min(MAX_BACKFILL);
        let now = Instant::now();
        let started = now.checked_sub(backfill).unwrap_or(now);
        let started_epoch_ms = epoch_ms_now() - now.duration_since(started).as_secs_f64() * 1000.0;
        Participant {
            config,
            stats,
            stream,
            started,
            started_epoch_ms,
            clock_offset_ms: 0.0,
            clock_offset_rtt_ms: f64::INFINITY,
            next_seq: 1,
            pending: BTreeMap::new(),
            resume_token: None,
            participant_id: None,
            joined: false,
            in_session: false,
            connections: 0,
            recent_beats: VecDeque::new(),
            batch_buffer: Vec::new(),
        }
    }

    fn outcome(&self, failure: Option<String>) -> ParticipantOutcome {
        ParticipantOutcome {
            participant_id: self.participant_id.clone(),
            joined: self.joined,
            connections: self.connections,
            unacked_batches: self.pending.len(),
            failure,
        }
    }

    /// Beats that ended since the last call; RR reporters turn them into a pending batch.
    fn collect_beats(&mut self) {
        let now_secs = self.started.elapsed().as_secs_f64();
        self.batch_buffer.clear();
        let before_secs = self.stream.elapsed_secs();
        self.stream.beats_until(now_secs, &mut self.batch_buffer);
        if self.batch_buffer.is_empty() {
            return;
        }
        match self.config.reporting {
            Reporting::RrBatches => {
                // A message holds at most 300 beats (a long backfill or outage holds more).
                let mut end_secs = before_secs;
                for chunk in self.batch_buffer.chunks(MAX_RR_PER_BATCH) {
                    end_secs += chunk.iter().sum::<f64>() / 1000.0;
                    let ended_at_ms =
                        self.started_epoch_ms + end_secs * 1000.0 + self.clock_offset_ms;
                    // Phones report whole milliseconds; it keeps the frames short too.
                    let rr_ms = chunk.iter().map(|rr| rr.round()).collect();
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    self.pending.insert(
                        seq,
                        PendingBatch {
                            rr_ms,
                            ended_at_ms: ended_at_ms.max(0.0) as u64,
                            sent_at: None,
                            sent_before: false,
                        },
                    );
                    CrowdStats::increment(&self.stats.batches_sent);
                }
            }
            Reporting::ScoresOnly => {
                let mut time_secs = before_secs;
                for &rr_ms in &self.batch_buffer {
                    time_secs += rr_ms / 1000.0;
                    self.recent_beats.push_back((time_secs, rr_ms));
                }
                while self
                    .recent_beats
                    .front()
                    .is_some_and(|&(t, _)| t < time_secs - SCORE_WINDOW_SECS - 5.0)
                {
                    self.recent_beats.pop_front();
                }
            }
        }
    }

    /// The coherence score over the last 64 s of beats (or what there is, from 32 s on).
    fn current_score(&self) -> Option<f64> {
        let first_secs = self.recent_beats.front()?.0;
        let last_secs = self.recent_beats.back()?.0;
        if last_secs - first_secs < SCORE_WARM_UP_SECS {
            return None;
        }
        let window_secs = (last_secs - first_secs).min(SCORE_WINDOW_SECS);
        let times: Vec<f64> = self.recent_beats.iter().map(|&(t, _)| t).collect();
        let rr: Vec<f64> = self.recent_beats.iter().map(|&(_, rr)| rr).collect();
        // The window must end before the newest beat so the spline has a knot past it.
        let start_secs = last_secs - window_secs - 0.5;
        let window = ANALYZER.with(|analyzer| {
            analyzer.borrow_mut().analyze_window(
                &times,
                &rr,
                &[],
                start_secs.max(first_secs),
                window_secs - 1.0,
            )
        })?;
        Some(window.score.clamp(0.0, 100.0))
    }

    fn join_event(&self) -> ClientEvent {
        ClientEvent::JoinSession(JoinSession {
            intention: self.config.intention.map(|category| Intention {
                category,
                note: None,
            }),
            chant_id: None,
            consent: Some(Consent {
                research: self.config.research_consent,
            }),
            device: Some(Device {
                kind: DeviceKind::Sim,
                model: Some("synchub-sim".to_owned()),
            }),
        })
    }

    async fn send(
        &self,
        connection: &mut Connection,
        event: &ClientEvent,
    ) -> Result<(), ClientError> {
        connection.send(event).await?;
        CrowdStats::increment(&self.stats.messages_out);
        Ok(())
    }

    /// Sends the pending batches not yet sent on this connection, oldest first, at most
    /// [`MAX_BATCHES_PER_FLUSH`] at a time (the rest go out on the next ticks).
    async fn flush_pending(&mut self, connection: &mut Connection) -> Result<(), ClientError> {
        let unsent: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, batch)| batch.sent_at.is_none())
            .map(|(&seq, _)| seq)
            .take(MAX_BATCHES_PER_FLUSH)
            .collect();
        for seq in unsent {
            let Some(batch) = self.pending.get(&seq) else {
                continue;
            };
            let event = ClientEvent::RrIntervals(RrIntervals {
                rr: batch.rr_ms.clone(),
                ended_at: Some(batch.ended_at_ms),
                seq: Some(seq),
            });
            let resend = batch.sent_before;
            self.send(connection, &event).await?;
            if resend {
                CrowdStats::increment(&self.stats.batches_resent);
            }
            if let Some(batch) = self.pending.get_mut(&seq) {
                batch.sent_at = Some(Instant::now());
                batch.sent_before = true;
            }
        }
        Ok(())
    }

    /// Handles one hub event; `Some` ends the connection.
    async fn handle_event(
        &mut self,
        connection: &mut Connection,
        name: &str,
        data: &Value,
    ) -> Result<Option<SessionEnd>, ClientError> {
        CrowdStats::increment(&self.stats.messages_in);
        match name {
            "session_joined" => {
                if let Some(token) = data.get("resumeToken").and_then(Value::as_str) {
                    self.resume_token = Some(token.to_owned());
                }
                if let Some(id) = data.get("participantId").and_then(Value::as_str) {
                    self.participant_id = Some(id.to_owned());
                }
                if !self.joined {
                    self.joined = true;
                    CrowdStats::increment(&self.stats.joined);
                }
                self.in_session = true;
                self.flush_pending(connection).await?;
            }
            "rr_ack" => match data.get("seq").and_then(Value::as_u64) {
                Some(seq) => match self.pending.remove(&seq) {
                    Some(batch) => {
                        CrowdStats::increment(&self.stats.batches_acked);
                        if let Some(sent_at) = batch.sent_at {
                            self.stats.record_ack_latency(sent_at.elapsed());
                        }
                    }
                    None => self.stats.record_error(&sim_error("unexpected_ack")),
                },
                None => self.stats.record_error(&sim_error("ack_without_seq")),
            },
            "time_sync" => {
                let client_ms = data.get("clientTime").and_then(Value::as_f64);
                let hub_ms = data.get("hubTime").and_then(Value::as_f64);
                if let (Some(client_ms), Some(hub_ms)) = (client_ms, hub_ms) {
                    let now_ms = epoch_ms_now();
                    let rtt_ms = (now_ms - client_ms).max(0.0);
                    if rtt_ms < self.clock_offset_rtt_ms {
                        // NTP's estimate: the hub read its clock halfway through the round trip.
                        self.clock_offset_ms = hub_ms - (client_ms + now_ms) / 2.0;
                        self.clock_offset_rtt_ms = rtt_ms;
                    }
                }
            }
            "group_metrics_update" => {
                CrowdStats::increment(&self.stats.group_updates);
                let stamped = data
                    .get("groupMetrics")
                    .and_then(|metrics| metrics.get("timestamp"))
                    .and_then(Value::as_f64);
                if let Some(stamped_ms) = stamped {
                    let arrived_hub_ms = epoch_ms_now() + self.clock_offset_ms;
                    let latency_ms = (arrived_hub_ms - stamped_ms).max(0.0);
                    self.stats
                        .record_broadcast_latency(Duration::from_secs_f64(latency_ms / 1000.0));
                }
            }
            "error" => {
                let code = error_code_of(data);
                self.stats.record_error(&code);
                if is_refusal(&code) {
                    return Ok(Some(SessionEnd::Refused(code)));
                }
            }
            other if other.starts_with(SIM_ERROR_PREFIX) => self.stats.record_error(other),
            // personal_feedback, participant_update, pacer, phase_changed, … : seen, not needed.
            _ => {}
        }
        Ok(None)
    }

    /// After a drop: reads what the hub still had to say (briefly), counting its errors, and
    /// returns the code if it refused us.
    async fn read_refusal(&mut self, connection: &mut Connection) -> Option<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            let incoming = tokio::time::timeout_at(deadline, connection.next_incoming()).await;
            match incoming {
                Ok(Incoming::Event(name, data)) if name == "error" => {
                    let code = error_code_of(&data);
                    self.stats.record_error(&code);
                    if is_refusal(&code) {
                        return Some(code);
                    }
                }
                Ok(Incoming::Event(..) | Incoming::Nothing | Incoming::EnginePing(_)) => {}
                Ok(Incoming::Closed) | Err(_) => return None,
            }
        }
    }

    /// One connection's life, from handshake done to drop or stop.
    async fn session(
        &mut self,
        connection: &mut Connection,
        control: &mut watch::Receiver<RunState>,
    ) -> Result<SessionEnd, ClientError> {
        let resuming = self.resume_token.is_some();
        for batch in self.pending.values_mut() {
            batch.sent_at = None;
        }
        self.send(connection, &time_sync_now()).await?;
        let mut join_sent = false;
        if !resuming {
            self.send(connection, &self.join_event()).await?;
            join_sent = true;
        }
        let join_deadline = sleep(self.config.resume_wait);
        tokio::pin!(join_deadline);
        let start = tokio::time::Instant::now();
        let mut batch_timer = interval_at(
            start + self.config.batch_interval,
            self.config.batch_interval,
        );
        batch_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut score_timer = interval_at(
            start + self.config.score_interval,
            self.config.score_interval,
        );
        score_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut time_sync_timer = interval_at(start + TIME_SYNC_INTERVAL, TIME_SYNC_INTERVAL);
        time_sync_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);

        loop {
            let state = *control.borrow_and_update();
            match state {
                RunState::Stopped => return Ok(SessionEnd::Finished),
                RunState::Draining if self.pending.is_empty() => return Ok(SessionEnd::Finished),
                _ => {}
            }
            tokio::select! {
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(SessionEnd::Finished);
                    }
                }
                () = &mut join_deadline, if !join_sent => {
                    join_sent = true;
                    if !self.in_session {
                        self.send(connection, &self.join_event()).await?;
                    }
                }
                _ = batch_timer.tick() => {
                    // The live state, not the one read at the top of the loop: a batch made
                    // after a crowd started draining could miss the drain.
                    if *control.borrow() == RunState::Running {
                        self.collect_beats();
                        if self.in_session && self.config.reporting == Reporting::RrBatches {
                            self.flush_pending(connection).await?;
                        }
                    }
                }
                _ = score_timer.tick(), if self.config.reporting == Reporting::ScoresOnly => {
                    if let (true, RunState::Running, Some(score)) = (self.in_session, state, self.current_score()) {
                        let update = ClientEvent::UpdateCoherence(UpdateCoherence { coherence: score });
                        self.send(connection, &update).await?;
                        CrowdStats::increment(&self.stats.scores_sent);
                    }
                }
                _ = time_sync_timer.tick() => {
                    self.send(connection, &time_sync_now()).await?;
                }
                incoming = connection.next_incoming() => match incoming {
                    Incoming::Closed => return Ok(SessionEnd::Dropped),
                    Incoming::Nothing => {}
                    Incoming::EnginePing(data) => {
                        connection.send_text(EnginePacket::Pong(data).encode()).await?;
                    }
                    Incoming::Event(name, data) => {
                        if let Some(end) = self.handle_event(connection, &name, &data).await? {
                            return Ok(end);
                        }
                    }
                },
            }
        }
    }
}

/// Wait before connection attempt `failed_attempts + 1`: 0.5 s, 1 s, 2 s … up to 8 s.
fn backoff_after(failed_attempts: u32) -> Duration {
    Duration::from_millis(250 << failed_attempts.clamp(1, 5))
}

/// Runs one simulated participant until `control` says stop (or drain is done), reconnecting
/// with its resume token whenever the connection drops.
pub async fn run_participant(
    config: ParticipantConfig,
    stats: Arc<CrowdStats>,
    mut control: watch::Receiver<RunState>,
) -> ParticipantOutcome {
    let mut participant = Participant::new(config, stats);
    let mut failed_attempts = 0u32;
    loop {
        if *control.borrow() == RunState::Stopped
            || (*control.borrow() == RunState::Draining && participant.pending.is_empty())
        {
            return participant.outcome(None);
        }
        let attempt = timeout(
            participant.config.connect_timeout,
            Connection::open(&participant.config, participant.resume_token.as_deref()),
        )
        .await
        .unwrap_or(Err(ClientError::Timeout));
        let mut connection = match attempt {
            Ok(connection) => connection,
            Err(error) => {
                failed_attempts += 1;
                if let ClientError::Refused(code) = &error {
                    participant.stats.record_error(code);
                    if is_refusal(code) {
                        CrowdStats::increment(&participant.stats.connect_failures);
                        return participant.outcome(Some(code.clone()));
                    }
                }
                if failed_attempts >= participant.config.max_connect_attempts {
                    CrowdStats::increment(&participant.stats.connect_failures);
                    return participant.outcome(Some(error.to_string()));
                }
                // Beats keep coming while we are away; they are sent after reconnecting.
                tokio::select! {
                    () = sleep(backoff_after(failed_attempts)) => {}
                    _ = control.changed() => {}
                }
                participant.collect_beats();
                continue;
            }
        };
        participant.connections += 1;
        if participant.connections > 1 {
            CrowdStats::increment(&participant.stats.reconnects);
        }
        CrowdStats::increment(&participant.stats.connected_now);
        participant.in_session = false;
        let mut end = participant.session(&mut connection, &mut control).await;
        participant
            .stats
            .connected_now
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if matches!(end, Ok(SessionEnd::Dropped) | Err(_)) {
            // A hub that refuses us says why and hangs up; our own writes may fail first, so
            // read what it said before deciding to reconnect.
            if let Some(code) = participant.read_refusal(&mut connection).await {
                end = Ok(SessionEnd::Refused(code));
            }
        }
        match end {
            Ok(SessionEnd::Finished) => {
                // A clean goodbye, like a phone leaving the room.
                let _ = participant
                    .send(&mut connection, &ClientEvent::LeaveSession)
                    .await;
                connection.close().await;
                return participant.outcome(None);
            }
            Ok(SessionEnd::Refused(code)) => {
                connection.close().await;
                if !participant.joined {
                    CrowdStats::increment(&participant.stats.connect_failures);
                }
                return participant.outcome(Some(code));
            }
            Ok(SessionEnd::Dropped) | Err(_) => {
                connection.close().await;
                if participant.in_session {
                    // A Wi-Fi blip after a good session: reconnect at once, the resume token
                    // is good for 60 s.
                    failed_attempts = 0;
                } else {
                    // Dropped before the hub let us in: count it as a failed attempt and back
                    // off, so a misbehaving hub never sees a reconnect storm.
                    failed_attempts += 1;
                    if failed_attempts >= participant.config.max_connect_attempts {
                        CrowdStats::increment(&participant.stats.connect_failures);
                        return participant.outcome(Some("dropped before session_joined".into()));
                    }
                    tokio::select! {
                        () = sleep(backoff_after(failed_attempts)) => {}
                        _ = control.changed() => {}
                    }
                    participant.collect_beats();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hub_urls_become_websocket_urls() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(
                websocket_base_url(input).ok().as_deref(),
                expected,
                "{input}"
            );
        };
        check("http://127.0.0.1:7878", Some("ws://127.0.0.1:7878"));
        check("http://127.0.0.1:7878/", Some("ws://127.0.0.1:7878"));
        check("ws://hub.local:80", Some("ws://hub.local:80"));
        check("127.0.0.1:9", Some("ws://127.0.0.1:9"));
        check("https://hub:1", None);
        check("http://hub:1/path", None);
        check("", None);
    }

    #[test]
    fn query_handshake_is_percent_encoded() {
        let handshake = Handshake {
            user_id: Some("sim 1/ä".into()),
            room_code: Some("K7Q2".into()),
            resume_token: Some("a+b".into()),
            role: Role::Participant,
        };
        let url = ws_query_url("ws://h:1", &handshake);
        assert_eq!(
            url,
            "ws://h:1/ws?role=participant&userId=sim%201%2F%C3%A4&roomCode=K7Q2&resumeToken=a%2Bb"
        );
        let query = url.split_once('?').unwrap().1;
        assert_eq!(Handshake::from_query(query).unwrap(), handshake);
    }

    /// What the participant sends passes the hub's own validating decoder, on both transports.
    #[test]
    fn every_event_sent_is_valid_for_the_hub() {
        let config = ParticipantConfig::new("http://127.0.0.1:1", "sim-7", Profile::Settling, 7);
        let mut participant = Participant::new(config, Arc::new(CrowdStats::new()));
        // Pretend three seconds of beats have passed.
        participant.started -= Duration::from_secs(3);
        participant.collect_beats();
        let (&seq, batch) = participant.pending.iter().next().unwrap();
        let batch = ClientEvent::RrIntervals(RrIntervals {
            rr: batch.rr_ms.clone(),
            ended_at: Some(batch.ended_at_ms),
            seq: Some(seq),
        });
        let events = [
            participant.join_event(),
            batch,
            time_sync_now(),
            ClientEvent::UpdateCoherence(UpdateCoherence { coherence: 61.5 }),
            ClientEvent::Hello(handshake_of(&participant.config, Some("token"))),
            ClientEvent::LeaveSession,
        ];
        for event in events {
            let frame = event.to_frame();
            assert_eq!(
                synchub_protocol::decode_ws_frame(&frame).as_ref(),
                Ok(&event),
                "{frame}"
            );
            let (name, data) = event.to_socketio();
            let packet = SocketPacket::decode(&SocketPacket::event(name, data).encode()).unwrap();
            let SocketPacket::Event { name, args, .. } = packet else {
                panic!("not an event: {packet:?}");
            };
            let data = args.into_iter().next().unwrap_or(Value::Null);
            assert_eq!(ClientEvent::decode(&name, &data), Ok(event));
        }
    }

    fn participant_with_backfill(profile: Profile, backfill_secs: u64) -> Participant {
        let mut config = ParticipantConfig::new("http://127.0.0.1:1", "sim-b", profile, 5);
        config.backfill = Duration::from_secs(backfill_secs);
        config.reporting = Reporting::RrBatches;
        Participant::new(config, Arc::new(CrowdStats::new()))
    }

    #[test]
    fn backfill_puts_the_last_minute_of_beats_into_the_first_batch() {
        let mut participant = participant_with_backfill(Profile::Coherent, 60);
        participant.collect_beats();
        assert_eq!(participant.pending.len(), 1);
        let batch = &participant.pending[&1];
        let heart_rate_bpm = 60_000.0 / participant.stream.params().mean_rr_ms;
        let expected_beats = heart_rate_bpm; // one minute's worth
        assert!(
            (batch.rr_ms.len() as f64 - expected_beats).abs() < 0.15 * expected_beats,
            "{} beats at {heart_rate_bpm:.0} bpm",
            batch.rr_ms.len()
        );
        // The last beat ended just now (within one beat), not a minute ago.
        let age_ms = epoch_ms_now() - batch.ended_at_ms as f64;
        assert!((0.0..2500.0).contains(&age_ms), "{age_ms}");
    }

    #[test]
    fn beats_piled_up_by_a_long_outage_go_out_in_messages_of_at_most_300() {
        let mut participant = participant_with_backfill(Profile::Restless, 240);
        // Seven minutes of beats in all: more than 300 at any heart rate we draw.
        participant.started -= Duration::from_secs(180);
        participant.started_epoch_ms -= 180_000.0;
        participant.collect_beats();
        let sizes: Vec<usize> = participant
            .pending
            .values()
            .map(|b| b.rr_ms.len())
            .collect();
        assert!(sizes.len() >= 2, "{sizes:?}");
        assert!(sizes.iter().all(|&n| (1..=300).contains(&n)), "{sizes:?}");
        let ends: Vec<u64> = participant
            .pending
            .values()
            .map(|b| b.ended_at_ms)
            .collect();
        assert!(ends.windows(2).all(|pair| pair[0] < pair[1]), "{ends:?}");
        let age_ms = epoch_ms_now() - *ends.last().unwrap() as f64;
        assert!((0.0..2500.0).contains(&age_ms), "{age_ms}");
    }

    #[test]
    fn score_only_participants_score_their_own_beats() {
        let score_after_backfill = |profile: Profile| {
            let mut participant = participant_with_backfill(profile, 90);
            participant.config.reporting = Reporting::ScoresOnly;
            participant.collect_beats();
            assert!(
                participant.pending.is_empty(),
                "score-only participants send no RR"
            );
            participant.current_score()
        };
        let coherent = score_after_backfill(Profile::Coherent).unwrap();
        let restless = score_after_backfill(Profile::Restless).unwrap();
        assert!(coherent >= 60.0, "{coherent}");
        assert!(restless < 40.0, "{restless}");
        // Under 32 s of beats there is no score yet.
        let mut fresh = participant_with_backfill(Profile::Coherent, 20);
        fresh.config.reporting = Reporting::ScoresOnly;
        fresh.collect_beats();
        assert_eq!(fresh.current_score(), None);
    }

    #[test]
    fn error_codes_are_read_from_either_shape() {
        assert_eq!(
            error_code_of(&json!({"code": "rate_limited", "message": "x"})),
            "rate_limited"
        );
        assert_eq!(
            error_code_of(&json!({"message": "m", "data": {"code": "bad_room_code"}})),
            "bad_room_code"
        );
        assert_eq!(
            error_code_of(&json!({"message": "Not authorized"})),
            "Not authorized"
        );
        assert_eq!(error_code_of(&Value::Null), "unknown");
    }
}
