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

use std::fmt;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

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

/// The largest lag in samples at the nominal rate (±5 s = ±20 samples).
const MAX_LAG_SAMPLES: usize = 20;
/// The smallest surrogate shift in samples at the nominal rate (10 s = 40 samples).
const MIN_SHIFT_SAMPLES: usize = 40;
/// Detrended RMS below this fraction of the series' largest magnitude counts as no variance:
/// far below any real heart-rate variability, far above the rounding left by detrending a line.
const MIN_RELATIVE_RMS: f64 = 1e-12;
/// In-band energy below this fraction of the total counts as no rhythm in the band.
const MIN_BAND_ENERGY_FRACTION: f64 = 1e-12;

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

/// Where a round stands between [`SynchronyAnalyzer::plan_round`] and
/// [`SynchronyAnalyzer::finish_round`].
#[derive(Debug, Default)]
struct RoundProgress {
    index: f64,
    surrogate_index: f64,
    pairs: Vec<PairSynchrony>,
    next_pair: usize,
    strength_sum: f64,
    surrogate_strength_sum: f64,
}

/// Scratch for one surrogate pair (see [`SynchronyAnalyzer::surrogate_pair`]).
#[derive(Debug, Default)]
struct SurrogatePair {
    /// The lead slot currently rotated into `lead`/`lead_re`/`lead_im` (pairs come sorted by
    /// lead, so it changes about once per participant).
    lead_slot: Option<usize>,
    lead: Vec<f32>,
    lead_re: Vec<f64>,
    lead_im: Vec<f64>,
    follow_padded: Vec<f32>,
    follow_re: Vec<f64>,
    follow_im: Vec<f64>,
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

    /// Starts a round over series of `samples` samples (re-planning the FFT once if that is a
    /// new workable length; series of any other length are unusable). `seed` alone drives the
    /// surrogate shifts and the pair sample, as in [`SynchronyAnalyzer::group`]. Forgets the
    /// previous round.
    pub fn begin_round(&mut self, samples: usize, seed: u64) {
        if samples != self.phases.samples && samples >= MIN_SAMPLES {
            self.phases = PhaseExtractor::new(samples);
        }
        let samples = self.phases.samples;
        self.real.clear(samples);
        self.usable.clear();
        self.added = 0;
        self.rng = SmallRng::seed_from_u64(seed);
        self.shifts.clear();
        self.surrogate_lag_stats.clear();
        for sums in [
            &mut self.phase_sum_re,
            &mut self.phase_sum_im,
            &mut self.surrogate_sum_re,
            &mut self.surrogate_sum_im,
        ] {
            reset(sums, samples);
        }
        self.round.pairs.clear();
        self.pair_slots.clear();
        self.round.next_pair = 0;
    }

    /// Adds the next participant's series to the round begun by
    /// [`SynchronyAnalyzer::begin_round`]: it is detrended and phased at once, and the caller's
    /// buffer is free again. Returns whether it is usable; pair indices in the result count
    /// every series added (usable or not) from 0.
    pub fn add_series(&mut self, x: &[f64]) -> bool {
        let index = self.added;
        self.added += 1;
        let samples = self.phases.samples;
        let slot = self.real.slots;
        self.real.push_slot();
        let range = slot * samples..(slot + 1) * samples;
        let detrended = &mut self.one_series[0];
        reset(detrended, samples);
        let ok = self.phases.prepare(
            x,
            detrended,
            &mut self.real.phase_re[range.clone()],
            &mut self.real.phase_im[range],
        );
        if !ok {
            self.real.pop_slot();
            return false;
        }
        let padded = self.real.padded_range(slot);
        for (out, v) in self.real.padded[padded].iter_mut().zip(detrended.iter()) {
            *out = *v as f32;
        }
        self.real.fill_lag_stats(slot);
        self.usable.push(index);
        self.add_surrogate(slot);
        true
    }

    /// Draws `slot`'s surrogate shift (usable slots in order, so the shifts do not depend on
    /// how the round was spread), computes the surrogate's lag statistics and adds both
    /// phasor series to the Kuramoto sums.
    fn add_surrogate(&mut self, slot: usize) {
        let samples = self.phases.samples;
        let min_shift = MIN_SHIFT_SAMPLES.min(samples / 4);
        let shift = self.rng.random_range(min_shift..samples - min_shift);
        self.shifts.push(shift);
        let rotated = &mut self.surrogate_pair.lead;
        reset(rotated, samples);
        rotate_into(rotated, self.real.series(slot), shift);
        self.surrogate_pair.lead_slot = None;
        let start = self.surrogate_lag_stats.len();
        self.surrogate_lag_stats
            .resize(start + LAG_STATS * LAG_SLOTS, 0.0);
        lag_stats_of(
            rotated,
            self.real.max_lag,
            &mut self.real.prefix,
            &mut self.surrogate_lag_stats[start..],
        );
        let range = slot * samples..(slot + 1) * samples;
        let (re, im) = (
            &self.real.phase_re[range.clone()],
            &self.real.phase_im[range],
        );
        add_assign(&mut self.phase_sum_re, re);
        add_assign(&mut self.phase_sum_im, im);
        // Sample t of the surrogate is sample (t + shift) mod n of the real series.
        let split = samples - shift;
        add_assign(&mut self.surrogate_sum_re[..split], &re[shift..]);
        add_assign(&mut self.surrogate_sum_re[split..], &re[..shift]);
        add_assign(&mut self.surrogate_sum_im[..split], &im[shift..]);
        add_assign(&mut self.surrogate_sum_im[split..], &im[..shift]);
    }

