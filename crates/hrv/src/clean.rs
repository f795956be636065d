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

use std::collections::VecDeque;

use crate::Beat;

/// Shortest interval a heart produces; shorter ones are corrected.
pub const MIN_PLAUSIBLE_RR_MS: f64 = 250.0;
/// Longest interval a heart produces; longer ones are corrected.
pub const MAX_PLAUSIBLE_RR_MS: f64 = 2500.0;
/// Beats of look-ahead a streaming beat needs before it is final.
pub const LOOKAHEAD_BEATS: usize = 5;

const ALPHA: f64 = 5.2;
const THRESHOLD_WINDOW_BEATS: usize = 91;
const MEDIAN_WINDOW_BEATS: usize = 11;
const C1: f64 = 0.13;
const C2: f64 = 0.17;
/// Detection/correction rounds stop when the artifact count stops falling; this only bounds
/// pathological inputs.
const MAX_ROUNDS: usize = 20;
/// Beats of corrected history a streaming decision looks back over (half the 91-beat window).
const HISTORY_BEATS: usize = THRESHOLD_WINDOW_BEATS / 2;

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

/// How many equal beats an impossibly long interval stands for, given the local median.
fn split_count(rr_ms: f64, reference_rr_ms: Option<f64>) -> usize {
    let at_least = (rr_ms / MAX_PLAUSIBLE_RR_MS).ceil().max(2.0);
    let from_reference = reference_rr_ms
        .filter(|r| *r > 0.0)
        .map_or(0.0, |r| (rr_ms / r).round());
    // 60 000 ms / 250 ms: the most beats any valid interval can stand for.
    from_reference.max(at_least).min(240.0) as usize
}

fn split_beat(beat: WorkingBeat, pieces: usize, out: &mut Vec<WorkingBeat>) {
    let piece_ms = beat.rr_ms / pieces as f64;
    for m in 0..pieces {
        let before_end = (pieces - 1 - m) as f64 * piece_ms / 1000.0;
        out.push(WorkingBeat {
            time_secs: beat.time_secs - before_end,
            rr_ms: piece_ms,
            origin: beat.origin,
            corrected: true,
        });
    }
}

