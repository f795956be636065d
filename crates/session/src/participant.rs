//! One participant's state inside the engine: connection, clock offset, analyser, latest score,
//! batch sequence numbers.
//!
//! Everything here is per participant and O(1) (or O(batch)) per input, which is what keeps the
//! engine free of per-message work proportional to the room size.

use std::collections::BTreeMap;

use synchub_hrv::{CoherencePhase, Quality, StreamingAnalyzer};

use crate::ids::{ParticipantId, ResumeToken};
use crate::record::{DeviceKind, IntentionCategory, ScoreSource};

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

pub(crate) struct Participant {
    pub id: ParticipantId,
    pub slot: u32,
    pub token: ResumeToken,
    pub device: DeviceKind,
    pub intention: Option<IntentionCategory>,
    pub research_consent: bool,
    pub connection: Connection,
    pub clock: ClockOffset,
    /// Created on the first RR batch: score-only clients never pay for one.
    pub analyzer: Option<Box<StreamingAnalyzer>>,
    pub seqs: BTreeMap<u64, SeqState>,
    pub latest: Option<LatestScore>,
    /// Highest score that was not low quality.
    pub peak: Option<f64>,
    pub high_secs: f64,
    pub next_feedback_ms: i64,
}

impl Participant {
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
    use super::ClockOffset;

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
