//! One coherence window, exactly as `synchub-coherence/1` defines it (coherence.md §2).
//!
//! Resample the tachogram at 4 Hz with a not-a-knot spline, subtract the least-squares line,
//! apply a periodic Hann window, zero-pad to 2048 points and take the one-sided density
//! periodogram; the score is the share of the 0.0033–0.4 Hz power that lies within ±7 bins
//! (±0.015 Hz) of the highest bin between 0.04 and 0.26 Hz. [`CoherenceAnalyzer`] keeps the FFT
//! plan and every buffer, so analysing a window allocates nothing once it has seen the
//! largest window.

use crate::clean::{MAX_PLAUSIBLE_RR_MS, MIN_PLAUSIBLE_RR_MS};
use crate::spectrum::{Periodogram, detrend_linear, periodic_hann};
use crate::spline::CubicSpline;

/// Resampling rate of the tachogram, Hz.
pub const SAMPLE_RATE_HZ: f64 = 4.0;
/// FFT length after zero padding (frequency resolution 4/2048 = 1/512 Hz).
pub const SPECTRUM_POINTS: usize = 2048;

const PEAK_SEARCH_LOW_HZ: f64 = 0.04;
const PEAK_SEARCH_HIGH_HZ: f64 = 0.26;
const PEAK_HALF_WIDTH_BINS: usize = 7;
const TOTAL_LOW_HZ: f64 = 0.0033;
const TOTAL_HIGH_HZ: f64 = 0.4;
const LOW_QUALITY_ARTIFACT_FRACTION: f64 = 0.2;
const LOW_QUALITY_COVERAGE: f64 = 0.8;
/// Fewer samples than this (2 s at 4 Hz) say nothing about a 0.04–0.26 Hz rhythm.
const MIN_SAMPLES: usize = 8;
/// Knots of a 64 s window at the fastest plausible rate (250 ms) plus one beyond each end:
/// buffers this large never grow for a standard window of cleaned beats.
pub(crate) const WINDOW_KNOTS: usize = 64 * 4 + 2;
/// The ratio when all power sits in the peak (only reachable in degenerate inputs): large but
/// finite, so results stay serialisable.
const MAX_RATIO: f64 = 1e6;

/// How far a result can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// Full window, few corrections, no gaps.
    Good,
    /// `artifact_fraction > 0.2` or `coverage < 0.8`: reported, flagged, left out of group
    /// averages. Takes precedence over `WarmingUp`.
    Low,
    /// Live, between 32 and 64 s of beats: computed over what there is.
    WarmingUp,
}

impl Quality {
    /// `"good"`, `"low"` or `"warming_up"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Low => "low",
            Quality::WarmingUp => "warming_up",
        }
    }
}

/// Coherence phase from the score: low `< 40`, medium `40 ≤ score < 60`, high `≥ 60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoherencePhase {
    /// Score below 40.
    Low,
    /// Score from 40 to below 60.
    Medium,
    /// Score 60 and above.
    High,
}

impl CoherencePhase {
    /// The phase of a score (NaN counts as low).
    pub fn from_score(score: f64) -> Self {
        if score >= synchub_protocol::HIGH_COHERENCE_MIN_SCORE {
            CoherencePhase::High
        } else if score >= synchub_protocol::MEDIUM_COHERENCE_MIN_SCORE {
            CoherencePhase::Medium
        } else {
            CoherencePhase::Low
        }
    }

    /// `"low"`, `"medium"` or `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CoherencePhase::Low => "low",
            CoherencePhase::Medium => "medium",
            CoherencePhase::High => "high",
        }
    }
}

/// One coherence result (coherence.md §2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoherenceWindow {
    /// Window start `S`, on the caller's time origin.
    pub start_secs: f64,
    /// Window end `S + window_secs` (exclusive).
    pub end_secs: f64,
    /// `100 × peak_power / total_power`, 0..=100.
    pub score: f64,
    /// `peak_power / (total_power − peak_power)`, unsquared (HeartMath's ratio).
    pub ratio: f64,
    /// Frequency of the highest bin in 0.04..=0.26 Hz.
    pub peak_hz: f64,
    /// `60 × peak_hz`.
    pub breaths_per_min: f64,
    /// Power within ±7 bins of the peak, ms².
    pub peak_power_ms2: f64,
    /// Power in 0.0033..=0.4 Hz, ms².
    pub total_power_ms2: f64,
    /// Corrected beats / beats in the window.
    pub artifact_fraction: f64,
    /// Seconds of the window covered by plausible beats / window length.
    pub coverage: f64,
    /// Good, Low, or (live only) WarmingUp.
    pub quality: Quality,
}