    /// After the last [`SynchronyAnalyzer::add_series`]: both Kuramoto indices from the sums,
    /// and the pairs drawn (all of them up to [`ALL_PAIRS_MAX_PARTICIPANTS`] usable
    /// participants, else `max_pairs`). O(samples + pairs).
    pub fn plan_round(&mut self, max_pairs: usize) {
        let usable = self.usable.len();
        let interior = self.phases.interior();
        let (index, surrogate_index) = if usable >= 2 {
            (
                mean_resultant(
                    &self.phase_sum_re,
                    &self.phase_sum_im,
                    usable,
                    interior.clone(),
                ),
                mean_resultant(
                    &self.surrogate_sum_re,
                    &self.surrogate_sum_im,
                    usable,
                    interior,
                ),
            )
        } else {
            (0.0, 0.0)
        };
        choose_pairs(usable, max_pairs, &mut self.rng, &mut self.pair_slots);
        self.surrogate_pair.lead_slot = None;
        self.round = RoundProgress {
            index,
            surrogate_index,
            pairs: std::mem::take(&mut self.round.pairs),
            next_pair: 0,
            strength_sum: 0.0,
            surrogate_strength_sum: 0.0,
        };
        self.round.pairs.clear();
        self.round.pairs.reserve(self.pair_slots.len());
    }

    /// Computes up to `max_pairs` more of the planned pairs (real and surrogate); returns true
    /// once every pair is done. Each pair costs about the same, so a caller can bound the time
    /// of one call by the count.
    pub fn compute_pairs(&mut self, max_pairs: usize) -> bool {
        let interior = self.phases.interior();
        let start = self.round.next_pair;
        let end = start.saturating_add(max_pairs).min(self.pair_slots.len());
        for k in start..end {
            let (sa, sb) = self.pair_slots[k];
            let (correlation, _lag) = self.real.max_lag_correlation(sa, sb);
            let plv = self.real.plv(sa, sb, interior.clone());
            let pair_strength = strength(correlation, plv);
            let (surrogate_correlation, surrogate_plv) = self.surrogate_pair_figures(sa, sb);
            self.round.strength_sum += pair_strength;
            self.round.surrogate_strength_sum += strength(surrogate_correlation, surrogate_plv);
            self.round.pairs.push(PairSynchrony {
                a: self.usable[sa],
                b: self.usable[sb],
                correlation,
                plv,
                strength: pair_strength,
            });
        }
        self.round.next_pair = end;
        end == self.pair_slots.len()
    }

    /// The round's result, once [`SynchronyAnalyzer::compute_pairs`] returned true (pairs not
    /// computed by then are missing from it).
    pub fn finish_round(&mut self) -> GroupSynchrony {
        let all_pairs = self.usable.len() * self.usable.len().saturating_sub(1) / 2;
        let pairs = std::mem::take(&mut self.round.pairs);
        let (mean_strength, surrogate_mean_strength) = if pairs.is_empty() {
            (0.0, 0.0)
        } else {
            let n = pairs.len() as f64;
            (
                self.round.strength_sum / n,
                self.round.surrogate_strength_sum / n,
            )
        };
        GroupSynchrony {
            participants: self.added,
            index: self.round.index,
            surrogate_index: self.round.surrogate_index,
            pairs,
            pairs_sampled: self.pair_slots.len() < all_pairs,
            mean_strength,
            surrogate_mean_strength,
        }
    }

