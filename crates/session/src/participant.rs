//! One participant's state inside the engine: connection, clock offset, analyser, latest score,
//! batch sequence numbers.
//!
//! Everything here is per participant and O(1) (or O(batch)) per input, which is what keeps the
//! engine free of per-message work proportional to the room size.

use std::collections::{BTreeMap, BTreeSet};

use synchub_hrv::{CoherencePhase, Quality, StreamingAnalyzer};

use crate::beat_clock::BeatClock;
use crate::ids::{ParticipantId, ResumeToken};
use crate::record::{DeviceKind, IntentionCategory, ParticipantRow, ScoreSource};
use crate::timing::FEEDBACK_INTERVAL_MS;

/// How many `time_sync` samples the offset estimate keeps.
const CLOCK_SAMPLES: usize = 8;

/// The latest score of a participant, from either side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LatestScore {
    pub score: f64,
    /// Hub time the score describes: the window end for hub scores, arrival for client scores.
    pub at_ms: i64,
    pub quality: Quality,
    pub source: ScoreSource,
    pub ratio: Option<f64>,
    pub breaths_per_min: Option<f64>,
    pub hr_bpm: Option<f64>,
}

impl LatestScore {
    pub fn phase(&self) -> CoherencePhase {
        CoherencePhase::from_score(self.score)
    }

    /// Fresh (≤ `fresh_ms` old at `now_ms`) and not low quality: counts in the group.
    pub fn counts_at(&self, now_ms: i64, fresh_ms: i64) -> bool {
        self.is_fresh_at(now_ms, fresh_ms) && self.quality != Quality::Low
    }

    pub fn is_fresh_at(&self, now_ms: i64, fresh_ms: i64) -> bool {
        now_ms - self.at_ms <= fresh_ms
    }
}

/// Whether the participant has a live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    Connected,
    /// Dropped at `since_ms`; closed at `grace_ends_ms` unless it resumes first.
    Disconnected {
        since_ms: i64,
        grace_ends_ms: i64,
    },
}

/// The client's clock offset (hub − client), from `time_sync` samples.
///
/// Each sample is `hub arrival time − client send time`, the true offset plus the one-way
/// latency; latency is never negative, so the smallest recent sample is the best estimate.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClockOffset {
    samples_ms: Vec<f64>,
    next: usize,
}

impl ClockOffset {
    pub fn add_sample(&mut self, offset_ms: f64) {
        if !offset_ms.is_finite() {
            return;
        }
        if self.samples_ms.len() < CLOCK_SAMPLES {
            self.samples_ms.push(offset_ms);
        } else {
            self.samples_ms[self.next] = offset_ms;
        }
        self.next = (self.next + 1) % CLOCK_SAMPLES;
    }

    /// Hub − client, ms; 0 when the client never synced (clocks assumed to agree).
    pub fn offset_ms(&self) -> f64 {
        self.samples_ms
            .iter()
            .copied()
            .reduce(f64::min)
            .unwrap_or(0.0)
    }
}

/// What the engine knows of one batch sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqState {
    /// Handed to the store, not yet confirmed.
    Pending,
    /// Confirmed durable: a resend is answered with `rr_ack` again.
    Durable,
}

/// The batch seqs a participant has sent, so a resend is recognised (and re-acknowledged once
/// durable) rather than stored twice.
///
/// Clients number their batches 0, 1, 2, … so durable seqs are kept as runs (`start → end`,
/// inclusive, never adjacent): a participant sending one batch a second for an hour costs one
/// run, not 3 600 map entries (a map of every seq grew by about 30 KiB per participant over a
/// 15-minute session). Seqs waiting for the store are few and kept as they are.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqLog {
    durable: BTreeMap<u64, u64>,
    pending: BTreeSet<u64>,
}

impl SeqLog {
    /// What is known of `seq`: nothing, pending or durable.
    pub fn get(&self, seq: u64) -> Option<SeqState> {
        if self.pending.contains(&seq) {
            return Some(SeqState::Pending);
        }
        let (_, &end) = self.durable.range(..=seq).next_back()?;
        (seq <= end).then_some(SeqState::Durable)
    }

    /// `seq` was handed to the store (the caller checked it was unknown).
    pub fn insert_pending(&mut self, seq: u64) {
        self.pending.insert(seq);
    }

    /// The store confirmed `seq`: true when it was pending (and is now durable).
    pub fn mark_durable(&mut self, seq: u64) -> bool {
        let was_pending = self.pending.remove(&seq);
        if was_pending {
            self.insert_durable(seq);
        }
        was_pending
    }

    /// `seq` is durable, merged into the runs beside it.
    pub fn insert_durable(&mut self, seq: u64) {
        if self.get(seq) == Some(SeqState::Durable) {
            return;
        }
        let start = seq
            .checked_sub(1)
            .and_then(|before| {
                let (&start, &end) = self.durable.range(..=before).next_back()?;
                (end == before).then_some(start)
            })
            .unwrap_or(seq);
        let end = seq
            .checked_add(1)
            .and_then(|after| self.durable.remove(&after))
            .unwrap_or(seq);
        self.durable.insert(start, end);
    }

