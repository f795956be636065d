//! What the caller hands the engine: its configuration, joins, RR batches, a session to
//! restore; and the small answers it gets back.

use synchub_hrv::Quality;

use crate::ids::{ParticipantId, SessionId};
use crate::record::{
    DeviceKind, IntentionCategory, ParticipantRow, Phase, ScoreSource, SessionRow,
};
use crate::schedule::ScheduleConfig;

/// How the engine runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    pub schedule: ScheduleConfig,
    /// Most participants in one session (inside their resume grace included); `None` = no
    /// limit.
    pub max_participants: Option<u32>,
    /// How long a dropped participant may resume with its token (protocol.md: 60 s).
    pub resume_grace_ms: i64,
    /// The pacer the room starts with.
    pub pacer_breaths_per_min: f64,
    pub pacer_inhale_ratio: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            schedule: ScheduleConfig::default(),
            max_participants: None,
            resume_grace_ms: 60_000,
            // Resonance breathing: 6 breaths a minute, 4 s in and 6 s out.
            pacer_breaths_per_min: 6.0,
            pacer_inhale_ratio: 0.4,
        }
    }
}

/// A join, as the hub hands it over after validating and pseudonymising.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// `hex(HMAC-SHA256(org_secret, userId))`: the raw user id never reaches the engine.
    pub pseudonym: String,
    pub intention: Option<IntentionCategory>,
    pub research_consent: bool,
    pub device: DeviceKind,
    /// The connection's clock offset (hub − client, ms) when it ran `time_sync` before
    /// joining; later samples go through `Engine::handle_time_sync`.
    pub clock_offset_ms: Option<f64>,
}

/// One `rr_intervals` message (or one strap notification).
#[derive(Debug, Clone, PartialEq)]
pub struct RrBatch {
    /// RR values in ms, oldest first; the last one ended at `ended_at_client_ms`.
    pub rr_ms: Vec<f64>,
    /// When the last beat ended, client clock (ms since the epoch); `None` = at arrival.
    pub ended_at_client_ms: Option<f64>,
    pub seq: Option<u64>,
}

/// What became of an accepted RR batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RrOutcome {
    /// Stored (a `Record::Beats` is out) and analysed.
    Accepted {
        /// Beats the analyser refused because they overlap earlier beats in time (kept in the
        /// store, left out of the analysis).
        out_of_order: usize,
        /// New 5-second scores this batch produced.
        new_scores: usize,
        /// Beats dropped because they fall in beat time this participant's accepted batches
        /// already cover (an overlapping or resent batch, with or without `seq`).
        repeated: usize,
    },
    /// A seq this participant already sent: dropped (re-acknowledged if already durable).
    Duplicate,
}

/// A participant as the hub's REST views see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticipantView {
    pub participant_id: ParticipantId,
    pub slot: u32,
    pub device: DeviceKind,
    pub connected: bool,
    pub coherence: Option<f64>,
    pub quality: Option<Quality>,
    pub source: Option<ScoreSource>,
}

/// The holder of a resume token, as `Engine::participant_by_token` finds them: what the hub
/// needs to serve a participant's own data rights (export, erasure) by token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    /// The pseudonym the participant joined with (or was restored with).
    pub pseudonym: String,
}

/// A participant of a recovered session, as the store read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredParticipant {
    /// The row as joined (with its resume token).
    pub row: ParticipantRow,
    /// Batch seqs already durable, so resends after the restart are acknowledged, not stored
    /// twice. Empty is fine (a resend is then stored again).
    pub durable_seqs: Vec<u64>,
}

/// A session that was running when the hub stopped, as the store read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    pub session: SessionRow,
    /// The latest `Record::PhaseChanged` of the session: its phase, `at_ms` and `ends_at_ms`.
    pub phase: Phase,
    pub phase_started_at_ms: i64,
    pub phase_ends_at_ms: i64,
    /// Participants joined and not closed; they wait for their phones to resume.
    pub participants: Vec<RestoredParticipant>,
    /// Everyone who ever joined the session (closed ones included), for the summary.
    pub joined_total: u32,
}
