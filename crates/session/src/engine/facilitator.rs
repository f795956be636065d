//! What the facilitator decides: start a session, advance, extend or end its phase, change the
//! schedule, set the room's pacer.
//!
//! The commands check what they are given and the session they name; what a session's opening,
//! phase change or completion then emits is `lifecycle`'s, shared with the clock.

use super::Engine;
use crate::effect::{Broadcast, Pacer};
use crate::error::EngineError;
use crate::ids::SessionId;
use crate::record::{Phase, ScheduleMode};
use crate::schedule::ScheduleConfig;

/// A pacer breathes between 0 (exclusive) and 60 times a minute and inhales for part of each
/// breath.
pub(super) fn validate_pacer(breaths_per_min: f64, inhale_ratio: f64) -> Result<(), EngineError> {
    let bpm_ok = breaths_per_min > 0.0 && breaths_per_min <= 60.0;
    let ratio_ok = inhale_ratio > 0.0 && inhale_ratio < 1.0;
    if bpm_ok && ratio_ok {
        Ok(())
    } else {
        Err(EngineError::InvalidPacer {
            breaths_per_min,
            inhale_ratio,
        })
    }
}

impl Engine {
    /// The room's pacer changes: broadcast to everyone, and sent to each joiner from now on.
    pub fn handle_set_pacer(
        &mut self,
        now_ms: i64,
        breaths_per_min: f64,
        inhale_ratio: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        validate_pacer(breaths_per_min, inhale_ratio)?;
        self.pacer = Pacer {
            breaths_per_min,
            inhale_ratio,
            epoch_hub_ms: now_ms,
        };
        self.broadcasts.push_back(Broadcast::Pacer(self.pacer));
        Ok(())
    }

    /// Changes the schedule. With a session running it applies once that session completes
    /// (the running session keeps its phases); with none it applies now (switching to rolling
    /// opens the slot in progress).
    pub fn handle_set_schedule(
        &mut self,
        now_ms: i64,
        schedule: ScheduleConfig,
    ) -> Result<(), EngineError> {
        schedule.phases.validate()?;
        let now_ms = self.advance_to(now_ms);
        if self.session.is_some() {
            self.pending_schedule = Some(schedule);
        } else {
            self.pending_schedule = None;
            self.config.schedule = schedule;
            self.next_open_ms = None;
            if schedule.mode == ScheduleMode::Rolling {
                self.open_rolling_or_wait(now_ms);
            }
        }
        Ok(())
    }

    /// Starts a session now (manual mode, or a rolling hub between sessions): phases from the
    /// current schedule. `SessionInProgress` when one is running.
    pub fn handle_start_session(&mut self, now_ms: i64) -> Result<SessionId, EngineError> {
        let now_ms = self.advance_to(now_ms);
        if self.session.is_some() {
            return Err(EngineError::SessionInProgress);
        }
        self.next_open_ms = None;
        let phases = self.config.schedule.phases;
        Ok(self.open_session(now_ms, ScheduleMode::Manual, phases))
    }

    /// Ends the current phase now; the next begins (after integration, the session
    /// completes). Returns the phase now running (`Complete` when the session completed).
    pub fn handle_advance_phase(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
    ) -> Result<Phase, EngineError> {
        let now_ms = self.advance_to(now_ms);
        self.check_current(session_id)?;
        self.end_phase(now_ms);
        Ok(match &self.session {
            Some(session) if session.id() == session_id => session.phase,
            _ => Phase::Complete,
        })
    }

    /// Adds `extra_secs` to the current phase (and so to the session). Broadcasts the current
    /// phase again with its new end; nothing is recorded, because the next phase's
    /// `PhaseChanged` record carries the real end. Returns the new phase end.
    pub fn handle_extend_phase(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
        extra_secs: u32,
    ) -> Result<i64, EngineError> {
        self.advance_to(now_ms);
        self.check_current(session_id)?;
        if extra_secs == 0 {
            return Err(EngineError::InvalidSchedule("an extension of zero seconds"));
        }
        let session = self.session.as_mut().ok_or(EngineError::NoActiveSession)?;
        session.phase_ends_at_ms += i64::from(extra_secs) * 1000;
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
        Ok(session.phase_ends_at_ms)
    }

    /// Completes the current session now.
    pub fn handle_end_session(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        self.check_current(session_id)?;
        self.complete_session(now_ms);
        Ok(())
    }

    /// A command names the session it means: `NoActiveSession` without one, `UnknownSession`
    /// when the one running is another (the console's view was stale).
    fn check_current(&self, session_id: SessionId) -> Result<(), EngineError> {
        match &self.session {
            None => Err(EngineError::NoActiveSession),
            Some(session) if session.id() != session_id => Err(EngineError::UnknownSession),
            Some(_) => Ok(()),
        }
    }
}
