//! Synchrony between participants' heart rhythms (coherence.md §6).
//!
//! A room of people breathing and feeling together tends to show heart-rate rhythms that rise
//! and fall together. This module measures that, and measures it against chance: every figure
//! comes with the same figure computed on surrogate data, because two slow rhythms near 0.1 Hz
//! always look somewhat alike.
//!
//! Input: instantaneous heart-rate series (any unit; bpm in practice) resampled at
//! [`SYNCHRONY_SAMPLE_RATE_HZ`] on one common time base, all of the same length (256 samples =
//! 64 s). For every series, once per call:
//!
//! 1. **Detrend**: subtract the least-squares straight line.
//! 2. **Band-pass and analytic signal** in one step: forward FFT of the whole series, keep only
//!    the positive-frequency bins with `0.04 ≤ f_k ≤ 0.26` Hz (doubled), zero every other bin
//!    (DC, negative frequencies, everything outside the band), inverse FFT. The result is the
//!    analytic signal of the band-passed series (the Hilbert transform done with the FFT); its
//!    argument is the instantaneous phase φ(t), kept as a unit phasor `exp(iφ(t))`.
//!
//! Pairs (`a`, `b`):
//! - `correlation`: the largest Pearson correlation between `a(t)` and `b(t + d)` over lags
//!   `|d| ≤ 5 s` (±20 samples). **Overlap handling**: at lag `d` only the `len − |d|` samples
//!   where both series exist are used, and the Pearson coefficient is computed over exactly
//!   those samples (their own means and variances), so no lag is favoured by padding. A lag
//!   whose overlap has no variance is skipped. The maximum is signed (anti-correlation is not
//!   synchrony); it is 0 when no lag is usable.
//! - `plv`: `|mean_t exp(i(φ_a(t) − φ_b(t)))|`, the phase-locking value.
//! - `strength = (max(correlation, 0) + plv) / 2`.
//!
//! Group: the Kuramoto order parameter `R(t) = |mean_j exp(iφ_j(t))|`, averaged over the window.
//!
//! **Edges.** The FFT band-pass is circular: it treats the window as if its end joined its
//! start, and the step between the last and the first sample rings into the phase near both
//! edges. PLV and Kuramoto therefore average over the interior only, dropping
//! [`EDGE_SAMPLES`] samples (2 s) at each end. Measured on pure sines from 0.045 to 0.25 Hz at
//! eight starting phases (256 samples), the worst phase error is 2.5 rad at the first sample,
//! 0.8 rad at the fourth and 0.3 rad at the eighth, and then shrinks only slowly (0.25 rad at
//! the twentieth): the first 2 s hold the damage, dropping more buys little and costs data.
//! Correlation uses every sample.
//!
//! **Surrogates.** Each usable participant's detrended series is circularly shifted by its own
//! random lag `s`, `40 ≤ s < len − 40` (10 s at 4 Hz), drawn from the call's `seed`, and every
//! statistic is computed again on the shifted set. Shifting the detrended series rather than
//! the raw one keeps the surrogate's spectrum identical to the original (a raw series with a
//! trend would get a step at the seam that the real data never had). Because the band-pass is
//! circular, the analytic signal of a shifted series is exactly the shifted analytic signal, so
//! surrogates cost no FFT. What a reader should know when comparing:
//! - Two participants can draw nearly the same lag, and then that surrogate pair stays aligned;
//!   over many pairs this raises the surrogate mean strength a little (the conservative way).
//! - PLV ignores a constant phase difference, so two steady rhythms at the same frequency stay
//!   phase-locked after any shift: for a group breathing at one steady pace the surrogate PLV
//!   (and so the surrogate strength) stays high. The Kuramoto index, which needs the phases to
//!   agree rather than merely keep their distance, and the lag-limited correlation are the
//!   figures that fall on surrogates in that case; PLV falls where real rhythms wander.
//!
//! For short series the lag range and the smallest shift are capped at a quarter of the length
//! and the dropped edges at an eighth, so that every figure stays defined; from 160 samples
//! (40 s) up this changes nothing.
//!
//! **Cost.** Each participant's detrended series, overlap statistics and phasors are computed
//! once per call and reused for all its pairs and for Kuramoto, so a pair costs one block of
//! lag products plus one phasor dot product. The analyser keeps its FFT plans and buffers
//! between calls; a round allocates only its output (and, above
//! [`ALL_PAIRS_MAX_PARTICIPANTS`], the random pair sample).
//!
//! **Degenerate input** never panics. A series is *usable* when it has the call's working
//! length (at least [`MIN_SAMPLES`]), only finite values, variance left after detrending, and
//! energy inside the band. Anything else (constant or straight-line series, NaN, infinities, a
//! length different from the others, a rhythm entirely outside 0.04–0.26 Hz) is unusable:
//! [`SynchronyAnalyzer::pair`] returns correlation, plv and strength 0 for it; in
//! [`SynchronyAnalyzer::group`] and [`SynchronyAnalyzer::kuramoto`] it takes part in no pair and
//! contributes no phase. With fewer than two usable participants the index is 0 (one oscillator
//! is trivially "in phase" with itself, which says nothing about a group). Every result is
//! finite.
//!
//! **Layout.** This file holds the constants, the result types and the analyser with its
//! one-call entry points (`pair`, `kuramoto`, `group`). Beside it: `round`, the same round in
//! steps a caller can spread out; `phase`, detrending and the band-passed phase of one series;
//! `pair_statistics`, the round's per-participant data and what one pair costs (lagged
//! correlation, PLV); `surrogates`, the shifted baselines.

