//! Detection (NeuroKit2's `_find_artifacts`): the feature series `dRR`, `mRR`, `s12`, `s22`
//! over a run of intervals, their thresholds (rolling over 91 beats for a recording, over the
//! whole run for a live decision), and the decision tree of the paper's Figure 1.

use super::{ArtifactKind, MEDIAN_WINDOW_BEATS};

/// Threshold scale: `th = ALPHA × (Q3 − Q1) / 2`.
const ALPHA: f64 = 5.2;
/// Beats over which a threshold's quartiles are taken, centred on the beat decided.
pub(super) const THRESHOLD_WINDOW_BEATS: usize = 91;
/// The decision tree's `c1` and `c2` (the paper's Figure 1).
const C1: f64 = 0.13;
const C2: f64 = 0.17;

/// The Lipponen–Tarvainen feature series over a run of intervals.
#[derive(Debug, Default)]
pub(super) struct Features {
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
    pub(super) fn len(&self) -> usize {
        self.rr.len()
    }

    /// Features over the whole run with thresholds over 91-beat windows (whole recordings).
    pub(super) fn compute(&mut self, rr_ms: impl Iterator<Item = f64>) {
        self.compute_with(rr_ms, ThresholdWindow::Rolling, None);
    }

    /// Features with thresholds over the whole run, for a live decision: the run is the 51
    /// beats around the decided one (45 before, 5 after), exactly what its 91-beat window
    /// holds at that moment, so one sort replaces the rolling window. Returns false, having
    /// stopped early, when beat `decided` has `|dRR| ≤ 1`: the decision tree looks no further
    /// for such a beat, and that is nearly every beat.
    pub(super) fn compute_for_stream(
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
pub(super) fn decide(f: &Features, i: usize, decisions: &mut Vec<(usize, ArtifactKind)>) -> usize {
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
pub(super) fn detect_all(f: &Features, decisions: &mut Vec<(usize, ArtifactKind)>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