    /// Correlation and PLV of the surrogates of slots `a` and `b`: each slot's data rotated by
    /// its shift into scratch (exactly what a stored surrogate slot would hold), with the
    /// surrogate lag statistics of `plan_round`.
    fn surrogate_pair_figures(&mut self, a: usize, b: usize) -> (f64, f64) {
        let n = self.phases.samples;
        let scratch = &mut self.surrogate_pair;
        if scratch.lead_slot != Some(a) {
            scratch.lead_slot = Some(a);
            let shift = self.shifts[a];
            reset(&mut scratch.lead, n);
            reset(&mut scratch.lead_re, n);
            reset(&mut scratch.lead_im, n);
            rotate_into(&mut scratch.lead, self.real.series(a), shift);
            let range = a * n..(a + 1) * n;
            rotate_into(
                &mut scratch.lead_re,
                &self.real.phase_re[range.clone()],
                shift,
            );
            rotate_into(&mut scratch.lead_im, &self.real.phase_im[range], shift);
        }
        let shift = self.shifts[b];
        if scratch.follow_padded.len() != padded_stride(n) {
            reset(&mut scratch.follow_padded, padded_stride(n));
        }
        reset(&mut scratch.follow_re, n);
        reset(&mut scratch.follow_im, n);
        rotate_into(
            &mut scratch.follow_padded[MAX_LAG_SAMPLES..MAX_LAG_SAMPLES + n],
            self.real.series(b),
            shift,
        );
        let range = b * n..(b + 1) * n;
        rotate_into(
            &mut scratch.follow_re,
            &self.real.phase_re[range.clone()],
            shift,
        );
        rotate_into(&mut scratch.follow_im, &self.real.phase_im[range], shift);
        let stats = |slot: usize| {
            &self.surrogate_lag_stats[slot * LAG_STATS * LAG_SLOTS..][..LAG_STATS * LAG_SLOTS]
        };
        let (correlation, _lag) = lag_correlation(
            &scratch.lead,
            &scratch.follow_padded,
            stats(a),
            stats(b),
            self.real.max_lag,
        );
        let interior = self.phases.interior();
        let plv = phase_locking(
            [
                &scratch.lead_re[interior.clone()],
                &scratch.lead_im[interior.clone()],
            ],
            [
                &scratch.follow_re[interior.clone()],
                &scratch.follow_im[interior],
            ],
        );
        (correlation, plv)
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

/// Which pairs of usable slots to compute, written into `pairs`: all of them (in `(a, b)`
/// order) up to [`ALL_PAIRS_MAX_PARTICIPANTS`], else `max_pairs` distinct ones drawn with
/// `rng`, sorted.
fn choose_pairs(
    usable: usize,
    max_pairs: usize,
    rng: &mut SmallRng,
    pairs: &mut Vec<(usize, usize)>,
) {
    pairs.clear();
    let all_pairs = usable * usable.saturating_sub(1) / 2;
    if usable <= ALL_PAIRS_MAX_PARTICIPANTS || max_pairs >= all_pairs {
        for a in 0..usable {
            for b in a + 1..usable {
                pairs.push((a, b));
            }
        }
        return;
    }
    let mut linear = rand::seq::index::sample(rng, all_pairs, max_pairs).into_vec();
    linear.sort_unstable();
    // Pairs are numbered row by row: row `a` holds (a, a+1) … (a, n−1) and starts at
    // `row_start`. The indices are sorted, so one forward walk decodes them all.
    let mut a = 0usize;
    let mut row_start = 0usize;
    for index in linear {
        while index >= row_start + (usable - 1 - a) {
            row_start += usable - 1 - a;
            a += 1;
        }
        pairs.push((a, a + 1 + (index - row_start)));
    }
}

/// FFT plans and scratch for one series length: detrend, band-pass and analytic phase.
struct PhaseExtractor {
    samples: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Positive-frequency bins kept by the band-pass.
    band: std::ops::Range<usize>,
}

impl PhaseExtractor {
    fn new(samples: usize) -> Self {
        let mut planner = FftPlanner::new();
        let forward = planner.plan_fft_forward(samples);
        let inverse = planner.plan_fft_inverse(samples);
        let scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        Self {
            samples,
            forward,
            inverse,
            spectrum: vec![Complex::new(0.0, 0.0); samples],
            scratch: vec![Complex::new(0.0, 0.0); scratch_len],
            band: band_bins(samples),
        }
    }

    /// Re-plans when every series shares a length other than the planned one (and that length
    /// is workable); otherwise keeps the plan, and series of other lengths are unusable.
    fn adapt_to(&mut self, series: &[&[f64]]) {
        let Some(first) = series.first() else { return };
        let len = first.len();
        if len != self.samples && len >= MIN_SAMPLES && series.iter().all(|x| x.len() == len) {
            *self = Self::new(len);
        }
    }

    /// Samples used by PLV and Kuramoto: all but the edges (fewer edges for short series).
    fn interior(&self) -> std::ops::Range<usize> {
        let edge = EDGE_SAMPLES.min(self.samples / 8);
        edge..self.samples - edge
    }

    /// Writes the detrended series (unit RMS) into `values` and the unit phasors of its
    /// band-passed analytic signal into `re`/`im`; returns false (outputs zeroed) when the
    /// series is unusable.
    fn prepare(&mut self, x: &[f64], values: &mut [f64], re: &mut [f64], im: &mut [f64]) -> bool {
        let ok = self.try_prepare(x, values, re, im);
        if !ok {
            values.fill(0.0);
            re.fill(0.0);
            im.fill(0.0);
        }
        ok
    }

    fn try_prepare(
        &mut self,
        x: &[f64],
        values: &mut [f64],
        re: &mut [f64],
        im: &mut [f64],
    ) -> bool {
        let n = self.samples;
        if x.len() != n || n < MIN_SAMPLES || x.iter().any(|v| !v.is_finite()) {
            return false;
        }
        // Scale by the largest magnitude first: results do not depend on scale, and this keeps
        // squares from overflowing or underflowing for extreme inputs.
        let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if peak == 0.0 {
            return false;
        }
        for (out, v) in values.iter_mut().zip(x) {
            *out = v / peak;
        }
        detrend(values);
        let energy: f64 = values.iter().map(|v| v * v).sum();
        let rms = (energy / n as f64).sqrt();
        if rms <= MIN_RELATIVE_RMS {
            return false;
        }
        for v in values.iter_mut() {
            *v /= rms;
        }
        self.analytic_phase(values, re, im)
    }

    /// Unit phasors of the analytic signal of `values` band-passed to 0.04–0.26 Hz; false when
    /// the band holds no energy.
    fn analytic_phase(&mut self, values: &[f64], re: &mut [f64], im: &mut [f64]) -> bool {
        let n = self.samples;
        for (c, v) in self.spectrum.iter_mut().zip(values.iter()) {
            *c = Complex::new(*v, 0.0);
        }
        self.forward
            .process_with_scratch(&mut self.spectrum, &mut self.scratch);
        let total_energy: f64 = self.spectrum.iter().map(|c| c.norm_sqr()).sum();
        let mut band_energy = 0.0;
        for (k, c) in self.spectrum.iter_mut().enumerate() {
            if self.band.contains(&k) {
                band_energy += c.norm_sqr();
                *c *= 2.0;
            } else {
                *c = Complex::new(0.0, 0.0);
            }
        }
        if band_energy <= MIN_BAND_ENERGY_FRACTION * total_energy {
            return false;
        }
        self.inverse
            .process_with_scratch(&mut self.spectrum, &mut self.scratch);

        let mean_power = self.spectrum.iter().map(|c| c.norm_sqr()).sum::<f64>() / n as f64;
        // A sample whose analytic amplitude vanishes has no phase; it contributes nothing
        // rather than an arbitrary angle.
        let min_amplitude = 1e-9 * mean_power.sqrt();
        for ((c, r), i) in self.spectrum.iter().zip(re.iter_mut()).zip(im.iter_mut()) {
            let amplitude = c.norm();
            if amplitude > min_amplitude {
                *r = c.re / amplitude;
                *i = c.im / amplitude;
            } else {
                *r = 0.0;
                *i = 0.0;
            }
        }
        true
    }
}

/// Positive-frequency bins `k` with `BAND_LOW_HZ ≤ k·fs/n ≤ BAND_HIGH_HZ` (and `k < n/2`).
fn band_bins(samples: usize) -> std::ops::Range<usize> {
    let bin_hz = SYNCHRONY_SAMPLE_RATE_HZ / samples as f64;
    // A small tolerance keeps a bin that lies exactly on an edge despite rounding.
    let low = ((BAND_LOW_HZ / bin_hz) - 1e-9).ceil().max(1.0) as usize;
    let high = ((BAND_HIGH_HZ / bin_hz) + 1e-9).floor() as usize;
    let high = high.min(samples.saturating_sub(1) / 2);
    low..(high + 1).max(low)
}

/// Subtracts the least-squares straight line.
fn detrend(values: &mut [f64]) {
    let n = values.len() as f64;
    let centre = (n - 1.0) / 2.0;
    let mean = values.iter().sum::<f64>() / n;
    let mut covariance = 0.0;
    let mut spread = 0.0;
    for (i, v) in values.iter().enumerate() {
        let t = i as f64 - centre;
        covariance += t * (v - mean);
        spread += t * t;
    }
    let slope = if spread > 0.0 {
        covariance / spread
    } else {
        0.0
    };
    for (i, v) in values.iter_mut().enumerate() {
        *v -= mean + slope * (i as f64 - centre);
    }
}

/// Per-participant data of one call, laid out flat with a fixed stride per slot.
#[derive(Default)]
struct Prepared {
    samples: usize,
    slots: usize,
    /// Detrended series at unit RMS between zeros ([`MAX_LAG_SAMPLES`] before, [`LAG_SLOTS`]
    /// after; see [`padded_stride`]): the zeros make every lag a product over the same
    /// `samples` positions, which is what lets [`lagged_dot_products`] compute them together.
    ///
    /// Single precision, because the lag products are nearly all of a round's cost and SIMD
    /// does twice as many `f32` as `f64` per instruction. At unit RMS over 256 samples this
    /// moves a correlation by about 1e-7, far below anything a reader of the figure can see;
    /// sums are still accumulated per block and normalised in `f64`.
    padded: Vec<f32>,
    /// Largest lag searched, in samples ([`MAX_LAG_SAMPLES`] unless the series are short).
    max_lag: usize,
    /// Per slot, [`LAG_STATS`] × [`LAG_SLOTS`] values: for each lag slot `k` (lag
    /// `k − max_lag`), the mean and inverse standard deviation of the samples this series
    /// contributes to the overlap when it leads (`a`) and the sum and inverse standard
    /// deviation when it follows (`b`). They depend on the series and the lag only, so each is
    /// computed once per round instead of once per pair. An inverse standard deviation of 0
    /// marks a lag without variance (or beyond the lag range), which is skipped.
    lag_stats: Vec<f64>,
    /// Prefix sums of one series and of its squares, scratch for `lag_stats`.
    prefix: Vec<f64>,
    /// Unit phasors of the band-passed analytic signal, `samples` per slot.
    phase_re: Vec<f64>,
    phase_im: Vec<f64>,
}

/// Rows of [`Prepared::lag_stats`] per slot.
const LAG_STATS: usize = 4;
const LEAD_MEAN: usize = 0;
const LEAD_INVERSE_SD: usize = 1;
const FOLLOW_SUM: usize = 2;
const FOLLOW_INVERSE_SD: usize = 3;

impl Prepared {
    /// No slots, for series of `samples` samples; keeps the buffers' allocations.
    fn clear(&mut self, samples: usize) {
        self.samples = samples;
        self.slots = 0;
        self.max_lag = MAX_LAG_SAMPLES.min(samples / 4);
        self.padded.clear();
        self.phase_re.clear();
        self.phase_im.clear();
        self.lag_stats.clear();
    }

    /// One more slot, zeroed.
    fn push_slot(&mut self) {
        self.slots += 1;
        let slots = self.slots;
        self.padded.resize(slots * padded_stride(self.samples), 0.0);
        self.phase_re.resize(slots * self.samples, 0.0);
        self.phase_im.resize(slots * self.samples, 0.0);
        self.lag_stats.resize(slots * LAG_STATS * LAG_SLOTS, 0.0);
    }

    /// Drops the last slot.
    fn pop_slot(&mut self) {
        self.slots -= 1;
        let slots = self.slots;
        self.padded.truncate(slots * padded_stride(self.samples));
        self.phase_re.truncate(slots * self.samples);
        self.phase_im.truncate(slots * self.samples);
        self.lag_stats.truncate(slots * LAG_STATS * LAG_SLOTS);
    }

    fn padded_slot(&self, slot: usize) -> &[f32] {
        let stride = padded_stride(self.samples);
        &self.padded[slot * stride..(slot + 1) * stride]
    }

    /// Where the series of `slot` sits inside `padded`.
    fn padded_range(&self, slot: usize) -> std::ops::Range<usize> {
        let start = slot * padded_stride(self.samples) + MAX_LAG_SAMPLES;
        start..start + self.samples
    }

    fn series(&self, slot: usize) -> &[f32] {
        &self.padded[self.padded_range(slot)]
    }

    /// The [`LAG_STATS`] rows of `slot`.
    fn slot_stats(&self, slot: usize) -> &[f64] {
        &self.lag_stats[slot * LAG_STATS * LAG_SLOTS..][..LAG_STATS * LAG_SLOTS]
    }

    #[cfg(test)]
    fn stats(&self, slot: usize, row: usize) -> &[f64; LAG_SLOTS] {
        stats_row(self.slot_stats(slot), row)
    }

    /// Fills the overlap statistics of `slot` for every lag (see `lag_stats`).
    fn fill_lag_stats(&mut self, slot: usize) {
        let range = self.padded_range(slot);
        let stats = &mut self.lag_stats[slot * LAG_STATS * LAG_SLOTS..][..LAG_STATS * LAG_SLOTS];
        lag_stats_of(&self.padded[range], self.max_lag, &mut self.prefix, stats);
    }

    /// Largest Pearson correlation of `a(t)` with `b(t + lag)` over `|lag| ≤ max lag`, each lag
    /// over its overlap only; returns `(correlation, lag in samples)`, `(0, 0)` if no lag works.
    fn max_lag_correlation(&self, a: usize, b: usize) -> (f64, isize) {
        lag_correlation(
            self.series(a),
            self.padded_slot(b),
            self.slot_stats(a),
            self.slot_stats(b),
            self.max_lag,
        )
    }

    /// Phase-locking value of slots `a` and `b` over `interior`.
    fn plv(&self, a: usize, b: usize, interior: std::ops::Range<usize>) -> f64 {
        let n = self.samples;
        let (ra, rb) = (
            a * n + interior.start..a * n + interior.end,
            b * n + interior.start..b * n + interior.end,
        );
        phase_locking(
            [&self.phase_re[ra.clone()], &self.phase_im[ra]],
            [&self.phase_re[rb.clone()], &self.phase_im[rb]],
        )
    }
}

/// Row `row` of one slot's lag statistics.
fn stats_row(stats: &[f64], row: usize) -> &[f64; LAG_SLOTS] {
    stats[row * LAG_SLOTS..(row + 1) * LAG_SLOTS]
        .try_into()
        .expect("a row of lag_stats is LAG_SLOTS long")
}

/// The overlap statistics of `series` for every lag up to `max_lag` (see
/// [`Prepared::lag_stats`]) into `stats`; `prefix` is scratch.
fn lag_stats_of(series: &[f32], max_lag: usize, prefix: &mut Vec<f64>, stats: &mut [f64]) {
    let n = series.len();
    reset(prefix, 2 * (n + 1));
    let (sums, squares) = prefix.split_at_mut(n + 1);
    for (i, v) in series.iter().enumerate() {
        let v = f64::from(*v);
        sums[i + 1] = sums[i] + v;
        squares[i + 1] = squares[i] + v * v;
    }
    // Sum, and inverse standard deviation over [start, end), or 0 without variance. The
    // series have unit RMS, so a healthy overlap has a variance near its length; a tiny one
    // has (numerically) none and says nothing about correlation.
    let overlap_stats = |start: usize, end: usize| {
        let count = (end - start) as f64;
        let sum = sums[end] - sums[start];
        let variance = (squares[end] - squares[start]) - sum * sum / count;
        let inverse_sd = if variance > 1e-9 * count {
            1.0 / variance.sqrt()
        } else {
            0.0
        };
        (sum, count, inverse_sd)
    };
    stats.fill(0.0);
    for k in 0..=2 * max_lag {
        let (lead, follow) = if k >= max_lag {
            let shift = k - max_lag;
            ((0, n - shift), (shift, n))
        } else {
            let shift = max_lag - k;
            ((shift, n), (0, n - shift))
        };
        let (sum, count, inverse_sd) = overlap_stats(lead.0, lead.1);
        stats[LEAD_MEAN * LAG_SLOTS + k] = sum / count;
        stats[LEAD_INVERSE_SD * LAG_SLOTS + k] = inverse_sd;
        let (sum, _, inverse_sd) = overlap_stats(follow.0, follow.1);
        stats[FOLLOW_SUM * LAG_SLOTS + k] = sum;
        stats[FOLLOW_INVERSE_SD * LAG_SLOTS + k] = inverse_sd;
    }
}

/// Largest Pearson correlation of the lead series `x` with the follower (its zero-padded
/// slot, [`padded_stride`] long) over lags within `max_lag`, from their lag statistics;
/// `(correlation, lag in samples)`, `(0, 0)` if no lag works.
fn lag_correlation(
    x: &[f32],
    follow_padded: &[f32],
    lead_stats: &[f64],
    follow_stats: &[f64],
    max_lag: usize,
) -> (f64, isize) {
    // products[k] = Σ_t a(t)·b(t + k − max_lag); b's zero padding limits each sum to the
    // overlap.
    let mut products = [0.0f32; LAG_SLOTS];
    let y = &follow_padded[MAX_LAG_SAMPLES - max_lag..];
    lagged_dot_products(x, y, &mut products);

    let (lead_mean, lead_inverse_sd) = (
        stats_row(lead_stats, LEAD_MEAN),
        stats_row(lead_stats, LEAD_INVERSE_SD),
    );
    let (follow_sum, follow_inverse_sd) = (
        stats_row(follow_stats, FOLLOW_SUM),
        stats_row(follow_stats, FOLLOW_INVERSE_SD),
    );
    let mut best = (f64::NEG_INFINITY, 0isize);
    for k in 0..=2 * max_lag {
        let scale = lead_inverse_sd[k] * follow_inverse_sd[k];
        if scale > 0.0 {
            // Pearson over the overlap: (Σxy − Σx·Σy / count) / sqrt(var_x · var_y).
            let covariance = f64::from(products[k]) - lead_mean[k] * follow_sum[k];
            let r = (covariance * scale).clamp(-1.0, 1.0);
            if r > best.0 {
                best = (r, k as isize - max_lag as isize);
            }
        }
    }
    if best.0.is_finite() { best } else { (0.0, 0) }
}

/// Phase-locking value of two runs of unit phasors `[re, im]` of equal length.
fn phase_locking([are, aim]: [&[f64]; 2], [bre, bim]: [&[f64]; 2]) -> f64 {
    if are.is_empty() {
        return 0.0;
    }
    // Σ u_a · conj(u_b) = Σ (ar·br + ai·bi) + i Σ (ai·br − ar·bi), in one pass with four
    // independent sums of each so the compiler can use SIMD.
    let (mut real, mut imaginary) = ([0.0f64; 4], [0.0f64; 4]);
    let chunks = are
        .chunks_exact(4)
        .zip(aim.chunks_exact(4))
        .zip(bre.chunks_exact(4).zip(bim.chunks_exact(4)));
    for ((ar, ai), (br, bi)) in chunks {
        for lane in 0..4 {
            real[lane] += ar[lane] * br[lane] + ai[lane] * bi[lane];
            imaginary[lane] += ai[lane] * br[lane] - ar[lane] * bi[lane];
        }
    }
    let tail = are.len() / 4 * 4;
    let (mut real, mut imaginary) = (real.iter().sum::<f64>(), imaginary.iter().sum::<f64>());
    for t in tail..are.len() {
        real += are[t] * bre[t] + aim[t] * bim[t];
        imaginary += aim[t] * bre[t] - are[t] * bim[t];
    }
    // Both sums are at most the number of unit phasors, so the plain square root cannot
    // overflow (`hypot` guards against that at several times the cost).
    ((real * real + imaginary * imaginary).sqrt() / are.len() as f64).clamp(0.0, 1.0)
}

/// `dst[t] = src[(t + shift) mod len]`.
fn rotate_into<T: Copy>(dst: &mut [T], src: &[T], shift: usize) {
    let n = src.len();
    dst[..n - shift].copy_from_slice(&src[shift..]);
    dst[n - shift..].copy_from_slice(&src[..shift]);
}

/// Lags computed together: the 41 lags of ±5 s rounded up to what fills twelve SSE registers
/// of four `f32` (the seven extra lags cost less than a second pass would).
const LAG_SLOTS: usize = 48;
const _: () = assert!(LAG_SLOTS > 2 * MAX_LAG_SAMPLES, "every lag needs a slot");

/// Per-slot length of [`Prepared::padded`]: the series with [`MAX_LAG_SAMPLES`] zeros before
/// it and [`LAG_SLOTS`] after, enough for every lag slot whatever the series' own lag range.
fn padded_stride(samples: usize) -> usize {
    MAX_LAG_SAMPLES + samples + LAG_SLOTS
}

/// `out[k] = Σ_t x[t] · y[t + k]` for the [`LAG_SLOTS`] lags `k`; `y` must hold at least
/// `x.len() + LAG_SLOTS − 1` values.
///
/// This is where a synchrony round spends most of its time. Every lag keeps its running sum in
/// a register, so each `x[t]` is loaded once for all lags, and the sums form independent
/// addition chains that the CPU overlaps: three times faster than one dot product per lag.
fn lagged_dot_products(x: &[f32], y: &[f32], out: &mut [f32; LAG_SLOTS]) {
    let mut sums = [0.0f32; LAG_SLOTS];
    for (xv, window) in x.iter().zip(y.array_windows::<LAG_SLOTS>()) {
        for (sum, yv) in sums.iter_mut().zip(window) {
            *sum += xv * yv;
        }
    }
    *out = sums;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn sine(samples: usize, freq_hz: f64, phase: f64) -> Vec<f64> {
        (0..samples)
            .map(|i| {
                let t = i as f64 / SYNCHRONY_SAMPLE_RATE_HZ;
                70.0 + 3.0 * (TAU * freq_hz * t + phase).sin()
            })
            .collect()
    }

    #[test]
    fn sample_counts_match_the_documented_seconds() {
        let rate = SYNCHRONY_SAMPLE_RATE_HZ;
        assert_eq!(MAX_LAG_SAMPLES as f64, MAX_LAG_SECS * rate);
        assert_eq!(MIN_SHIFT_SAMPLES as f64, MIN_SURROGATE_SHIFT_SECS * rate);
    }

    #[test]
    fn band_of_a_64_s_window_is_bins_3_to_16() {
        // f_k = k / 64 Hz: 3/64 = 0.047 is the first ≥ 0.04, 16/64 = 0.25 the last ≤ 0.26.
        assert_eq!(band_bins(256), 3..17);
        assert_eq!(band_bins(512), 6..34);
    }

    #[test]
    fn detrending_removes_a_straight_line_exactly() {
        let mut values: Vec<f64> = (0..256).map(|i| 5.0 + 0.25 * i as f64).collect();
        detrend(&mut values);
        assert!(values.iter().all(|v| v.abs() < 1e-12), "{values:?}");
    }

    #[test]
    fn lag_search_reports_the_lag_of_the_best_match() {
        let mut analyzer = SynchronyAnalyzer::new(256);
        let a = sine(256, 0.1, 0.0);
        // b runs 2 s (8 samples) behind a: b(t + 8) = a(t).
        let b = sine(256, 0.1, -TAU * 0.1 * 2.0);
        analyzer.prepare_all(&[&a, &b], 0);
        let (r, lag) = analyzer.real.max_lag_correlation(0, 1);
        assert_eq!(lag, 8);
        assert!(r > 0.999, "r = {r}");
    }

    #[test]
    fn lag_correlation_is_pearson_over_each_overlap() {
        let noisy = |seed: u64| -> Vec<f64> {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..256)
                .map(|_| 70.0 + rng.random_range(-3.0..3.0))
                .collect()
        };
        let (a, b) = (noisy(1), noisy(2));
        let mut analyzer = SynchronyAnalyzer::new(256);
        analyzer.prepare_all(&[&a, &b], 0);
        let (x, y) = (analyzer.real.series(0), analyzer.real.series(1));
        let pearson = |x: &[f32], y: &[f32]| {
            let n = x.len() as f64;
            let mx = x.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
            let my = y.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
            let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
            for (p, q) in x.iter().zip(y) {
                let (p, q) = (f64::from(*p) - mx, f64::from(*q) - my);
                sxy += p * q;
                sxx += p * p;
                syy += q * q;
            }
            sxy / (sxx * syy).sqrt()
        };
        let mut expected = (f64::NEG_INFINITY, 0isize);
        for lag in -20isize..=20 {
            let shift = lag.unsigned_abs();
            let r = if lag >= 0 {
                pearson(&x[..256 - shift], &y[shift..])
            } else {
                pearson(&x[shift..], &y[..256 - shift])
            };
            if r > expected.0 {
                expected = (r, lag);
            }
        }
        let (r, lag) = analyzer.real.max_lag_correlation(0, 1);
        assert_eq!(lag, expected.1);
        assert!((r - expected.0).abs() < 1e-6, "{r} vs {}", expected.0);
    }

    #[test]
    fn surrogate_statistics_are_those_of_the_rotated_series() {
        let mut analyzer = SynchronyAnalyzer::new(64);
        let (a, b) = (sine(64, 0.125, 0.3), sine(64, 0.0625, 1.0));
        analyzer.prepare_all(&[&a, &b], 3);
        analyzer.plan_round(10);
        let shift = analyzer.shifts[0];
        assert!((16..48).contains(&shift), "{shift}");
        // The same series rotated by hand and prepared as a real slot.
        let mut rotated = Prepared::default();
        rotated.clear(64);
        rotated.push_slot();
        let range = rotated.padded_range(0);
        rotate_into(&mut rotated.padded[range], analyzer.real.series(0), shift);
        rotated.fill_lag_stats(0);
        let surrogate = &analyzer.surrogate_lag_stats[..LAG_STATS * LAG_SLOTS];
        assert_eq!(rotated.slot_stats(0), surrogate);
        // Lag 0 covers the whole series, which a rotation does not change.
        let lag_zero = analyzer.real.max_lag;
        for row in [LEAD_MEAN, LEAD_INVERSE_SD, FOLLOW_SUM, FOLLOW_INVERSE_SD] {
            let (real, shifted) = (analyzer.real.stats(0, row), stats_row(surrogate, row));
            assert!((real[lag_zero] - shifted[lag_zero]).abs() < 1e-9);
        }
    }

    #[test]
    fn analytic_phase_of_a_shifted_series_is_the_shifted_phase() {
        // Why surrogates need no FFT of their own: the circular band-pass commutes with a
        // circular shift.
        let mut extractor = PhaseExtractor::new(256);
        let x: Vec<f64> = (0..256)
            .map(|i| ((i * 7919) % 97) as f64 + 3.0 * (i as f64 * 0.15).sin())
            .collect();
        let mut detrended = vec![0.0; 256];
        let (mut re, mut im) = (vec![0.0; 256], vec![0.0; 256]);
        assert!(extractor.prepare(&x, &mut detrended, &mut re, &mut im));
        let shifted: Vec<f64> = (0..256).map(|t| detrended[(t + 50) % 256]).collect();
        let (mut sre, mut sim) = (vec![0.0; 256], vec![0.0; 256]);
        assert!(extractor.analytic_phase(&shifted, &mut sre, &mut sim));
        for t in 0..256 {
            assert!((sre[t] - re[(t + 50) % 256]).abs() < 1e-9);
            assert!((sim[t] - im[(t + 50) % 256]).abs() < 1e-9);
        }
    }

    #[test]
    fn edge_samples_hold_the_worst_phase_error() {
        // A 0.1 Hz rhythm that does not fit the window a whole number of times (6.4 periods)
        // has a step where the circular FFT joins its end to its start. The phase error it
        // causes is largest at the edges and small once EDGE_SAMPLES are dropped.
        let mut extractor = PhaseExtractor::new(256);
        let x = sine(256, 0.1, 0.0);
        let mut values = vec![0.0; 256];
        let (mut re, mut im) = (vec![0.0; 256], vec![0.0; 256]);
        assert!(extractor.prepare(&x, &mut values, &mut re, &mut im));
        let error = |t: usize| {
            // The analytic signal of sin(ωt) is −i·exp(iωt): phase ωt − π/2.
            let expected = TAU * 0.1 * t as f64 / SYNCHRONY_SAMPLE_RATE_HZ - TAU / 4.0;
            let got = im[t].atan2(re[t]);
            let d = (got - expected).rem_euclid(TAU);
            d.min(TAU - d)
        };
        let interior = extractor.interior();
        let worst_edge = (0..interior.start)
            .chain(interior.end..256)
            .map(error)
            .fold(0.0, f64::max);
        let worst_interior = interior.map(error).fold(0.0, f64::max);
        assert!(worst_interior < 0.25, "interior error {worst_interior} rad");
        assert!(
            worst_edge > worst_interior,
            "{worst_edge} vs {worst_interior}"
        );
    }

    #[test]
    fn sampled_pairs_are_distinct_sorted_and_in_range() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut pairs = Vec::new();
        choose_pairs(300, 5000, &mut rng, &mut pairs);
        assert_eq!(pairs.len(), 5000);
        assert!(pairs.windows(2).all(|w| w[0] < w[1]));
        assert!(pairs.iter().all(|&(a, b)| a < b && b < 300));
    }

    #[test]
    fn every_pair_is_listed_in_order_up_to_the_limit() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut pairs = Vec::new();
        choose_pairs(4, 1, &mut rng, &mut pairs);
        assert_eq!(pairs, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]);
        // Above the limit, asking for at least every pair gives every pair.
        choose_pairs(201, usize::MAX, &mut rng, &mut pairs);
        assert_eq!(pairs.len(), 201 * 200 / 2);
    }

    #[test]
    fn lagged_products_match_one_dot_product_per_lag() {
        let x: Vec<f32> = (0..50).map(|i| (i as f32 * 0.7).sin()).collect();
        let y: Vec<f32> = (0..50 + 47).map(|i| (i as f32 * 0.3).cos() + 0.1).collect();
        let mut out = [0.0; LAG_SLOTS];
        lagged_dot_products(&x, &y, &mut out);
        for (k, got) in out.iter().enumerate() {
            let plain: f64 = x
                .iter()
                .zip(&y[k..])
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            assert!(
                (f64::from(*got) - plain).abs() < 1e-4,
                "lag {k}: {got} vs {plain}"
            );
        }
    }
}