mod pair_statistics;
mod phase;
mod round;
mod surrogates;

use std::fmt;

use rand::{SeedableRng, rngs::SmallRng};

use self::pair_statistics::Prepared;
use self::phase::PhaseExtractor;
use self::round::RoundProgress;
use self::surrogates::SurrogatePair;

/// Sampling rate of the heart-rate series this module expects.
pub const SYNCHRONY_SAMPLE_RATE_HZ: f64 = 4.0;
/// Lower edge of the band whose phase is compared (the HRV LF band's lower edge).
pub const BAND_LOW_HZ: f64 = 0.04;
/// Upper edge of the band (the coherence peak search range of coherence.md §2).
pub const BAND_HIGH_HZ: f64 = 0.26;
/// Correlation looks for the best lag within this many seconds either way.
pub const MAX_LAG_SECS: f64 = 5.0;
/// Surrogate shifts are at least this long (and at most the window minus this).
pub const MIN_SURROGATE_SHIFT_SECS: f64 = 10.0;
/// Up to this many usable participants every pair is computed; above it, a random sample.
pub const ALL_PAIRS_MAX_PARTICIPANTS: usize = 200;
/// Samples dropped at each end of the window for PLV and Kuramoto (see the module docs).
pub const EDGE_SAMPLES: usize = 8;
/// Shortest series the analyser works on (4 s at 4 Hz).
pub const MIN_SAMPLES: usize = 16;

/// Synchrony of one pair of participants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairSynchrony {
    /// Index of the first participant in the caller's series slice (0 from [`SynchronyAnalyzer::pair`]).
    pub a: usize,
    /// Index of the second participant (1 from [`SynchronyAnalyzer::pair`]); `a < b`.
    pub b: usize,
    /// Largest Pearson correlation over lags within ±5 s, in `[-1, 1]`.
    pub correlation: f64,
    /// Phase-locking value in the 0.04–0.26 Hz band, in `[0, 1]`.
    pub plv: f64,
    /// `(max(correlation, 0) + plv) / 2`, in `[0, 1]`.
    pub strength: f64,
}

/// Synchrony of a whole group for one window, with its chance baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSynchrony {
    /// Number of series given (usable or not).
    pub participants: usize,
    /// Kuramoto order parameter of the usable participants, averaged over the window, `[0, 1]`.
    pub index: f64,
    /// The same on the circularly shifted surrogates.
    pub surrogate_index: f64,
    /// Pairs of usable participants, sorted by `(a, b)`: all of them up to
    /// [`ALL_PAIRS_MAX_PARTICIPANTS`] usable participants, else a random sample of `max_pairs`.
    pub pairs: Vec<PairSynchrony>,
    /// True when `pairs` is a sample rather than every pair.
    pub pairs_sampled: bool,
    /// Mean `strength` over `pairs` (0 when there are none).
    pub mean_strength: f64,
    /// Mean `strength` of the same pairs on the surrogates (0 when there are none).
    pub surrogate_mean_strength: f64,
}