fn median_of(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Median of up to 11 plausible intervals around `index`.
fn local_plausible_median(beats: &[WorkingBeat], index: usize) -> Option<f64> {
    let half = MEDIAN_WINDOW_BEATS / 2;
    let mut around: Vec<f64> = beats
        [index.saturating_sub(half)..(index + half + 1).min(beats.len())]
        .iter()
        .map(|beat| beat.rr_ms)
        .filter(|rr| (MIN_PLAUSIBLE_RR_MS..=MAX_PLAUSIBLE_RR_MS).contains(rr))
        .collect();
    median_of(&mut around)
}

fn correct_impossible(
    beats: Vec<WorkingBeat>,
    detected: &mut Vec<(usize, ArtifactKind)>,
) -> Vec<WorkingBeat> {
    let mut out = Vec::with_capacity(beats.len());
    let mut carry: Option<WorkingBeat> = None;
    for (index, beat) in beats.iter().enumerate() {
        let mut beat = *beat;
        if let Some(short) = carry.take() {
            beat.rr_ms += short.rr_ms;
            beat.corrected = true;
        }
        if beat.rr_ms < MIN_PLAUSIBLE_RR_MS {
            detected.push((beat.origin, ArtifactKind::Impossible));
            if index + 1 < beats.len() {
                carry = Some(beat);
            } else if let Some(previous) = out.last_mut() {
                let previous: &mut WorkingBeat = previous;
                previous.rr_ms += beat.rr_ms;
                previous.time_secs = beat.time_secs;
                previous.corrected = true;
            } else {
                out.push(beat);
            }
        } else if beat.rr_ms > MAX_PLAUSIBLE_RR_MS {
            detected.push((beat.origin, ArtifactKind::Impossible));
            let pieces = split_count(beat.rr_ms, local_plausible_median(&beats, index));
            split_beat(beat, pieces, &mut out);
        } else {
            out.push(beat);
        }
    }
    out
}

/// The Lipponen–Tarvainen feature series over a run of intervals.
#[derive(Debug, Default)]
pub(crate) struct Features {
    rr: Vec<f64>,
    /// dRR normalised by th1.
    drrs: Vec<f64>,
    /// mRR normalised by th2.
    mrrs: Vec<f64>,
    median_rr: Vec<f64>,
    th2: Vec<f64>,
    s12: Vec<f64>,
    s22: Vec<f64>,
    // Scratch.
    absolute: Vec<f64>,
    threshold: Vec<f64>,
    sorted: Vec<f64>,
}

impl Features {
    pub(crate) fn len(&self) -> usize {
        self.rr.len()
    }

    /// Features over the whole run with thresholds over 91-beat windows (whole recordings).
    pub(crate) fn compute(&mut self, rr_ms: impl Iterator<Item = f64>) {
        self.compute_with(rr_ms, ThresholdWindow::Rolling, None);
    }

    /// Features with thresholds over the whole run, for a live decision: the run is the 51
    /// beats around the decided one (45 before, 5 after), exactly what its 91-beat window
    /// holds at that moment, so one sort replaces the rolling window. Returns false, having
    /// stopped early, when beat `decided` has `|dRR| ≤ 1`: the decision tree looks no further
    /// for such a beat, and that is nearly every beat.
    pub(crate) fn compute_for_stream(
        &mut self,
        rr_ms: impl Iterator<Item = f64>,
        decided: usize,
    ) -> bool {
        self.compute_with(rr_ms, ThresholdWindow::WholeRun, Some(decided))
    }

    fn compute_with(
        &mut self,
        rr_ms: impl Iterator<Item = f64>,
        thresholds: ThresholdWindow,
        decided: Option<usize>,
    ) -> bool {
        self.rr.clear();
        self.rr.extend(rr_ms);
        let n = self.rr.len();
        self.drrs.clear();
        self.mrrs.clear();
        self.median_rr.clear();
        self.th2.clear();
        self.s12.clear();
        self.s22.clear();
        if n < 4 {
            return false;
        }

        // dRR, with the first one set to the mean of the others (NeuroKit2).
        self.drrs.push(0.0);
        self.drrs
            .extend(self.rr.windows(2).map(|pair| pair[1] - pair[0]));
        self.drrs[0] = self.drrs[1..].iter().sum::<f64>() / (n - 1) as f64;
        self.absolute.clear();
        self.absolute.extend(self.drrs.iter().map(|d| d.abs()));
        thresholds.compute(&self.absolute, &mut self.sorted, &mut self.threshold);
        for (d, th) in self.drrs.iter_mut().zip(&self.threshold) {
            *d /= th;
        }

        if let Some(j) = decided
            && self.drrs.get(j).is_some_and(|d| d.abs() <= 1.0)
        {
            return false;
        }

        // Subspaces, on dRR reflected by two at both ends (numpy's "reflect" padding).
        let drrs = &self.drrs;
        let padded = |d: isize| -> f64 {
            let last = n as isize - 1;
            let index = if d < 0 {
                -d
            } else if d > last {
                2 * last - d
            } else {
                d
            };
            drrs[index.clamp(0, last) as usize]
        };
        for (i, &d) in drrs.iter().enumerate() {
            let at = i as isize;
            self.s12.push(if d > 0.0 {
                padded(at - 1).max(padded(at + 1))
            } else if d < 0.0 {
                padded(at - 1).min(padded(at + 1))
            } else {
                0.0
            });
            self.s22.push(if d >= 0.0 {
                padded(at + 1).min(padded(at + 2))
            } else if d < 0.0 {
                padded(at + 1).max(padded(at + 2))
            } else {
                0.0
            });
        }

        // mRR against an 11-beat median with zero padding (scipy.signal.medfilt).
        let half = MEDIAN_WINDOW_BEATS as isize / 2;
        for i in 0..n as isize {
            let mut window = [0.0; MEDIAN_WINDOW_BEATS];
            for (slot, j) in window.iter_mut().zip(i - half..=i + half) {
                if (0..n as isize).contains(&j) {
                    *slot = self.rr[j as usize];
                }
            }
            let (_, median, _) =
                window.select_nth_unstable_by(MEDIAN_WINDOW_BEATS / 2, f64::total_cmp);
            self.median_rr.push(*median);
        }
        for (rr, median) in self.rr.iter().zip(&self.median_rr) {
            let deviation = rr - median;
            self.mrrs.push(if deviation < 0.0 {
                2.0 * deviation
            } else {
                deviation
            });
        }
        self.absolute.clear();
        self.absolute.extend(self.mrrs.iter().map(|m| m.abs()));
        thresholds.compute(&self.absolute, &mut self.sorted, &mut self.threshold);
        self.th2.extend_from_slice(&self.threshold);
        for (m, th) in self.mrrs.iter_mut().zip(&self.th2) {
            *m /= th;
        }
        true
    }
}

/// Which values a threshold is computed over.
#[derive(Debug, Clone, Copy)]
enum ThresholdWindow {
    /// The 91 values centred on each index.
    Rolling,
    /// All values of the run, one threshold for every index.
    WholeRun,
}

impl ThresholdWindow {
    fn compute(self, values: &[f64], sorted: &mut Vec<f64>, out: &mut Vec<f64>) {
        match self {
            ThresholdWindow::Rolling => rolling_threshold(values, sorted, out),
            ThresholdWindow::WholeRun => {
                sorted.clear();
                sorted.extend_from_slice(values);
                sorted.sort_unstable_by(f64::total_cmp);
                let threshold = ALPHA * (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2.0;
                out.clear();
                out.resize(values.len(), threshold);
            }
        }
    }
}

/// `5.2 × (Q3 − Q1) / 2` over the 91 values centred on each index (fewer at the ends), with
/// linearly interpolated quantiles (pandas `rolling(91, center=True, min_periods=1)`).
fn rolling_threshold(values: &[f64], sorted: &mut Vec<f64>, out: &mut Vec<f64>) {
    let n = values.len();
    let half = THRESHOLD_WINDOW_BEATS / 2;
    out.clear();
    sorted.clear();
    let insert = |sorted: &mut Vec<f64>, v: f64| {
        let at = sorted.partition_point(|x| x.total_cmp(&v).is_lt());
        sorted.insert(at, v);
    };
    for &v in &values[..(half + 1).min(n)] {
        insert(sorted, v);
    }
    for i in 0..n {
        if i > 0 {
            if let Some(&entering) = values.get(i + half) {
                insert(sorted, entering);
            }
            if i > half {
                let leaving = values[i - half - 1];
                let at = sorted.partition_point(|x| x.total_cmp(&leaving).is_lt());
                sorted.remove(at);
            }
        }
        out.push(ALPHA * (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2.0);
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

/// The decision tree of Figure 1 at index `i` (NeuroKit2's loop body): decisions for `i` and
/// possibly `i + 1`, and how far the scan advances. Comparisons are written so that NaN (a zero
/// threshold) behaves as in numpy.
fn decide(f: &Features, i: usize, decisions: &mut Vec<(usize, ArtifactKind)>) -> usize {
    let d = f.drrs[i];
    if d.abs() <= 1.0 {
        return 1;
    }
    let eq1 = d > 1.0 && f.s12[i] < -C1 * d - C2;
    let eq2 = d < -1.0 && f.s12[i] > -C1 * d + C2;
    if eq1 || eq2 {
        decisions.push((i, ArtifactKind::Ectopic));
        return 1;
    }
    let mut advance = 0;
    let with_next = f.drrs[i + 1].abs() < f.drrs[i + 2].abs();
    for j in [i, i + 1].into_iter().take(if with_next { 2 } else { 1 }) {
        advance += 1;
        let dj = f.drrs[j];
        let eq3 = dj > 1.0 && f.s22[j] < -1.0;
        let eq4 = f.mrrs[j].abs() > 3.0;
        let eq5 = dj < -1.0 && f.s22[j] > 1.0;
        if !(eq3 || eq4 || eq5) {
            continue;
        }
        let eq6 = (f.rr[j] / 2.0 - f.median_rr[j]).abs() < f.th2[j];
        let eq7 = (f.rr[j] + f.rr[j + 1] - f.median_rr[j]).abs() < f.th2[j];
        let kind = if eq5 && eq7 {
            ArtifactKind::Extra
        } else if eq3 && eq6 {
            ArtifactKind::Missed
        } else if f.rr[j] > f.median_rr[j] {
            ArtifactKind::Long
        } else {
            ArtifactKind::Short
        };
        decisions.push((j, kind));
    }
    advance
}

/// Scan the whole run, one decision per beat at most (the first one found).
fn detect_all(f: &Features, decisions: &mut Vec<(usize, ArtifactKind)>) {
    let n = f.len();
    if n < 4 {
        return;
    }
    let mut i = 0;
    while i < n - 2 {
        i += decide(f, i, decisions);
    }
    decisions.sort_by_key(|&(index, _)| index);
    decisions.dedup_by_key(|&mut (index, _)| index);
}

/// Apply one round of decisions in NeuroKit2's order: extra beats merged, missed beats split,
/// then ectopic and long/short beats moved to the midpoint of their neighbours.
fn apply_corrections(
    beats: Vec<WorkingBeat>,
    decisions: &[(usize, ArtifactKind)],
) -> Vec<WorkingBeat> {
    let kind_at = |index: usize| {
        decisions
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|at| decisions[at].1)
    };
    // Merge and split in one pass; remember where the beats to move ended up.
    let mut out: Vec<WorkingBeat> = Vec::with_capacity(beats.len() + decisions.len());
    let (mut ectopic, mut long_short) = (Vec::new(), Vec::new());
    let mut remember_move = |kind: Option<ArtifactKind>, at: usize| match kind {
        Some(ArtifactKind::Ectopic) => ectopic.push(at),
        Some(ArtifactKind::Long | ArtifactKind::Short) => long_short.push(at),
        _ => {}
    };
    let mut i = 0;
    while i < beats.len() {
        let beat = beats[i];
        match kind_at(i) {
            Some(ArtifactKind::Extra) if i + 1 < beats.len() => {
                let next = beats[i + 1];
                // A decision on the absorbed beat now applies to the merged one (NeuroKit2
                // shifts the later indices down by one).
                remember_move(kind_at(i + 1), out.len());
                out.push(WorkingBeat {
                    time_secs: next.time_secs,
                    rr_ms: beat.rr_ms + next.rr_ms,
                    origin: beat.origin,
                    corrected: true,
                });
                i += 2;
                continue;
            }
            Some(ArtifactKind::Missed) => split_beat(beat, 2, &mut out),
            kind => {
                remember_move(kind, out.len());
                out.push(beat);
            }
        }
        i += 1;
    }
    move_to_midpoints(&mut out, &ectopic);
    move_to_midpoints(&mut out, &long_short);
    out
}

/// Move each listed beat's end to the midpoint between its start and the next beat's end, all
/// computed from the positions before any move (NeuroKit2 does it vectorised). The interval
/// ending at the moved beat grows by the shift and the next one shrinks by it, so later beats
/// keep their times.
fn move_to_midpoints(beats: &mut [WorkingBeat], indices: &[usize]) {
    let shifts: Vec<(usize, f64)> = indices
        .iter()
        .filter(|&&j| j + 1 < beats.len())
        .map(|&j| {
            let start = beats[j].time_secs - beats[j].rr_ms / 1000.0;
            let midpoint = (start + beats[j + 1].time_secs) / 2.0;
            (j, midpoint - beats[j].time_secs)
        })
        .collect();
    for (j, shift_secs) in shifts {
        beats[j].time_secs += shift_secs;
        beats[j].rr_ms += shift_secs * 1000.0;
        beats[j].corrected = true;
        beats[j + 1].rr_ms -= shift_secs * 1000.0;
        beats[j + 1].corrected = true;
    }
}

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
    use super::*;
    use crate::beat::beats_from_rr_ms;

    /// A steady rhythm: a slow wave and a little deterministic jitter.
    fn steady_rr(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 850.0 + 40.0 * (i as f64 * 0.6).sin() + 2.0 * ((i * 37 % 11) as f64 - 5.0))
            .collect()
    }

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

    #[test]
    fn rolling_threshold_matches_pandas() {
        // pandas: s.abs().rolling(91, center=True, min_periods=1).quantile(q) on 0..9:
        // index 0 sees 0..=9 (all), so Q1 = 2.25, Q3 = 6.75.
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let (mut sorted, mut out) = (Vec::new(), Vec::new());
        rolling_threshold(&values, &mut sorted, &mut out);
        assert!((out[0] - 5.2 * 4.5 / 2.0).abs() < 1e-12);
        // Over 200 values, index 100 sees 55..=145: Q1 = 77.5, Q3 = 122.5.
        let values: Vec<f64> = (0..200).map(f64::from).collect();
        rolling_threshold(&values, &mut sorted, &mut out);
        assert!((out[100] - 5.2 * 45.0 / 2.0).abs() < 1e-12);
    }
}
