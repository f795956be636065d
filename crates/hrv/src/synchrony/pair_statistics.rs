//! What one pair costs: the per-participant data of a round laid out flat (detrended series
//! between zero padding, lag statistics, phasors), the lagged Pearson correlation computed from
//! them for all lags at once, and the phase-locking value.
//!
//! Everything that depends on one series alone is computed once per round when the series is
//! added, so a pair is one block of lagged products plus one phasor dot product.

use super::reset;

/// The largest lag in samples at the nominal rate (±5 s = ±20 samples).
pub(super) const MAX_LAG_SAMPLES: usize = 20;

/// Per-participant data of one call, laid out flat with a fixed stride per slot.
#[derive(Default)]
pub(super) struct Prepared {
    pub(super) samples: usize,
    pub(super) slots: usize,
    /// Detrended series at unit RMS between zeros ([`MAX_LAG_SAMPLES`] before, [`LAG_SLOTS`]
    /// after; see [`padded_stride`]): the zeros make every lag a product over the same
    /// `samples` positions, which is what lets [`lagged_dot_products`] compute them together.
    ///
    /// Single precision, because the lag products are nearly all of a round's cost and SIMD
    /// does twice as many `f32` as `f64` per instruction. At unit RMS over 256 samples this
    /// moves a correlation by about 1e-7, far below anything a reader of the figure can see;
    /// sums are still accumulated per block and normalised in `f64`.
    pub(super) padded: Vec<f32>,
    /// Largest lag searched, in samples ([`MAX_LAG_SAMPLES`] unless the series are short).
    pub(super) max_lag: usize,
    /// Per slot, [`LAG_STATS`] × [`LAG_SLOTS`] values: for each lag slot `k` (lag
    /// `k − max_lag`), the mean and inverse standard deviation of the samples this series
    /// contributes to the overlap when it leads (`a`) and the sum and inverse standard
    /// deviation when it follows (`b`). They depend on the series and the lag only, so each is
    /// computed once per round instead of once per pair. An inverse standard deviation of 0
    /// marks a lag without variance (or beyond the lag range), which is skipped.
    pub(super) lag_stats: Vec<f64>,
    /// Prefix sums of one series and of its squares, scratch for `lag_stats`.
    pub(super) prefix: Vec<f64>,
    /// Unit phasors of the band-passed analytic signal, `samples` per slot.
    pub(super) phase_re: Vec<f64>,
    pub(super) phase_im: Vec<f64>,
}

/// Rows of [`Prepared::lag_stats`] per slot.
pub(super) const LAG_STATS: usize = 4;
pub(super) const LEAD_MEAN: usize = 0;
pub(super) const LEAD_INVERSE_SD: usize = 1;
pub(super) const FOLLOW_SUM: usize = 2;
pub(super) const FOLLOW_INVERSE_SD: usize = 3;

impl Prepared {
    /// No slots, for series of `samples` samples; keeps the buffers' allocations.
    pub(super) fn clear(&mut self, samples: usize) {
        self.samples = samples;
        self.slots = 0;
        self.max_lag = MAX_LAG_SAMPLES.min(samples / 4);
        self.padded.clear();
        self.phase_re.clear();
        self.phase_im.clear();
        self.lag_stats.clear();
    }

    /// One more slot, zeroed.
    pub(super) fn push_slot(&mut self) {
        self.slots += 1;
        let slots = self.slots;
        self.padded.resize(slots * padded_stride(self.samples), 0.0);
        self.phase_re.resize(slots * self.samples, 0.0);
        self.phase_im.resize(slots * self.samples, 0.0);
        self.lag_stats.resize(slots * LAG_STATS * LAG_SLOTS, 0.0);
    }

    /// Drops the last slot.
    pub(super) fn pop_slot(&mut self) {
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
    pub(super) fn padded_range(&self, slot: usize) -> std::ops::Range<usize> {
        let start = slot * padded_stride(self.samples) + MAX_LAG_SAMPLES;
        start..start + self.samples
    }

    pub(super) fn series(&self, slot: usize) -> &[f32] {
        &self.padded[self.padded_range(slot)]
    }

    /// The [`LAG_STATS`] rows of `slot`.
    pub(super) fn slot_stats(&self, slot: usize) -> &[f64] {
        &self.lag_stats[slot * LAG_STATS * LAG_SLOTS..][..LAG_STATS * LAG_SLOTS]
    }

    #[cfg(test)]
    pub(super) fn stats(&self, slot: usize, row: usize) -> &[f64; LAG_SLOTS] {
        stats_row(self.slot_stats(slot), row)
    }

    /// Fills the overlap statistics of `slot` for every lag (see `lag_stats`).
    pub(super) fn fill_lag_stats(&mut self, slot: usize) {
        let range = self.padded_range(slot);
        let stats = &mut self.lag_stats[slot * LAG_STATS * LAG_SLOTS..][..LAG_STATS * LAG_SLOTS];
        lag_stats_of(&self.padded[range], self.max_lag, &mut self.prefix, stats);
    }

    /// Largest Pearson correlation of `a(t)` with `b(t + lag)` over `|lag| ≤ max lag`, each lag
    /// over its overlap only; returns `(correlation, lag in samples)`, `(0, 0)` if no lag works.
    pub(super) fn max_lag_correlation(&self, a: usize, b: usize) -> (f64, isize) {
        lag_correlation(
            self.series(a),
            self.padded_slot(b),
            self.slot_stats(a),
            self.slot_stats(b),
            self.max_lag,
        )
    }

    /// Phase-locking value of slots `a` and `b` over `interior`.
    pub(super) fn plv(&self, a: usize, b: usize, interior: std::ops::Range<usize>) -> f64 {
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
pub(super) fn stats_row(stats: &[f64], row: usize) -> &[f64; LAG_SLOTS] {
    stats[row * LAG_SLOTS..(row + 1) * LAG_SLOTS]
        .try_into()
        .expect("a row of lag_stats is LAG_SLOTS long")
}

/// The overlap statistics of `series` for every lag up to `max_lag` (see
/// [`Prepared::lag_stats`]) into `stats`; `prefix` is scratch.
pub(super) fn lag_stats_of(
    series: &[f32],
    max_lag: usize,
    prefix: &mut Vec<f64>,
    stats: &mut [f64],
) {
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
pub(super) fn lag_correlation(
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
pub(super) fn phase_locking([are, aim]: [&[f64]; 2], [bre, bim]: [&[f64]; 2]) -> f64 {
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

/// Lags computed together: the 41 lags of ±5 s rounded up to what fills twelve SSE registers
/// of four `f32` (the seven extra lags cost less than a second pass would).
pub(super) const LAG_SLOTS: usize = 48;
const _: () = assert!(LAG_SLOTS > 2 * MAX_LAG_SAMPLES, "every lag needs a slot");

/// Per-slot length of [`Prepared::padded`]: the series with [`MAX_LAG_SAMPLES`] zeros before
/// it and [`LAG_SLOTS`] after, enough for every lag slot whatever the series' own lag range.
pub(super) fn padded_stride(samples: usize) -> usize {
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
    use rand::{Rng, SeedableRng, rngs::SmallRng};
    use std::f64::consts::TAU;

    use super::super::{SynchronyAnalyzer, sine};
    use super::*;

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
