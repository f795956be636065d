//! The 1 Hz tick: the group's figures over fresh scores, the room snapshot for the displays,
//! the stored group snapshot, the `personal_feedback` that came due, and on every fifth tick
//! the start of a synchrony round.
//!
//! One pass over the room plus an O(n) median selection; nothing else visits every
//! participant each second.

use synchub_hrv::CoherencePhase;

use super::Engine;
use crate::effect::{Broadcast, Message, MessageBody, Petal, RoomSnapshot};
use crate::group::GroupStats;
use crate::record::{GroupSnapshot, Record};
use crate::running::Session;
use crate::timing::{FEEDBACK_INTERVAL_MS, FRESH_MS, SYNCHRONY_EVERY_TICKS, TICK_MS};

impl Engine {
    /// The group's figures at `now_ms` over the scores that count then, computed on demand and
    /// neither recorded nor broadcast: what an original client gets right after its own
    /// `update_coherence`, so that the figures include the score it just sent. The session-long
    /// totals stay the tick's (the peak shown is at least this average). `None` without a
    /// session. One pass over the room plus an O(n) median, as in the tick; a caller serving
    /// many updates asks once per batch of them, not once per update.
    pub fn group_metrics_at(&mut self, now_ms: i64) -> Option<GroupSnapshot> {
        let session = self.session.as_ref()?;
        let scores = &mut self.scratch_scores;
        scores.clear();
        scores.extend(
            session
                .slots
                .iter()
                .flatten()
                .filter_map(|participant| participant.latest)
                .filter(|latest| latest.counts_at(now_ms, FRESH_MS))
                .map(|latest| latest.score),
        );
        let stats = GroupStats::from_scores(scores);
        let peak = match (session.totals.peak, stats.active_count) {
            (peak, 0) => peak.unwrap_or(0.0),
            (peak, _) => peak.map_or(stats.average, |peak| peak.max(stats.average)),
        };
        Some(group_snapshot(session, now_ms, &stats, peak))
    }

    /// The 1 Hz tick: group metrics, room snapshot, group-snapshot record, due feedback, and
    /// every fifth tick a synchrony round. One pass over the room plus an O(n) median.
    pub(super) fn tick(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        session.next_tick_ms = at_ms + TICK_MS;
        let tick_index = (at_ms - session.tick_origin_ms) / TICK_MS;
        if tick_index % SYNCHRONY_EVERY_TICKS == 0 {
            self.start_synchrony_round(at_ms);
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let tick_secs = TICK_MS as f64 / 1000.0;
        let scores = &mut self.scratch_scores;
        scores.clear();
        let due = &mut self.scratch_due;
        due.clear();
        let mut petals = Vec::with_capacity(session.participant_count as usize);
        for participant in session.slots.iter_mut().flatten() {
            let mut petal = Petal {
                slot: participant.slot,
                coherence: None,
                phase: None,
                quality: None,
            };
            if let Some(latest) = participant.latest
                && latest.is_fresh_at(at_ms, FRESH_MS)
            {
                petal.coherence = Some(latest.score);
                petal.phase = Some(latest.phase());
                petal.quality = Some(latest.quality);
                if latest.counts_at(at_ms, FRESH_MS) {
                    scores.push(latest.score);
                    if latest.phase() == CoherencePhase::High {
                        participant.high_secs += tick_secs;
                    }
                }
            }
            petals.push(petal);
            if participant.is_connected() && participant.next_feedback_ms <= at_ms {
                participant.next_feedback_ms += FEEDBACK_INTERVAL_MS;
                if participant.next_feedback_ms <= at_ms {
                    participant.next_feedback_ms = at_ms + FEEDBACK_INTERVAL_MS;
                }
                // A stale score is not news: a phone whose sensor stopped hears nothing
                // rather than its score of a minute ago.
                if participant
                    .latest
                    .is_some_and(|latest| latest.is_fresh_at(at_ms, FRESH_MS))
                {
                    due.push(participant.slot);
                }
            }
        }
        let stats = GroupStats::from_scores(scores);
        session.totals.add_tick(&stats, tick_secs);
        let snapshot = group_snapshot(session, at_ms, &stats, session.totals.peak.unwrap_or(0.0));
        session.group = snapshot.clone();
        if session.participant_count > 0 {
            self.records
                .push_back(Record::GroupSnapshot(snapshot.clone()));
        }
        self.broadcasts.push_back(Broadcast::GroupMetrics(snapshot));
        let session_ends_at_ms = session.ends_at_ms();
        self.broadcasts
            .push_back(Broadcast::RoomSnapshot(RoomSnapshot {
                session_id: session.id(),
                at_ms,
                phase: session.phase,
                phase_ends_at_ms: session.phase_ends_at_ms,
                session_ends_at_ms,
                time_left_ms: (session_ends_at_ms - at_ms).max(0),
                petals,
            }));
        for &slot in due.iter() {
            let Some(participant) = session.slots[slot as usize].as_ref() else {
                continue;
            };
            let Some(latest) = participant.latest else {
                continue;
            };
            self.messages.push_back(Message {
                to: participant.id,
                body: MessageBody::PersonalFeedback(session.feedback(at_ms, &latest)),
            });
        }
    }
}

/// The group's figures at `at_ms` from one pass's `stats`, as stored and sent.
fn group_snapshot(
    session: &Session,
    at_ms: i64,
    stats: &GroupStats,
    peak_coherence: f64,
) -> GroupSnapshot {
    GroupSnapshot {
        session_id: session.id(),
        at_ms,
        phase: session.phase,
        participant_count: session.participant_count,
        active_count: stats.active_count,
        average_coherence: stats.average,
        median_coherence: stats.median,
        std_coherence: stats.std,
        peak_coherence,
        coherence_phase: stats.phase(),
        distribution_low: stats.low,
        distribution_medium: stats.medium,
        distribution_high: stats.high,
        synchrony_index: session.synchrony_index,
        synchrony_baseline: session.synchrony_baseline,
    }
}
