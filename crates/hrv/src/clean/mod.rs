//! Artifact correction (coherence.md §1): Lipponen & Tarvainen (2019), as Kubios uses it and
//! as NeuroKit2's `signal_fixpeaks(method="kubios")` implements it.
//!
//! One missed beat (an interval twice as long) puts more power into a 64 s spectrum than the
//! whole breathing rhythm, so beats are corrected before any analysis — corrected, never
//! deleted, because deleting an interval shifts every later beat in time.
//!
//! Detection, per beat `i` (NeuroKit2's `_find_artifacts`):
//! - `dRR_i = rr_i − rr_{i−1}`, normalised by `th1 = 5.2 × (Q3 − Q1)/2` of `|dRR|` over the 91
//!   beats centred on `i`;
//! - `mRR_i = rr_i − median11(rr)_i` (negative values doubled), normalised by the same kind of
//!   threshold `th2` computed on `|mRR|`;
//! - subspaces `s12`, `s22` from the neighbouring `dRR`, and the decision tree of the paper's
//!   Figure 1 with `c1 = 0.13`, `c2 = 0.17`: ectopic, long/short, missed, extra.
//!
//! Correction (NeuroKit2's `_correct_artifacts`): extra beats are merged with the following
//! interval, missed beats split in two, ectopic and long/short beats moved to the midpoint of
//! their neighbours (both intervals around them become their mean). Detection and correction
//! repeat while the number of artifacts keeps falling.
//!
//! Before that, intervals no heart produces (`rr < 250 ms` or `rr > 2500 ms`) are corrected:
//! a long one is split into as many equal beats as the local median rate implies, a short one
//! merged with the following beat.
//!
//! Differences from NeuroKit2, all at the edges: NeuroKit2 works on peak positions in whole
//! samples and fabricates the first interval; we work on the intervals themselves, so the first
//! beat is a real interval and may be corrected like any other.
//!
//! **Layout.** This file holds the constants, the result types and [`clean_beats`], the loop
//! over a whole recording. Beside it: `detect`, the feature series, thresholds and decision
//! tree; `correct`, the corrections (impossible intervals, merges, splits, moves to the
//! midpoint); `live`, the same cleaning one beat at a time with a few beats of look-ahead.

mod correct;
mod detect;
mod live;

use crate::Beat;

use self::correct::{apply_corrections, correct_impossible};
use self::detect::{Features, detect_all};
pub(crate) use self::live::{CleaningScratch, StreamingCleaner};

/// Shortest interval a heart produces; shorter ones are corrected.
pub const MIN_PLAUSIBLE_RR_MS: f64 = 250.0;
/// Longest interval a heart produces; longer ones are corrected.
pub const MAX_PLAUSIBLE_RR_MS: f64 = 2500.0;
/// Beats of look-ahead a streaming beat needs before it is final.
pub const LOOKAHEAD_BEATS: usize = 5;
/// Beats in the running median that `mRR` and the splitting of impossible intervals compare
/// against.
const MEDIAN_WINDOW_BEATS: usize = 11;
/// Detection/correction rounds stop when the artifact count stops falling; this only bounds
/// pathological inputs.
const MAX_ROUNDS: usize = 20;

/// What was wrong with a beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// A premature beat followed by a compensatory pause (or the reverse).
    Ectopic,
    /// A beat the sensor did not detect: one interval about twice as long.
    Missed,
    /// A detection that was not a beat: one interval split in two.
    Extra,
    /// An interval too long for its neighbours.
    Long,
    /// An interval too short for its neighbours.
    Short,
    /// Outside 250–2500 ms: no heart beats like that.
    Impossible,
}

/// The corrected beats of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanedBeats {
    /// The corrected beats, in time order.
    pub beats: Vec<Beat>,
    /// Per corrected beat: true when its interval was changed or created by a correction.
    pub artifact: Vec<bool>,
    /// Number of artifacts corrected (`detected.len()`).
    pub corrected: usize,
    /// Each artifact: the index of the input beat it was found at, and its kind.
    pub detected: Vec<(usize, ArtifactKind)>,
}

impl CleanedBeats {
    /// Beats marked in `artifact` / all beats (0 for no beats).
    pub fn artifact_fraction(&self) -> f64 {
        if self.beats.is_empty() {
            0.0
        } else {
            self.artifact.iter().filter(|&&a| a).count() as f64 / self.beats.len() as f64
        }
    }
}

/// A beat being worked on: where it came from and whether a correction touched it.
#[derive(Debug, Clone, Copy)]
struct WorkingBeat {
    time_secs: f64,
    rr_ms: f64,
    origin: usize,
    corrected: bool,
}

