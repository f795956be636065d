//! What a crowd hands one simulated participant and what it gets back: the participant's
//! settings (hub, handshake, transport, heart, timings), the crowd's run state every
//! participant watches, and how a participant's run ended.

use std::time::Duration;

use synchub_protocol::IntentionCategory;

use crate::beats::Reporting;
use crate::connection::{Transport, WsHandshake};
use crate::rr::Profile;

/// Which client a simulated participant behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// One of the hub's own clients: announces the protocol version in its handshake,
    /// measures the hub clock with `time_sync`, sends RR batches every second (or scores every
    /// 5 s) and hears the group's figures at 1 Hz.
    Hub,
    /// The original platform's web client, unmodified: announces no protocol version, never
    /// sends `time_sync`, joins with an intention only, and sends `update_coherence` (its own
    /// score) when 1 s passes without an event from the hub — its page re-renders on every
    /// event and each render re-arms its 1 s timer. Against a hub that sends it something
    /// every second it never sends a score.
    OriginalWeb,
}

/// Everything one simulated participant needs.
#[derive(Debug, Clone)]
pub struct ParticipantConfig {
    /// The hub's client or an original one.
    pub kind: ClientKind,
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
    /// RR batches or scores only (an original web client always reports scores).
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
    /// Drop the connection after about this long (uniform in 0.5–1.5×), then reconnect and
    /// resume with the token, like a phone on flaky Wi-Fi; `None`: never.
    pub churn: Option<Duration>,
    /// The share (0–1) of those churn events that are a proper leave instead of a drop: wait
    /// for the outstanding acknowledgements, `leave_session`, hang up, stay away a few seconds
    /// (2–10 s) and join again as a new participant, like someone stepping out of the room.
    pub leave_share: f64,
}

impl ParticipantConfig {
    /// One of the hub's clients with the defaults of a real room: 1 s batches, 5 s scores, RR
    /// reporting, WebSocket with the query-string handshake, consent given, a few retries.
    pub fn new(hub_url: &str, user_id: &str, profile: Profile, seed: u64) -> Self {
        ParticipantConfig {
            kind: ClientKind::Hub,
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
            churn: None,
            leave_share: 0.0,
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
