//! Records: what the engine asks its caller to persist.
//!
//! The engine never writes anything itself. Every fact worth keeping (a session opened, a phase
//! began, a participant joined, a batch of beats, a 5-second metric, a group snapshot, a
//! synchrony round) leaves the engine as one [`Record`] through `Engine::poll_record`, in the
//! order it happened. The store persists them in that order; the hub confirms durable beat
//! batches back to the engine with `Engine::handle_beats_durable`, which is what turns into
//! `rr_ack` for the phone.
//!
//! These are domain types: no serde, no JSON names. Times are milliseconds since the Unix epoch
//! in hub time (`*_ms: i64` for instants the engine creates, `f64` for beat times, which carry
//! sub-millisecond precision from straps).

use crate::ids::{ParticipantId, ResumeToken, SessionId};

/// How a session's schedule is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleMode {
    /// Sessions on UTC-aligned slots, one after another, without a facilitator.
    Rolling,
    /// The facilitator starts, advances, extends and ends sessions.
    Manual,
}

/// The phases of one session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Preparation,
    Active,
    Integration,
    Complete,
}

/// Where a participant's heart data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Ios,
    Android,
    Web,
    Ble,
    Sim,
    Unknown,
}

/// The original platform's intention categories; anything else is kept as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentionCategory {
    PhysicalHealing,
    EmotionalRelease,
    Anxiety,
    Abundance,
    Energy,
    Grief,
    Other,
}

/// Which side computed a participant's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScoreSource {
    /// The hub's own analyser, from RR intervals (phones that send RR, straps).
    Hub,
    /// The client's own score (`update_coherence`, the original protocol).
    Client,
}

/// A session as opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub session_id: SessionId,
    pub mode: ScheduleMode,
    /// Rolling mode: the UTC slot start, so sessions of different hubs in one slot can be
    /// matched centrally. Manual mode: `None`.
    pub slot_start_ms: Option<i64>,
    pub started_at_ms: i64,
    pub preparation_secs: u32,
    pub active_secs: u32,
    pub integration_secs: u32,
    /// The planned end when the session opened (extensions move the real end).
    pub planned_end_ms: i64,
}

/// Aggregates of a whole session, stored when it completes.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub duration_ms: i64,
    /// Everyone who joined at any time.
    pub participants: u32,
    /// Mean of the 1 Hz group averages over the session; `None` if no group metric was ever
    /// computed (nobody had a fresh, good score).
    pub average_coherence: Option<f64>,
    pub peak_coherence: Option<f64>,
    /// Seconds the group average spent in each phase band (low / medium / high).
    pub secs_low: f64,
    pub secs_medium: f64,
    pub secs_high: f64,
    /// Mean synchrony index over the session, when there was synchrony data.
    pub average_synchrony: Option<f64>,
}

/// A participant as joined. No raw user id ever enters the engine: the hub pseudonymises first.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantRow {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    /// `hex(HMAC-SHA256(org_secret, userId))`, computed by the caller.
    pub pseudonym: String,
    pub intention: Option<IntentionCategory>,
    pub research_consent: bool,
    pub device: DeviceKind,
    pub joined_at_ms: i64,
    /// The participant's resume token. Stored so that a hub restarted after a crash can hand
    /// the running session back to the engine (`Engine::restore`) and phones rejoin with the
    /// token they hold; it is a credential, never exported or synced.
    pub resume_token: ResumeToken,
}

/// A participant's end state in a session (left, or the session completed).
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantClosed {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    pub left_at_ms: i64,
    pub peak_coherence: Option<f64>,
    pub high_coherence_secs: f64,
}

/// One heartbeat as received (raw, before cleaning: research keeps the original signal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredBeat {
    /// When the interval ended, hub time, ms since the epoch.
    pub time_ms: f64,
    pub rr_ms: f64,
    /// Outside the physiological range (250–2500 ms) at receipt; cleaning corrects it in the
    /// analysis, the raw value is kept here.
    pub artifact: bool,
}

/// A batch of beats from one `rr_intervals` message (or one strap notification).
#[derive(Debug, Clone, PartialEq)]
pub struct BeatBatch {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    /// The client's batch sequence number, when it sent one; acknowledged once durable.
    pub seq: Option<u64>,
    pub beats: Vec<StoredBeat>,
}

/// One participant's metrics at one 5-second step (or one client score update).
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantMetrics {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    pub at_ms: i64,
    pub source: ScoreSource,
    /// `synchub_hrv::ALGORITHM` for hub scores; `None` for client scores.
    pub algorithm: Option<&'static str>,
    pub score: f64,
    pub ratio: Option<f64>,
    pub peak_hz: Option<f64>,
    pub breaths_per_min: Option<f64>,
    pub hr_bpm: Option<f64>,
    pub mean_rr_ms: Option<f64>,
    pub sdnn_ms: Option<f64>,
    pub rmssd_ms: Option<f64>,
    pub artifact_fraction: Option<f64>,
    pub quality: synchub_hrv::Quality,
}

/// The group at one 1 Hz tick (coherence.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub session_id: SessionId,
    pub at_ms: i64,
    pub phase: Phase,
    pub participant_count: u32,
    pub active_count: u32,
    pub average_coherence: f64,
    pub median_coherence: f64,
    pub std_coherence: f64,
    pub peak_coherence: f64,
    pub coherence_phase: synchub_hrv::CoherencePhase,
    pub distribution_low: u32,
    pub distribution_medium: u32,
    pub distribution_high: u32,
    pub synchrony_index: Option<f64>,
    /// The same round's index on surrogate (circularly shifted) series: what chance alone
    /// gives this room, for reading `synchrony_index` against. Set with it.
    pub synchrony_baseline: Option<f64>,
}

/// One pair's synchrony in one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairRecord {
    pub a: ParticipantId,
    pub b: ParticipantId,
    pub correlation: f64,
    pub plv: f64,
    pub strength: f64,
}

/// One synchrony round over the last 64 s (coherence.md §6).
#[derive(Debug, Clone, PartialEq)]
pub struct SynchronyRound {
    pub session_id: SessionId,
    pub at_ms: i64,
    pub participants: u32,
    pub index: f64,
    pub surrogate_index: f64,
    pub mean_strength: f64,
    pub surrogate_mean_strength: f64,
    pub pairs_sampled: bool,
    pub pairs: Vec<PairRecord>,
}

/// Everything the engine asks its caller to persist, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    SessionOpened(SessionRow),
    PhaseChanged {
        session_id: SessionId,
        phase: Phase,
        at_ms: i64,
        /// When this phase is planned to end (`None` for `Complete`).
        ends_at_ms: Option<i64>,
    },
    SessionCompleted {
        session_id: SessionId,
        ended_at_ms: i64,
        summary: SessionSummary,
    },
    ParticipantJoined(ParticipantRow),
    /// Intention or consent changed (`set_intention`, a re-join on resume).
    ParticipantChanged {
        session_id: SessionId,
        participant_id: ParticipantId,
        intention: Option<IntentionCategory>,
        research_consent: bool,
    },
    ParticipantClosed(ParticipantClosed),
    Beats(BeatBatch),
    Metrics(ParticipantMetrics),
    GroupSnapshot(GroupSnapshot),
    Synchrony(SynchronyRound),
}