/// Correct (never delete) artifacts in a whole recording. Beats must be sorted by time and
/// have valid RR values ([`crate::validate_rr_ms`]).
pub fn clean_beats(beats: &[Beat]) -> CleanedBeats {
    let mut detected = Vec::new();
    let mut working: Vec<WorkingBeat> = beats
        .iter()
        .enumerate()
        .map(|(origin, beat)| WorkingBeat {
            time_secs: beat.time_secs,
            rr_ms: beat.rr_ms,
            origin,
            corrected: false,
        })
        .collect();
    working = correct_impossible(working, &mut detected);

    let mut features = Features::default();
    let mut decisions = Vec::new();
    let mut previous_count = usize::MAX;
    for _ in 0..MAX_ROUNDS {
        decisions.clear();
        features.compute(working.iter().map(|beat| beat.rr_ms));
        detect_all(&features, &mut decisions);
        if decisions.is_empty() || decisions.len() >= previous_count {
            break;
        }
        previous_count = decisions.len();
        detected.extend(decisions.iter().map(|&(i, kind)| (working[i].origin, kind)));
        working = apply_corrections(working, &decisions);
    }

    CleanedBeats {
        beats: working
            .iter()
            .map(|beat| Beat {
                time_secs: beat.time_secs,
                rr_ms: beat.rr_ms,
            })
            .collect(),
        artifact: working.iter().map(|beat| beat.corrected).collect(),
        corrected: detected.len(),
        detected,
    }
}

/// A steady rhythm for tests: a slow wave and a little deterministic jitter.
#[cfg(test)]
fn steady_rr(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 850.0 + 40.0 * (i as f64 * 0.6).sin() + 2.0 * ((i * 37 % 11) as f64 - 5.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::beats_from_rr_ms;

    fn check(rr_ms: Vec<f64>, expect: &[(usize, ArtifactKind)], expected_beats: usize) {
        let cleaned = clean_beats(&beats_from_rr_ms(&rr_ms));
        assert_eq!(cleaned.detected, expect, "detected");
        assert_eq!(
            cleaned.beats.len(),
            expected_beats,
            "beats after correction"
        );
        assert_eq!(cleaned.artifact.len(), cleaned.beats.len());
        // Correction never moves the end of the recording.
        let last_in = rr_ms.iter().sum::<f64>() / 1000.0;
        let last_out = cleaned.beats.last().unwrap().time_secs;
        assert!((last_in - last_out).abs() < 1e-9);
    }

    #[test]
    fn clean_rhythm_is_left_alone() {
        check(steady_rr(200), &[], 200);
    }

    #[test]
    fn missed_beat_is_split_in_two() {
        let mut rr = steady_rr(200);
        rr[100] += rr[101];
        rr.remove(101);
        check(rr, &[(100, ArtifactKind::Missed)], 200);
    }

    #[test]
    fn extra_beat_is_merged() {
        let mut rr = steady_rr(200);
        let whole = rr[100];
        rr[100] = whole * 0.4;
        rr.insert(101, whole * 0.6);
        // NeuroKit2 also flags the absorbed half as short (it is a candidate of the extra
        // beat), so the merged interval is then smoothed with its neighbour.
        check(
            rr,
            &[(100, ArtifactKind::Extra), (101, ArtifactKind::Short)],
            200,
        );
    }

    #[test]
    fn ectopic_beat_is_corrected_towards_its_neighbours() {
        // A premature beat: 300 ms early, the following interval 300 ms longer.
        let clean = steady_rr(200);
        let mut rr = clean.clone();
        rr[100] -= 300.0;
        rr[101] += 300.0;
        let cleaned = clean_beats(&beats_from_rr_ms(&rr));
        assert!(
            cleaned.detected.contains(&(101, ArtifactKind::Ectopic)),
            "{:?}",
            cleaned.detected
        );
        assert_eq!(cleaned.beats.len(), 200);
        // The 300 ms displacement is spread out (NeuroKit2 moves the flagged beats one after
        // the other, leaving part of it on the next interval), and the beats after keep their
        // times.
        for (i, (beat, clean_rr)) in cleaned
            .beats
            .iter()
            .zip(&clean)
            .enumerate()
            .skip(99)
            .take(4)
        {
            let error = (beat.rr_ms - clean_rr).abs();
            assert!(error < 200.0, "beat {i}: {error} ms off");
        }
        assert!(
            (cleaned.beats[102].time_secs - beats_from_rr_ms(&clean)[102].time_secs).abs() < 1e-9
        );
        assert!(cleaned.artifact[100] && cleaned.artifact[101]);
        assert!(!cleaned.artifact[110]);
    }

    #[test]
    fn impossible_intervals_are_corrected() {
        let mut rr = steady_rr(200);
        rr[50] = 4000.0;
        rr[120] = 100.0;
        let cleaned = clean_beats(&beats_from_rr_ms(&rr));
        assert!(cleaned.detected.contains(&(50, ArtifactKind::Impossible)));
        assert!(cleaned.detected.contains(&(120, ArtifactKind::Impossible)));
        assert!(
            cleaned
                .beats
                .iter()
                .all(|b| (MIN_PLAUSIBLE_RR_MS..=MAX_PLAUSIBLE_RR_MS).contains(&b.rr_ms))
        );
    }
}