    #[cfg(test)]
    fn durable_runs(&self) -> usize {
        self.durable.len()
    }
}

pub(crate) struct Participant {
    pub id: ParticipantId,
    pub slot: u32,
    pub token: ResumeToken,
    /// Who the participant is across sessions (`hex(HMAC-SHA256(org_secret, userId))`): what
    /// the hub exports or erases when the token's holder asks for their data.
    pub pseudonym: String,
    pub device: DeviceKind,
    pub intention: Option<IntentionCategory>,
    pub research_consent: bool,
    pub connection: Connection,
    pub clock: ClockOffset,
    /// Created on the first RR batch: score-only clients never pay for one.
    pub analyzer: Option<Box<StreamingAnalyzer>>,
    pub seqs: SeqLog,
    pub beat_clock: BeatClock,
    pub latest: Option<LatestScore>,
    /// Highest score that was not low quality.
    pub peak: Option<f64>,
    pub high_secs: f64,
    pub next_feedback_ms: i64,
}

impl Participant {
    /// The participant of `row`, entering display `slot` at `now_ms`: no analyser and no score
    /// yet, first feedback one interval from now.
    pub fn new(row: &ParticipantRow, slot: u32, connection: Connection, now_ms: i64) -> Self {
        Self {
            id: row.participant_id,
            slot,
            token: row.resume_token,
            pseudonym: row.pseudonym.clone(),
            device: row.device,
            intention: row.intention,
            research_consent: row.research_consent,
            connection,
            clock: ClockOffset::default(),
            analyzer: None,
            seqs: SeqLog::default(),
            beat_clock: BeatClock::default(),
            latest: None,
            peak: None,
            high_secs: 0.0,
            next_feedback_ms: now_ms + FEEDBACK_INTERVAL_MS,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connection == Connection::Connected
    }

    pub fn set_latest(&mut self, latest: LatestScore) {
        if latest.quality != Quality::Low {
            self.peak = Some(
                self.peak
                    .map_or(latest.score, |peak| peak.max(latest.score)),
            );
        }
        self.latest = Some(latest);
    }
}

#[cfg(test)]
mod tests {
    use super::{ClockOffset, SeqLog, SeqState};

    #[test]
    fn consecutive_durable_seqs_are_one_run() {
        let mut log = SeqLog::default();
        for seq in 0..3_600 {
            assert_eq!(log.get(seq), None);
            log.insert_pending(seq);
            assert_eq!(log.get(seq), Some(SeqState::Pending));
            assert!(log.mark_durable(seq));
            assert!(!log.mark_durable(seq), "only a pending seq becomes durable");
        }
        assert_eq!(log.durable_runs(), 1);
        assert_eq!(log.get(0), Some(SeqState::Durable));
        assert_eq!(log.get(3_599), Some(SeqState::Durable));
        assert_eq!(log.get(3_600), None);
    }

    #[test]
    fn runs_merge_whatever_order_the_store_confirms_in() {
        let mut log = SeqLog::default();
        for seq in [5, 7, 6, 10, 1, 2, u64::MAX, 0] {
            log.insert_pending(seq);
        }
        for seq in [7, 5, 1, u64::MAX, 0] {
            assert!(log.mark_durable(seq));
        }
        // Durable: 0–1, 5, 7, MAX; pending: 2, 6, 10.
        assert_eq!(log.durable_runs(), 4);
        let state = |seq| log.get(seq);
        assert_eq!(state(6), Some(SeqState::Pending));
        assert_eq!(state(3), None);
        assert_eq!(state(8), None);
        assert!(log.mark_durable(6));
        assert!(log.mark_durable(2));
        // 0–2 and 5–7.
        assert_eq!(log.durable_runs(), 3);
        for seq in [0, 1, 2, 5, 6, 7, u64::MAX] {
            assert_eq!(log.get(seq), Some(SeqState::Durable), "{seq}");
        }
        for seq in [3, 4, 8, 9] {
            assert_eq!(log.get(seq), None, "{seq}");
        }
        assert_eq!(log.get(10), Some(SeqState::Pending));
        // Restored durable seqs merge the same way, repeats included.
        log.insert_durable(3);
        log.insert_durable(4);
        log.insert_durable(4);
        assert_eq!(log.durable_runs(), 2);
    }

    #[test]
    fn clock_offset_is_the_smallest_recent_sample() {
        let mut clock = ClockOffset::default();
        assert_eq!(clock.offset_ms(), 0.0);
        clock.add_sample(1_050.0);
        clock.add_sample(1_010.0);
        clock.add_sample(1_200.0);
        assert_eq!(clock.offset_ms(), 1_010.0);
        clock.add_sample(f64::NAN);
        assert_eq!(clock.offset_ms(), 1_010.0);
        // Eight newer samples push the old minimum out.
        for _ in 0..8 {
            clock.add_sample(2_000.0);
        }
        assert_eq!(clock.offset_ms(), 2_000.0);
    }
}
