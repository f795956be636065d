//! Why the engine refused an input.
//!
//! Every refusal is a value the hub turns into `error {code, message}` for the one connection
//! that sent the input; the engine's state is unchanged by a refused input. [`EngineError::code`]
//! gives the stable wire code so the hub never parses a message.

use synchub_hrv::InvalidRr;

use crate::ids::ParticipantId;
use crate::record::Phase;

/// An input the engine refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Manual mode with no session running (or a rolling slot that already hosted its session
    /// and the next one has not opened yet).
    #[error("no session is running")]
    NoActiveSession,
    /// The configured participant limit is reached.
    #[error("the session is full ({capacity} participants)")]
    SessionFull { capacity: u32 },
    /// The participant is not in the current session (never joined, left, closed after the
    /// resume grace, or the session completed).
    #[error("participant {0} is not in the current session")]
    UnknownParticipant(ParticipantId),
    /// No participant of the current session holds this token: the client joins as new.
    #[error("unknown or expired resume token")]
    UnknownResumeToken,
    /// A facilitator command named a session that is not the current one.
    #[error("that session is not the current one")]
    UnknownSession,
    /// `start_session` while a session is running.
    #[error("a session is already running")]
    SessionInProgress,
    /// Beats older than 5 minutes or more than 5 s in the future (hub time).
    #[error(
        "beats out of the accepted time range: oldest {oldest_age_ms:.0} ms old, newest {newest_ahead_ms:.0} ms ahead (limits 300000 ms old, 5000 ms ahead)"
    )]
    StaleBeats {
        oldest_age_ms: f64,
        newest_ahead_ms: f64,
    },
    /// A batch whose new beats would put the participant's beat time more than the slack
    /// ahead of the hub's clock: beats sent faster than a heart beats.
    #[error(
        "beats arrive faster than time passes: this batch would reach {ahead_ms:.0} ms ahead of the hub's clock (limit 10000 ms); send it again later"
    )]
    BeatsOutrunTime { ahead_ms: f64 },
    /// An RR value that can never be a heartbeat (NaN, infinite, not positive, > 60 s).
    #[error("rr[{index}] is not a heartbeat: {reason}")]
    InvalidRr { index: usize, reason: InvalidRr },
    /// A client score outside 0–100 or not finite.
    #[error("coherence must be a finite number in 0..=100, got {score}")]
    InvalidScore { score: f64 },
    /// A pacer outside (0, 60] breaths/min or an inhale ratio outside (0, 1).
    #[error(
        "pacer needs 0 < breaths_per_min <= 60 and 0 < inhale_ratio < 1, got {breaths_per_min} and {inhale_ratio}"
    )]
    InvalidPacer {
        breaths_per_min: f64,
        inhale_ratio: f64,
    },
    /// A schedule whose phases add up to zero seconds, or a zero extension.
    #[error("invalid schedule: {0}")]
    InvalidSchedule(&'static str),
    /// A facilitator command that makes no sense in the current phase.
    #[error("the session is in phase {0:?}")]
    WrongPhase(Phase),
    /// A restored session that cannot run (already complete, phase times inverted).
    #[error("cannot restore the session: {0}")]
    InvalidRestore(&'static str),
}

impl EngineError {
    /// The stable code the hub sends in `error {code, message}`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoActiveSession => "no_active_session",
            Self::SessionFull { .. } => "session_full",
            Self::UnknownParticipant(_) => "not_joined",
            Self::UnknownResumeToken => "unknown_resume_token",
            Self::UnknownSession => "unknown_session",
            Self::SessionInProgress => "session_in_progress",
            Self::StaleBeats { .. } => "stale_beats",
            Self::BeatsOutrunTime { .. } => "rate_limited",
            Self::InvalidRr { .. } | Self::InvalidScore { .. } | Self::InvalidPacer { .. } => {
                "invalid_payload"
            }
            Self::InvalidSchedule(_) => "invalid_schedule",
            Self::WrongPhase(_) => "wrong_phase",
            Self::InvalidRestore(_) => "invalid_restore",
        }
    }
}
