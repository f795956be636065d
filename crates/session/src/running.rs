//! The running session's state: its row, phase timeline, participants by display slot, and
//! the figures of its latest tick.
//!
//! The engine owns at most one; everything here is bookkeeping (slots, id and token lookups,
//! the resume-grace queue), while the engine decides what happens when.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use synchub_hrv::CoherencePhase;

use crate::effect::{PhaseChange, SessionInfo};
use crate::engine::TICK_MS;
use crate::error::EngineError;
use crate::group::SessionTotals;
use crate::ids::{ParticipantId, ResumeToken, SessionId};
use crate::participant::{Connection, Participant};
use crate::record::{GroupSnapshot, ParticipantClosed, Phase, Record, SessionRow};
use crate::schedule::{PhaseDurations, next_phase};

/// A participant who is no longer in the session, by the token they were given.
pub(crate) struct TokenOwnerOf {
    pub(crate) token: ResumeToken,
    pub(crate) participant_id: ParticipantId,
    pub(crate) pseudonym: String,
}

/// The state of the running session.
pub(crate) struct Session {
    pub(crate) row: SessionRow,
    pub(crate) phases: PhaseDurations,
    pub(crate) phase: Phase,
    pub(crate) phase_started_at_ms: i64,
    pub(crate) phase_ends_at_ms: i64,
    /// Ticks fall on `tick_origin_ms + k * TICK_MS` (whole UTC seconds for rolling sessions).
    pub(crate) tick_origin_ms: i64,
    pub(crate) next_tick_ms: i64,
    /// Participants by display slot.
    pub(crate) slots: Vec<Option<Participant>>,
    // Ordered maps rather than hash maps: no hidden OS randomness for hash keys, and lookups
    // stay O(log n).
    pub(crate) free_slots: BinaryHeap<Reverse<u32>>,
    pub(crate) by_id: BTreeMap<ParticipantId, u32>,
    pub(crate) by_token: BTreeMap<u64, ParticipantId>,
    pub(crate) grace: BinaryHeap<Reverse<(i64, ParticipantId)>>,
    /// Participants who left or were closed after the grace: their tokens still name them for
    /// their data rights until the session completes.
    pub(crate) left: Vec<TokenOwnerOf>,
    pub(crate) participant_count: u32,
    pub(crate) joined_total: u32,
    pub(crate) group: GroupSnapshot,
    pub(crate) totals: SessionTotals,
    pub(crate) synchrony_index: Option<f64>,
}

impl Session {
    pub(crate) fn new(
        row: SessionRow,
        phase: Phase,
        phase_started_at_ms: i64,
        phase_ends_at_ms: i64,
        now_ms: i64,
    ) -> Self {
        let phases = PhaseDurations {
            preparation_secs: row.preparation_secs,
            active_secs: row.active_secs,
            integration_secs: row.integration_secs,
        };
        let tick_origin_ms = row.slot_start_ms.unwrap_or(row.started_at_ms);
        let next_tick_ms =
            tick_origin_ms + ((now_ms - tick_origin_ms).div_euclid(TICK_MS) + 1) * TICK_MS;
        let group = GroupSnapshot {
            session_id: row.session_id,
            at_ms: now_ms,
            phase,
            participant_count: 0,
            active_count: 0,
            average_coherence: 0.0,
            median_coherence: 0.0,
            std_coherence: 0.0,
            peak_coherence: 0.0,
            coherence_phase: CoherencePhase::Low,
            distribution_low: 0,
            distribution_medium: 0,
            distribution_high: 0,
            synchrony_index: None,
        };
        Self {
            row,
            phases,
            phase,
            phase_started_at_ms,
            phase_ends_at_ms,
            tick_origin_ms,
            next_tick_ms,
            slots: Vec::new(),
            free_slots: BinaryHeap::new(),
            by_id: BTreeMap::new(),
            by_token: BTreeMap::new(),
            grace: BinaryHeap::new(),
            left: Vec::new(),
            participant_count: 0,
            joined_total: 0,
            group,
            totals: SessionTotals::default(),
            synchrony_index: None,
        }
    }

    pub(crate) fn id(&self) -> SessionId {
        self.row.session_id
    }

    /// When the session completes as things stand.
    pub(crate) fn ends_at_ms(&self) -> i64 {
        let mut end_ms = self.phase_ends_at_ms;
        let mut phase = next_phase(self.phase);
        while phase != Phase::Complete {
            end_ms += self.phases.phase_ms(phase);
            phase = next_phase(phase);
        }
        end_ms
    }

    pub(crate) fn info(&self) -> SessionInfo {
        SessionInfo {
            session_id: self.id(),
            mode: self.row.mode,
            slot_start_ms: self.row.slot_start_ms,
            started_at_ms: self.row.started_at_ms,
            schedule_start_ms: self.tick_origin_ms,
            phase: self.phase,
            phase_started_at_ms: self.phase_started_at_ms,
            phase_ends_at_ms: self.phase_ends_at_ms,
            ends_at_ms: self.ends_at_ms(),
            participant_count: self.participant_count,
        }
    }

    pub(crate) fn phase_change(&self) -> PhaseChange {
        PhaseChange {
            session_id: self.id(),
            phase: self.phase,
            started_at_ms: self.phase_started_at_ms,
            ends_at_ms: Some(self.phase_ends_at_ms),
        }
    }

    pub(crate) fn slot_of(&self, participant: ParticipantId) -> Result<usize, EngineError> {
        self.by_id
            .get(&participant)
            .map(|&slot| slot as usize)
            .ok_or(EngineError::UnknownParticipant(participant))
    }

    pub(crate) fn participant_mut(
        &mut self,
        participant: ParticipantId,
    ) -> Result<&mut Participant, EngineError> {
        let slot = self.slot_of(participant)?;
        self.slots[slot]
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))
    }

    pub(crate) fn insert(&mut self, participant: Participant) {
        let slot = participant.slot as usize;
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, || None);
        }
        self.by_id.insert(participant.id, participant.slot);
        self.by_token
            .insert(participant.token.lookup_key(), participant.id);
        self.participant_count += 1;
        self.slots[slot] = Some(participant);
    }

    pub(crate) fn take_free_slot(&mut self) -> u32 {
        match self.free_slots.pop() {
            Some(Reverse(slot)) => slot,
            None => u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn remove(&mut self, participant: ParticipantId) -> Option<Participant> {
        let slot = self.by_id.remove(&participant)?;
        let removed = self.slots.get_mut(slot as usize)?.take()?;
        if self.by_token.get(&removed.token.lookup_key()) == Some(&participant) {
            self.by_token.remove(&removed.token.lookup_key());
        }
        self.free_slots.push(Reverse(slot));
        self.participant_count -= 1;
        self.left.push(TokenOwnerOf {
            token: removed.token,
            participant_id: removed.id,
            pseudonym: removed.pseudonym.clone(),
        });
        Some(removed)
    }

    pub(crate) fn closed_record(&self, participant: &Participant, at_ms: i64) -> Record {
        let left_at_ms = match participant.connection {
            Connection::Connected => at_ms,
            Connection::Disconnected { since_ms, .. } => since_ms.min(at_ms),
        };
        Record::ParticipantClosed(ParticipantClosed {
            session_id: self.id(),
            participant_id: participant.id,
            left_at_ms,
            peak_coherence: participant.peak,
            high_coherence_secs: participant.high_secs,
        })
    }
}
