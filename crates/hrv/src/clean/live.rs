//! Live cleaning, one beat at a time: a beat is decided once a few later beats exist, over the
//! corrected history plus that look-ahead, with the same detection and corrections as a whole
//! recording.

use std::collections::VecDeque;

use super::correct::{median_of, split_count};
use super::detect::{Features, THRESHOLD_WINDOW_BEATS, decide};
use super::{
    ArtifactKind, LOOKAHEAD_BEATS, MAX_PLAUSIBLE_RR_MS, MEDIAN_WINDOW_BEATS, MIN_PLAUSIBLE_RR_MS,
    WorkingBeat,
};
use crate::Beat;

/// Beats of corrected history a streaming decision looks back over (half the 91-beat window).
const HISTORY_BEATS: usize = THRESHOLD_WINDOW_BEATS / 2;

/// The scratch of one live cleaning decision: the feature series over the 51-beat context and
/// the decisions found. Nothing in it survives a decision, so one is shared by every
/// participant's [`StreamingCleaner`] (it lives in the `StreamWorkspace`) instead of
/// costing each of them about 5 KiB.
#[derive(Debug, Default)]
pub(crate) struct CleaningScratch {
    features: Features,
    decisions: Vec<(usize, ArtifactKind)>,
}

/// Cleaning one live beat at a time: a beat is final once [`LOOKAHEAD_BEATS`] later beats
/// have arrived. Decisions use the corrected history (up to 45 beats) plus the look-ahead, so
/// the 91-beat thresholds are computed over the 51 beats that exist at decision time.
///
/// It holds only what must persist between beats (the corrected history, the beats waiting
/// for look-ahead, a carried short interval, a counter); the working space of a decision is a
/// [`CleaningScratch`] passed in.
#[derive(Debug, Default)]
pub(crate) struct StreamingCleaner {
    history_rr_ms: VecDeque<f64>,
    pending: VecDeque<WorkingBeat>,
    short_carry_ms: f64,
    detected: usize,
}

impl StreamingCleaner {
    pub(crate) fn new() -> Self {
        Self {
            history_rr_ms: VecDeque::with_capacity(HISTORY_BEATS + 1),
            pending: VecDeque::with_capacity(LOOKAHEAD_BEATS * 2),
            ..Self::default()
        }
    }

    /// Number of artifacts corrected so far.
    pub(crate) fn detected(&self) -> usize {
        self.detected
    }

    /// Accept a valid beat; impossible intervals are corrected on the way in.
    pub(crate) fn push(&mut self, beat: Beat) {
        let working = WorkingBeat {
            time_secs: beat.time_secs,
            rr_ms: beat.rr_ms + self.short_carry_ms,
            origin: 0,
            corrected: self.short_carry_ms > 0.0,
        };
        self.short_carry_ms = 0.0;
        if working.rr_ms < MIN_PLAUSIBLE_RR_MS {
            self.detected += 1;
            self.short_carry_ms = working.rr_ms;
        } else if working.rr_ms > MAX_PLAUSIBLE_RR_MS {
            self.detected += 1;
            let mut recent: [f64; MEDIAN_WINDOW_BEATS] = [0.0; MEDIAN_WINDOW_BEATS];
            let mut count = 0;
            let sources = self.pending.iter().rev().map(|b| b.rr_ms);
            for rr in sources.chain(self.history_rr_ms.iter().rev().copied()) {
                if count == MEDIAN_WINDOW_BEATS {
                    break;
                }
                recent[count] = rr;
                count += 1;
            }
            let pieces = split_count(working.rr_ms, median_of(&mut recent[..count]));
            let piece_ms = working.rr_ms / pieces as f64;
            for m in 0..pieces {
                let before_end = (pieces - 1 - m) as f64 * piece_ms / 1000.0;
                self.pending.push_back(WorkingBeat {
                    time_secs: beat.time_secs - before_end,
                    rr_ms: piece_ms,
                    origin: 0,
                    corrected: true,
                });
            }
        } else {
            self.pending.push_back(working);
        }
    }

    /// The next final beat and whether a correction touched it, once enough look-ahead exists.
    pub(crate) fn pop_final(&mut self, scratch: &mut CleaningScratch) -> Option<(Beat, bool)> {
        if self.pending.len() <= LOOKAHEAD_BEATS {
            return None;
        }
        let j = self.history_rr_ms.len();
        let context = self
            .history_rr_ms
            .iter()
            .copied()
            .chain(self.pending.iter().map(|b| b.rr_ms));
        scratch.decisions.clear();
        if scratch.features.compute_for_stream(context, j) {
            decide(&scratch.features, j, &mut scratch.decisions);
        }
        let kind = scratch
            .decisions
            .iter()
            .find(|&&(index, _)| index == j)
            .map(|&(_, kind)| kind);
        let first = self.pending.pop_front()?;
        let emitted = match kind {
            None => first,
            Some(kind) => {
                self.detected += 1;
                match kind {
                    ArtifactKind::Extra => {
                        let next = self.pending.pop_front()?;
                        WorkingBeat {
                            time_secs: next.time_secs,
                            rr_ms: first.rr_ms + next.rr_ms,
                            origin: 0,
                            corrected: true,
                        }
                    }
                    ArtifactKind::Missed => {
                        let half = first.rr_ms / 2.0;
                        let second = WorkingBeat {
                            rr_ms: half,
                            corrected: true,
                            ..first
                        };
                        self.pending.push_front(second);
                        WorkingBeat {
                            time_secs: first.time_secs - half / 1000.0,
                            rr_ms: half,
                            origin: 0,
                            corrected: true,
                        }
                    }
                    _ => {
                        let next = self.pending.front_mut()?;
                        let start = first.time_secs - first.rr_ms / 1000.0;
                        let shift_secs = (start + next.time_secs) / 2.0 - first.time_secs;
                        next.rr_ms -= shift_secs * 1000.0;
                        next.corrected = true;
                        WorkingBeat {
                            time_secs: first.time_secs + shift_secs,
                            rr_ms: first.rr_ms + shift_secs * 1000.0,
                            origin: 0,
                            corrected: true,
                        }
                    }
                }
            }
        };
        if self.history_rr_ms.len() == HISTORY_BEATS {
            self.history_rr_ms.pop_front();
        }
        self.history_rr_ms.push_back(emitted.rr_ms);
        Some((
            Beat {
                time_secs: emitted.time_secs,
                rr_ms: emitted.rr_ms,
            },
            emitted.corrected,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::steady_rr;
    use super::*;
    use crate::beat::beats_from_rr_ms;

    #[test]
    fn streaming_finds_the_same_missed_beat() {
        let mut rr = steady_rr(200);
        rr[100] += rr[101];
        rr.remove(101);
        let mut cleaner = StreamingCleaner::new();
        let mut scratch = CleaningScratch::default();
        let mut out = Vec::new();
        for beat in beats_from_rr_ms(&rr) {
            cleaner.push(beat);
            while let Some(final_beat) = cleaner.pop_final(&mut scratch) {
                out.push(final_beat);
            }
        }
        assert_eq!(cleaner.detected(), 1);
        assert_eq!(out.iter().filter(|(_, corrected)| *corrected).count(), 2);
        // All but the look-ahead beats are final.
        assert_eq!(out.len(), 200 - LOOKAHEAD_BEATS);
    }
}