impl CoherenceWindow {
    /// The phase of this window's score.
    pub fn phase(&self) -> CoherencePhase {
        CoherencePhase::from_score(self.score)
    }
}

/// Reusable FFT plan + buffers: no allocation per window in steady state. About 107 KiB, none
/// of which outlives a call: share one between many streams (the live analysers get theirs
/// through their `StreamWorkspace`).
pub struct CoherenceAnalyzer {
    spline: CubicSpline,
    knots_x: Vec<f64>,
    knots_y: Vec<f64>,
    periodogram: Periodogram,
    hann: Vec<f64>,
    hann_power: f64,
    peak_bins: (usize, usize),
    total_bins: (usize, usize),
}

impl std::fmt::Debug for CoherenceAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoherenceAnalyzer")
            .field("periodogram", &self.periodogram)
            .finish_non_exhaustive()
    }
}

impl Default for CoherenceAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

/// Frequency of bin `k` of the zero-padded spectrum (exact in binary: 4/2048 = 2⁻⁹).
fn bin_hz(k: usize) -> f64 {
    k as f64 * SAMPLE_RATE_HZ / SPECTRUM_POINTS as f64
}

/// First and last bin with `low ≤ f_k ≤ high`.
fn bins_between(low_hz: f64, high_hz: f64) -> (usize, usize) {
    let bins = 0..=SPECTRUM_POINTS / 2;
    let first = bins.clone().find(|&k| bin_hz(k) >= low_hz).unwrap_or(0);
    let last = bins.rev().find(|&k| bin_hz(k) <= high_hz).unwrap_or(0);
    (first, last)
}

impl CoherenceAnalyzer {
    /// Plan the 2048-point FFT and size the buffers for a 64 s window.
    pub fn new() -> Self {
        let mut analyzer = Self {
            spline: CubicSpline::with_capacity(WINDOW_KNOTS),
            knots_x: Vec::with_capacity(WINDOW_KNOTS),
            knots_y: Vec::with_capacity(WINDOW_KNOTS),
            periodogram: Periodogram::new(SPECTRUM_POINTS),
            hann: Vec::with_capacity(SPECTRUM_POINTS),
            hann_power: 0.0,
            peak_bins: bins_between(PEAK_SEARCH_LOW_HZ, PEAK_SEARCH_HIGH_HZ),
            total_bins: bins_between(TOTAL_LOW_HZ, TOTAL_HIGH_HZ),
        };
        analyzer.prepare_hann(256);
        analyzer
    }

    fn prepare_hann(&mut self, samples: usize) {
        if self.hann.len() != samples {
            self.hann.resize(samples, 0.0);
            periodic_hann(&mut self.hann);
            self.hann_power = self.hann.iter().map(|w| w * w).sum();
        }
    }