/// Computes pairwise synchrony and the group's Kuramoto index; keeps FFT plans and per-call
/// buffers so that steady-state rounds allocate only their output.
///
/// A round is [`SynchronyAnalyzer::group`] in one call, or the same steps one at a time so a
/// caller can spread a large room's round over several turns and needs no series of its own
/// beyond the one being added: [`SynchronyAnalyzer::begin_round`], one
/// [`SynchronyAnalyzer::add_series`] per participant (O(samples) each, surrogate and Kuramoto
/// sums included), [`SynchronyAnalyzer::plan_round`] (draws the pairs),
/// [`SynchronyAnalyzer::compute_pairs`] until it returns true, and
/// [`SynchronyAnalyzer::finish_round`]. Both give identical results for the same series and
/// seed.
///
/// Memory: per usable participant of the latest round it keeps the detrended series
/// (`f32`), the phasors and the lag statistics of the series and of its surrogate, about
/// 8.5 KiB at 256 samples. Surrogates are rotations of the real data, so they are not stored:
/// each pair rotates the two series it needs into scratch buffers.
pub struct SynchronyAnalyzer {
    phases: PhaseExtractor,
    real: Prepared,
    /// Indices (into the caller's series, counted by `add_series`) of the usable participants.
    usable: Vec<usize>,
    /// Series added in the current round, usable or not.
    added: usize,
    /// Per usable slot, its surrogate's circular shift.
    shifts: Vec<usize>,
    /// The round's random source: surrogate shifts as series are added, then the pairs.
    rng: SmallRng,
    /// Surrogate phasors summed over the usable slots (the real ones are in `phase_sum_*`).
    surrogate_sum_re: Vec<f64>,
    surrogate_sum_im: Vec<f64>,
    /// Per usable slot, the lag statistics of its surrogate (layout of `Prepared::lag_stats`).
    surrogate_lag_stats: Vec<f64>,
    /// One pair's surrogate data, rotated from the real slots: the lead series, the follower
    /// with its zero padding, and both phasors.
    surrogate_pair: SurrogatePair,
    phase_sum_re: Vec<f64>,
    phase_sum_im: Vec<f64>,
    /// Detrended values and phasors of one series, for [`SynchronyAnalyzer::kuramoto`].
    one_series: [Vec<f64>; 3],
    /// The slots of the pairs of this round.
    pair_slots: Vec<(usize, usize)>,
    /// Progress and partial results of the round in progress.
    round: RoundProgress,
}

impl fmt::Debug for SynchronyAnalyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynchronyAnalyzer")
            .field("samples", &self.phases.samples)
            .finish_non_exhaustive()
    }
}

impl SynchronyAnalyzer {
    /// An analyser planned for series of `samples` samples (256 = 64 s at 4 Hz). A call whose
    /// series all share another length re-plans for that length once (one allocation).
    pub fn new(samples: usize) -> Self {
        Self {
            phases: PhaseExtractor::new(samples),
            real: Prepared::default(),
            usable: Vec::new(),
            added: 0,
            shifts: Vec::new(),
            rng: SmallRng::seed_from_u64(0),
            surrogate_sum_re: Vec::new(),
            surrogate_sum_im: Vec::new(),
            surrogate_lag_stats: Vec::new(),
            surrogate_pair: SurrogatePair::default(),
            phase_sum_re: Vec::new(),
            phase_sum_im: Vec::new(),
            one_series: Default::default(),
            pair_slots: Vec::new(),
            round: RoundProgress::default(),
        }
    }

    /// Synchrony of two series. Returns `a: 0, b: 1`; all figures 0 when the lengths differ or
    /// either series is unusable.
    pub fn pair(&mut self, a: &[f64], b: &[f64]) -> PairSynchrony {
        let unusable = PairSynchrony {
            a: 0,
            b: 1,
            correlation: 0.0,
            plv: 0.0,
            strength: 0.0,
        };
        if a.len() != b.len() {
            return unusable;
        }
        self.prepare_all(&[a, b], 0);
        if self.usable.len() < 2 {
            return unusable;
        }
        let (correlation, _lag) = self.real.max_lag_correlation(0, 1);
        let plv = self.real.plv(0, 1, self.phases.interior());
        PairSynchrony {
            a: 0,
            b: 1,
            correlation,
            plv,
            strength: strength(correlation, plv),
        }
    }

