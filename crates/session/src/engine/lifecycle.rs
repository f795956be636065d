//! A session's life, whoever drives it (the clock, the facilitator, a restore): opening a
//! rolling slot or a manual session, moving to the next phase, completing with its summary.
//!
//! Each step emits its records and broadcasts in the order the store and the room expect:
//! the session row before its first phase, a completion's closed participants before its
//! summary.

use super::Engine;
use crate::effect::{Broadcast, PhaseChange};
use crate::ids::SessionId;
use crate::record::{Phase, Record, ScheduleMode, SessionRow, SessionSummary};
use crate::running::Session;
use crate::schedule::{PhaseDurations, next_phase, slot_phase_at, slot_start_ms};

impl Engine {
    /// In rolling mode, each slot hosts one session: open the slot in progress, or wait for
    /// the next slot when this one already had its session (ended early by the facilitator).
    pub(super) fn open_rolling_or_wait(&mut self, now_ms: i64) {
        let phases = self.config.schedule.phases;
        let slot_ms = slot_start_ms(now_ms, &phases);
        if self.last_rolling_slot_ms == Some(slot_ms) {
            self.next_open_ms = Some(slot_ms + phases.total_ms());
        } else {
            self.open_session(now_ms, ScheduleMode::Rolling, phases);
        }
    }

    /// Opens a session at `now_ms`: a rolling one on the slot in progress, in the phase that
    /// slot is in; a manual one from its first phase.
    pub(super) fn open_session(
        &mut self,
        now_ms: i64,
        mode: ScheduleMode,
        phases: PhaseDurations,
    ) -> SessionId {
        let (slot_start, schedule_start_ms) = match mode {
            ScheduleMode::Rolling => {
                let slot_ms = slot_start_ms(now_ms, &phases);
                self.last_rolling_slot_ms = Some(slot_ms);
                (Some(slot_ms), slot_ms)
            }
            ScheduleMode::Manual => (None, now_ms),
        };
        let (phase, phase_started_at_ms, phase_ends_at_ms) =
            slot_phase_at(schedule_start_ms, &phases, now_ms);
        let row = SessionRow {
            session_id: SessionId::time_ordered(&mut self.rng, now_ms),
            mode,
            slot_start_ms: slot_start,
            started_at_ms: now_ms,
            preparation_secs: phases.preparation_secs,
            active_secs: phases.active_secs,
            integration_secs: phases.integration_secs,
            planned_end_ms: schedule_start_ms + phases.total_ms(),
        };
        let session = Session::new(
            row.clone(),
            phase,
            phase_started_at_ms,
            phase_ends_at_ms,
            now_ms,
        );
        self.records.push_back(Record::SessionOpened(row));
        self.records.push_back(Record::PhaseChanged {
            session_id: session.id(),
            phase,
            at_ms: phase_started_at_ms,
            ends_at_ms: Some(phase_ends_at_ms),
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
        let session_id = session.id();
        self.session = Some(session);
        self.participant_count_dirty = true;
        session_id
    }

    /// The current phase ends at `at_ms`: the next non-empty phase begins, or the session
    /// completes.
    pub(super) fn end_phase(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let mut phase = next_phase(session.phase);
        while phase != Phase::Complete && session.phases.phase_ms(phase) == 0 {
            phase = next_phase(phase);
        }
        if phase == Phase::Complete {
            self.complete_session(at_ms);
            return;
        }
        session.phase = phase;
        session.phase_started_at_ms = at_ms;
        session.phase_ends_at_ms = at_ms + session.phases.phase_ms(phase);
        self.records.push_back(Record::PhaseChanged {
            session_id: session.id(),
            phase,
            at_ms,
            ends_at_ms: Some(session.phase_ends_at_ms),
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
    }

    /// Completes the session at `at_ms`: its participants are closed, its summary recorded and
    /// broadcast, a waiting schedule change applied, and in rolling mode the next session
    /// opened (or awaited).
    pub(super) fn complete_session(&mut self, at_ms: i64) {
        // A round still spread over wake-ups is recorded before the session ends.
        self.finish_synchrony();
        let Some(session) = self.session.take() else {
            return;
        };
        let session_id = session.id();
        self.records.push_back(Record::PhaseChanged {
            session_id,
            phase: Phase::Complete,
            at_ms,
            ends_at_ms: None,
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(PhaseChange {
                session_id,
                phase: Phase::Complete,
                started_at_ms: at_ms,
                ends_at_ms: None,
            }));
        for participant in session.slots.iter().flatten() {
            self.records
                .push_back(session.closed_record(participant, at_ms));
        }
        let totals = &session.totals;
        let summary = SessionSummary {
            duration_ms: at_ms - session.row.started_at_ms,
            participants: session.joined_total,
            average_coherence: totals.average(),
            peak_coherence: totals.peak,
            secs_low: totals.secs_low,
            secs_medium: totals.secs_medium,
            secs_high: totals.secs_high,
            average_synchrony: totals.average_synchrony(),
        };
        self.records.push_back(Record::SessionCompleted {
            session_id,
            ended_at_ms: at_ms,
            summary: summary.clone(),
        });
        self.broadcasts.push_back(Broadcast::SessionComplete {
            session_id,
            ended_at_ms: at_ms,
            summary,
        });
        self.participant_count_dirty = false;
        if let Some(schedule) = self.pending_schedule.take() {
            self.config.schedule = schedule;
        }
        if self.config.schedule.mode == ScheduleMode::Rolling {
            // Open at the engine's present, not at the scheduled end: after a pause (a restore,
            // a suspended laptop) the slot in progress opens in the phase it is in, exactly as
            // at start-up.
            self.open_rolling_or_wait(self.now_ms.max(at_ms));
        }
    }
}