    /// Coherence of the window `[start_secs, start_secs + window_secs)` over beats sorted by
    /// time. `artifact` marks beats that cleaning corrected (same length as `times_secs`;
    /// missing entries count as not corrected), used for `artifact_fraction`/`quality`.
    ///
    /// The grid is `g_n = start_secs + n/4` for every `n ≥ 0` with `n/4 < window_secs` (256
    /// samples for 64 s); the knots run from the last beat at or before `g_0` to the first beat
    /// at or after the last grid point. Returns `None` when those knots do not exist (the beats
    /// do not cover the window), when the window is shorter than 2 s or longer than 512 s, or
    /// when the inputs are not finite.
    pub fn analyze_window(
        &mut self,
        times_secs: &[f64],
        rr_ms: &[f64],
        artifact: &[bool],
        start_secs: f64,
        window_secs: f64,
    ) -> Option<CoherenceWindow> {
        if !start_secs.is_finite() || !window_secs.is_finite() || window_secs <= 0.0 {
            return None;
        }
        let beats = times_secs.len().min(rr_ms.len());
        let (times_secs, rr_ms) = (&times_secs[..beats], &rr_ms[..beats]);
        let samples = sample_count(window_secs)?;
        if !(MIN_SAMPLES..=SPECTRUM_POINTS).contains(&samples) {
            return None;
        }
        let step_secs = 1.0 / SAMPLE_RATE_HZ;
        let last_grid_offset = (samples - 1) as f64 * step_secs;

        // Knots, rebased to the window start so large epoch times keep their precision.
        let after_first = times_secs.partition_point(|&t| t <= start_secs);
        let first_knot = after_first.checked_sub(1)?;
        let last_knot = times_secs.partition_point(|&t| t - start_secs < last_grid_offset);
        if last_knot >= beats {
            return None;
        }
        self.knots_x.clear();
        self.knots_y.clear();
        for i in first_knot..=last_knot {
            let x = times_secs[i] - start_secs;
            let y = rr_ms[i];
            let increasing = self.knots_x.last().is_none_or(|&previous| x > previous);
            if increasing && x.is_finite() && y.is_finite() {
                self.knots_x.push(x);
                self.knots_y.push(y);
            }
        }
        if !self.spline.fit(&self.knots_x, &self.knots_y) {
            return None;
        }

        self.prepare_hann(samples);
        let input = self.periodogram.input_mut();
        let (signal, padding) = input.split_at_mut(samples);
        self.spline.evaluate_grid(0.0, step_secs, signal);
        detrend_linear(signal);
        for (value, w) in signal.iter_mut().zip(&self.hann) {
            *value *= w;
        }
        padding.fill(0.0);
        let (total_first, total_last) = self.total_bins;
        let power = self
            .periodogram
            .compute_up_to(SAMPLE_RATE_HZ, self.hann_power, total_last);

        let (peak_first, peak_last) = self.peak_bins;
        let mut peak_bin = peak_first;
        for k in peak_first..=peak_last {
            if power[k] > power[peak_bin] {
                peak_bin = k;
            }
        }
        let bin_width_hz = SAMPLE_RATE_HZ / SPECTRUM_POINTS as f64;
        let peak_range = peak_bin - PEAK_HALF_WIDTH_BINS..=peak_bin + PEAK_HALF_WIDTH_BINS;
        let peak_power_ms2 = power[peak_range].iter().sum::<f64>() * bin_width_hz;
        let total_power_ms2 = power[total_first..=total_last].iter().sum::<f64>() * bin_width_hz;
        if !peak_power_ms2.is_finite() || !total_power_ms2.is_finite() {
            return None;
        }
        let (score, ratio) = if total_power_ms2 > 0.0 {
            let rest = total_power_ms2 - peak_power_ms2;
            let ratio = if rest > 0.0 {
                (peak_power_ms2 / rest).min(MAX_RATIO)
            } else {
                MAX_RATIO
            };
            (
                (100.0 * peak_power_ms2 / total_power_ms2).clamp(0.0, 100.0),
                ratio,
            )
        } else {
            // A flat tachogram has no rhythm at all.
            (0.0, 0.0)
        };
        let peak_hz = bin_hz(peak_bin);

        let end_secs = start_secs + window_secs;
        let (artifact_fraction, coverage) =
            window_quality(times_secs, rr_ms, artifact, start_secs, end_secs);
        let quality = if artifact_fraction > LOW_QUALITY_ARTIFACT_FRACTION
            || coverage < LOW_QUALITY_COVERAGE
        {
            Quality::Low
        } else {
            Quality::Good
        };
        Some(CoherenceWindow {
            start_secs,
            end_secs,
            score,
            ratio,
            peak_hz,
            breaths_per_min: 60.0 * peak_hz,
            peak_power_ms2,
            total_power_ms2,
            artifact_fraction,
            coverage,
            quality,
        })
    }
}