    /// Kuramoto order parameter of the usable series, averaged over the window; 0 with fewer
    /// than two usable series. Memory stays O(samples) however many series are given.
    pub fn kuramoto(&mut self, series: &[&[f64]]) -> f64 {
        self.phases.adapt_to(series);
        let samples = self.phases.samples;
        let [values, re, im] = &mut self.one_series;
        for buffer in [&mut *values, &mut *re, &mut *im] {
            reset(buffer, samples);
        }
        reset(&mut self.phase_sum_re, samples);
        reset(&mut self.phase_sum_im, samples);
        let mut count = 0usize;
        for x in series {
            if self.phases.prepare(x, values, re, im) {
                count += 1;
                add_assign(&mut self.phase_sum_re, re);
                add_assign(&mut self.phase_sum_im, im);
            }
        }
        mean_resultant(
            &self.phase_sum_re,
            &self.phase_sum_im,
            count,
            self.phases.interior(),
        )
    }

    /// One synchrony round: pairwise figures, Kuramoto index, and both again on surrogates.
    ///
    /// `seed` alone drives the surrogate shifts and, above [`ALL_PAIRS_MAX_PARTICIPANTS`]
    /// usable participants, the choice of `max_pairs` distinct pairs (the same inputs and seed
    /// give the same result). Up to that many usable participants every pair is computed and
    /// `max_pairs` is not used.
    pub fn group(&mut self, series: &[&[f64]], seed: u64, max_pairs: usize) -> GroupSynchrony {
        self.prepare_all(series, seed);
        self.plan_round(max_pairs);
        while !self.compute_pairs(usize::MAX) {}
        self.finish_round()
    }

    /// Detrends and phases every usable series into `self.real`, one slot per usable series,
    /// and records which caller indices they came from in `self.usable`.
    fn prepare_all(&mut self, series: &[&[f64]], seed: u64) {
        self.phases.adapt_to(series);
        self.begin_round(self.phases.samples, seed);
        for x in series {
            self.add_series(x);
        }
    }
}

fn strength(correlation: f64, plv: f64) -> f64 {
    (correlation.max(0.0) + plv) / 2.0
}

/// Empties `buffer` and fills it with `len` zeros, keeping its allocation.
fn reset<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) {
    buffer.clear();
    buffer.resize(len, T::default());
}

fn add_assign(sum: &mut [f64], values: &[f64]) {
    for (s, v) in sum.iter_mut().zip(values) {
        *s += v;
    }
}

/// `mean_t |Σ_j u_j(t)| / count` over `interior`, or 0 when fewer than two phases were summed.
fn mean_resultant(
    sum_re: &[f64],
    sum_im: &[f64],
    count: usize,
    interior: std::ops::Range<usize>,
) -> f64 {
    if count < 2 || interior.is_empty() {
        return 0.0;
    }
    let len = interior.len() as f64;
    let total: f64 = sum_re[interior.clone()]
        .iter()
        .zip(&sum_im[interior])
        .map(|(re, im)| (re * re + im * im).sqrt())
        .sum();
    (total / (len * count as f64)).clamp(0.0, 1.0)
}

/// A heart rate for tests: 70 bpm plus a 3 bpm sine of `freq_hz` starting at `phase`.
#[cfg(test)]
fn sine(samples: usize, freq_hz: f64, phase: f64) -> Vec<f64> {
    (0..samples)
        .map(|i| {
            let t = i as f64 / SYNCHRONY_SAMPLE_RATE_HZ;
            70.0 + 3.0 * (std::f64::consts::TAU * freq_hz * t + phase).sin()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pair_statistics::MAX_LAG_SAMPLES;
    use super::surrogates::MIN_SHIFT_SAMPLES;
    use super::*;

    #[test]
    fn sample_counts_match_the_documented_seconds() {
        let rate = SYNCHRONY_SAMPLE_RATE_HZ;
        assert_eq!(MAX_LAG_SAMPLES as f64, MAX_LAG_SECS * rate);
        assert_eq!(MIN_SHIFT_SAMPLES as f64, MIN_SURROGATE_SHIFT_SECS * rate);
    }
}
