//! What the engine asks its caller to send: messages to one participant and broadcasts to the
//! room or the displays.
//!
//! Domain types only. The hub maps each to its `protocol` event (`session_joined`,
//! `personal_feedback`, `rr_ack`, `pacer`, `participant_update`, `group_metrics_update`,
//! `phase_changed`, `session_complete`, `room_snapshot`), serialising every broadcast once.

use synchub_hrv::{CoherencePhase, Quality};

use crate::ids::{ParticipantId, ResumeToken, SessionId};
use crate::record::{GroupSnapshot, Phase, ScheduleMode, SessionSummary};

/// Where the current session stands (for `session_joined`, `GET /api/sessions/current`).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    pub session_id: SessionId,
    pub mode: ScheduleMode,
    /// Rolling mode: the UTC slot start.
    pub slot_start_ms: Option<i64>,
    /// When this hub opened the session (later than the slot start for a hub started mid-slot).
    pub started_at_ms: i64,
    /// Where the session's schedule begins: the slot start in rolling mode, else
    /// `started_at_ms`. The original `session_joined {startedAt, duration}` pair is
    /// `(schedule_start_ms, ends_at_ms - schedule_start_ms)`, so clients draw the right progress.
    pub schedule_start_ms: i64,
    pub phase: Phase,
    pub phase_started_at_ms: i64,
    pub phase_ends_at_ms: i64,
    /// When the session will complete as things stand (extensions included).
    pub ends_at_ms: i64,
    /// Everyone joined and not closed (participants inside their resume grace included).
    pub participant_count: u32,
}

/// Who holds a resume token in the current session: what a participant's data-rights request
/// (`GET /api/me/export`, `DELETE /api/me`) authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    pub pseudonym: String,
}

/// `helping_lift` when the participant's score is at or above the group average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contribution {
    HelpingLift,
    BeingSupported,
}

/// One participant's feedback (`personal_feedback`).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonalFeedback {
    pub session_id: SessionId,
    pub at_ms: i64,
    pub your_coherence: f64,
    /// The group average of the latest 1 Hz tick (0 before the first tick or with nobody
    /// active).
    pub group_average: f64,
    pub contribution: Contribution,
    /// The participant's own band (the protocol's `phase` of `personal_feedback`).
    pub coherence_phase: CoherencePhase,
    /// The session's phase, for clients that show it.
    pub session_phase: Phase,
    pub coherence_ratio: Option<f64>,
    pub heart_rate_bpm: Option<f64>,
    pub breaths_per_min: Option<f64>,
    pub quality: Quality,
}

/// The room's shared breathing pacer: breath phase at hub time `t` is
/// `((t - epoch_hub_ms) * breaths_per_min / 60000) mod 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacer {
    pub breaths_per_min: f64,
    /// Fraction of each breath spent breathing in.
    pub inhale_ratio: f64,
    pub epoch_hub_ms: i64,
}

/// What one participant receives on joining or resuming.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionJoined {
    pub participant_id: ParticipantId,
    pub resume_token: ResumeToken,
    /// True when this is a resume (same participant, state kept).
    pub resumed: bool,
    pub session: SessionInfo,
    /// The latest 1 Hz group figures.
    pub group: GroupSnapshot,
}

/// The payload of a [`Message`].
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    SessionJoined(Box<SessionJoined>),
    PersonalFeedback(PersonalFeedback),
    /// The batch with this sequence number is durably stored.
    RrAck {
        seq: u64,
    },
    Pacer(Pacer),
}

/// Something for one participant's connection(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub to: ParticipantId,
    pub body: MessageBody,
}

/// One participant's petal on the displays. No ids: a display needs only a stable place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Petal {
    /// Stable small integer: never reused while its participant is in the session (inside the
    /// resume grace included); the smallest free slot goes to the next joiner.
    pub slot: u32,
    /// The latest score while fresh (≤ 15 s old), else `None`.
    pub coherence: Option<f64>,
    pub phase: Option<CoherencePhase>,
    pub quality: Option<Quality>,
}

/// What displays draw at 1 Hz (`room_snapshot`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSnapshot {
    pub session_id: SessionId,
    pub at_ms: i64,
    pub phase: Phase,
    pub phase_ends_at_ms: i64,
    pub session_ends_at_ms: i64,
    /// `session_ends_at_ms - at_ms`, never negative.
    pub time_left_ms: i64,
    /// In slot order.
    pub petals: Vec<Petal>,
}

/// A phase began (or its end moved: an extension repeats the current phase with its new end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseChange {
    pub session_id: SessionId,
    pub phase: Phase,
    pub started_at_ms: i64,
    /// `None` for `Complete`.
    pub ends_at_ms: Option<i64>,
}

/// Who a broadcast is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every participant connection and every display.
    Everyone,
    /// Displays (projector, console) only.
    Displays,
}

/// Something for the whole room.
#[derive(Debug, Clone, PartialEq)]
pub enum Broadcast {
    /// The participant count changed (coalesced: one per poll round, however many joined).
    ParticipantCount {
        session_id: SessionId,
        participant_count: u32,
    },
    /// The 1 Hz group figures (`group_metrics_update`).
    GroupMetrics(GroupSnapshot),
    PhaseChanged(PhaseChange),
    SessionComplete {
        session_id: SessionId,
        ended_at_ms: i64,
        summary: SessionSummary,
    },
    /// Displays only, at 1 Hz.
    RoomSnapshot(RoomSnapshot),
    Pacer(Pacer),
}

impl Broadcast {
    /// Who should receive it.
    pub fn audience(&self) -> Audience {
        match self {
            Self::RoomSnapshot(_) => Audience::Displays,
            _ => Audience::Everyone,
        }
    }
}
