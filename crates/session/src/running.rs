//! The running session's state: its row, phase timeline, participants by display slot, and
//! the figures of its latest tick.
//!
//! The engine owns at most one; everything here is bookkeeping (slots, id and token lookups,
//! the tokens of participants who left, the resume-grace queue), while the engine decides what
//! happens when.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use synchub_hrv::CoherencePhase;

use crate::effect::{Contribution, PersonalFeedback, PhaseChange, SessionInfo};
use crate::error::EngineError;
use crate::group::SessionTotals;
use crate::ids::{ParticipantId, ResumeToken, SessionId};
use crate::input::TokenOwner;
use crate::participant::{Connection, LatestScore, Participant};
use crate::record::{GroupSnapshot, ParticipantClosed, Phase, Record, SessionRow};
use crate::schedule::{PhaseDurations, next_phase};
use crate::timing::TICK_MS;

/// A participant who left the session (or was closed after the resume grace): their token
/// still names them until the session completes, so they can export or erase their data
/// after leaving the room.
pub(crate) struct LeftParticipant {
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
    /// Participants who left, by the same 64-bit token prefix as `by_token`.
    pub(crate) left_by_token: BTreeMap<u64, LeftParticipant>,
    pub(crate) grace: BinaryHeap<Reverse<(i64, ParticipantId)>>,
    pub(crate) participant_count: u32,
    pub(crate) joined_total: u32,
    pub(crate) group: GroupSnapshot,
    pub(crate) totals: SessionTotals,
    pub(crate) synchrony_index: Option<f64>,
    /// The latest round's surrogate index (chance level), set with `synchrony_index`.
    pub(crate) synchrony_baseline: Option<f64>,
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
            synchrony_baseline: None,
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
            left_by_token: BTreeMap::new(),
            grace: BinaryHeap::new(),
            participant_count: 0,
            joined_total: 0,
            group,
            totals: SessionTotals::default(),
            synchrony_index: None,
            synchrony_baseline: None,
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

    /// The `personal_feedback` for a participant whose latest score is `latest`, against the
    /// group figures of the latest tick.
    pub(crate) fn feedback(&self, at_ms: i64, latest: &LatestScore) -> PersonalFeedback {
        let group_average = self.group.average_coherence;
        PersonalFeedback {
            session_id: self.id(),
            at_ms,
            your_coherence: latest.score,
            group_average,
            contribution: if latest.score >= group_average {
                Contribution::HelpingLift
            } else {
                Contribution::BeingSupported
            },
            coherence_phase: latest.phase(),
            session_phase: self.phase,
            coherence_ratio: latest.ratio,
            heart_rate_bpm: latest.hr_bpm,
            breaths_per_min: latest.breaths_per_min,
            quality: latest.quality,
        }
    }

    pub(crate) fn slot_of(&self, participant: ParticipantId) -> Result<usize, EngineError> {
        self.by_id
            .get(&participant)
            .map(|&slot| slot as usize)
            .ok_or(EngineError::UnknownParticipant(participant))
    }

    pub(crate) fn participant(&self, participant: ParticipantId) -> Option<&Participant> {
        let slot = *self.by_id.get(&participant)?;
        self.slots.get(slot as usize)?.as_ref()
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

    /// Whether a new token with this lookup key could be confused with one already handed out
    /// in this session (to a participant present or gone).
    pub(crate) fn token_key_in_use(&self, key: u64) -> bool {
        self.by_token.contains_key(&key) || self.left_by_token.contains_key(&key)
    }

    /// Who holds `token`: a participant in the session or one who left it. The first 64 bits
    /// find the candidates; each is then compared whole, in constant time.
    pub(crate) fn token_owner(&self, token: &ResumeToken) -> Option<TokenOwner> {
        let key = token.lookup_key();
        let present = self
            .by_token
            .get(&key)
            .and_then(|&id| self.participant(id))
            .map(|participant| (participant.token, participant.id, &participant.pseudonym));
        let left = self
            .left_by_token
            .get(&key)
            .map(|left| (left.token, left.participant_id, &left.pseudonym));
        let (_, participant_id, pseudonym) = present
            .into_iter()
            .chain(left)
            .find(|(known, _, _)| known.constant_time_eq(token))?;
        Some(TokenOwner {
            session_id: self.id(),
            participant_id,
            pseudonym: pseudonym.clone(),
        })
    }

    /// Takes the participant out of the session (its slot freed, its token kept among those
    /// of participants who left).
    pub(crate) fn remove(&mut self, participant: ParticipantId) -> Option<Participant> {
        let slot = self.by_id.remove(&participant)?;
        let removed = self.slots.get_mut(slot as usize)?.take()?;
        let key = removed.token.lookup_key();
        if self.by_token.get(&key) == Some(&participant) {
            self.by_token.remove(&key);
        }
        self.left_by_token.insert(
            key,
            LeftParticipant {
                token: removed.token,
                participant_id: participant,
                pseudonym: removed.pseudonym.clone(),
            },
        );
        self.free_slots.push(Reverse(slot));
        self.participant_count -= 1;
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