/// Number of grid points `n/4 < window_secs`; a window within 1e-9 s of a whole number of
/// samples counts as exactly that many, so 64 s is 256 samples despite rounding upstream.
fn sample_count(window_secs: f64) -> Option<usize> {
    let exact = window_secs * SAMPLE_RATE_HZ;
    if exact > (SPECTRUM_POINTS * 2) as f64 {
        return None;
    }
    let nearest = exact.round();
    let samples = if (exact - nearest).abs() < 1e-9 {
        nearest
    } else {
        exact.ceil()
    };
    Some(samples as usize)
}

/// `(artifact_fraction, coverage)` of the window `[start, end)`.
///
/// Artifact fraction: beats with `start ≤ t < end` flagged as corrected, over those beats.
/// Coverage: each plausible beat (250–2500 ms) covers `[max(t − rr, previous t), t]`; the
/// union of those spans inside the window, over the window length. A gap in the data (beat
/// times further apart than their intervals) is therefore uncovered.
fn window_quality(
    times_secs: &[f64],
    rr_ms: &[f64],
    artifact: &[bool],
    start_secs: f64,
    end_secs: f64,
) -> (f64, f64) {
    let first = times_secs.partition_point(|&t| t < start_secs);
    let mut in_window = 0usize;
    let mut corrected = 0usize;
    let mut covered_secs = 0.0;
    for i in first..times_secs.len() {
        let t = times_secs[i];
        if t < end_secs {
            in_window += 1;
            if artifact.get(i).copied().unwrap_or(false) {
                corrected += 1;
            }
        }
        let rr = rr_ms[i];
        if (MIN_PLAUSIBLE_RR_MS..=MAX_PLAUSIBLE_RR_MS).contains(&rr) {
            let mut span_start = t - rr / 1000.0;
            if i > 0 {
                span_start = span_start.max(times_secs[i - 1]);
            }
            let overlap = t.min(end_secs) - span_start.max(start_secs);
            if overlap > 0.0 {
                covered_secs += overlap;
            }
        }
        if t >= end_secs {
            break;
        }
    }
    let artifact_fraction = if in_window > 0 {
        corrected as f64 / in_window as f64
    } else {
        0.0
    };
    let coverage = covered_secs / (end_secs - start_secs);
    // Absurd times (overflowing spans) cover nothing rather than yield NaN.
    let coverage = if coverage.is_finite() {
        coverage.clamp(0.0, 1.0)
    } else {
        0.0
    };
    (artifact_fraction, coverage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_fall_on_the_expected_bins() {
        // 0.04 Hz → bin 21 (0.0410), 0.26 Hz → bin 133 (0.2598); total 0.0033..0.4 → 2..204.
        assert_eq!(bins_between(0.04, 0.26), (21, 133));
        assert_eq!(bins_between(0.0033, 0.4), (2, 204));
    }

    #[test]
    fn sixty_four_seconds_are_256_samples() {
        assert_eq!(sample_count(64.0), Some(256));
        assert_eq!(sample_count(64.0 + 1e-12), Some(256));
        assert_eq!(sample_count(32.1), Some(129));
    }

    #[test]
    fn phases_follow_the_thresholds() {
        assert_eq!(CoherencePhase::from_score(39.99), CoherencePhase::Low);
        assert_eq!(CoherencePhase::from_score(40.0), CoherencePhase::Medium);
        assert_eq!(CoherencePhase::from_score(59.99), CoherencePhase::Medium);
        assert_eq!(CoherencePhase::from_score(60.0), CoherencePhase::High);
        assert_eq!(CoherencePhase::from_score(f64::NAN), CoherencePhase::Low);
        assert_eq!(Quality::WarmingUp.as_str(), "warming_up");
    }

    #[test]
    fn a_gap_lowers_coverage() {
        // Beats every second from 1 to 64 s, with 20 s missing in the middle.
        let times: Vec<f64> = (1..=64)
            .map(f64::from)
            .filter(|t| !(20.0..40.0).contains(t))
            .collect();
        let rr = vec![1000.0; times.len()];
        let (fraction, coverage) = window_quality(&times, &rr, &[], 0.0, 64.0);
        assert_eq!(fraction, 0.0);
        assert!((coverage - 44.0 / 64.0).abs() < 1e-12, "{coverage}");
    }
}
