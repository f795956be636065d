//! Surrogates: the chance baseline of every synchrony figure. Each usable participant's
//! detrended series is rotated by its own random shift; because the band-pass is circular, the
//! rotated phasors are exactly the surrogate's, so surrogates cost no FFT and are not stored.
//! A pair's surrogate data is rotated into scratch when the pair is computed.

use rand::Rng;

use super::pair_statistics::{
    LAG_SLOTS, LAG_STATS, MAX_LAG_SAMPLES, lag_correlation, lag_stats_of, padded_stride,
    phase_locking,
};
use super::{SynchronyAnalyzer, add_assign, reset};

/// The smallest surrogate shift in samples at the nominal rate (10 s = 40 samples).
pub(super) const MIN_SHIFT_SAMPLES: usize = 40;

/// Scratch for one surrogate pair (see `SynchronyAnalyzer::surrogate_pair_figures`).
#[derive(Debug, Default)]
pub(super) struct SurrogatePair {
    /// The lead slot currently rotated into `lead`/`lead_re`/`lead_im` (pairs come sorted by
    /// lead, so it changes about once per participant).
    pub(super) lead_slot: Option<usize>,
    lead: Vec<f32>,
    lead_re: Vec<f64>,
    lead_im: Vec<f64>,
    follow_padded: Vec<f32>,
    follow_re: Vec<f64>,
    follow_im: Vec<f64>,
}

impl SynchronyAnalyzer {
    /// Draws `slot`'s surrogate shift (usable slots in order, so the shifts do not depend on
    /// how the round was spread), computes the surrogate's lag statistics and adds both
    /// phasor series to the Kuramoto sums.
    pub(super) fn add_surrogate(&mut self, slot: usize) {
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

    /// Correlation and PLV of the surrogates of slots `a` and `b`: each slot's data rotated by
    /// its shift into scratch (exactly what a stored surrogate slot would hold), with the
    /// surrogate lag statistics of `plan_round`.
    pub(super) fn surrogate_pair_figures(&mut self, a: usize, b: usize) -> (f64, f64) {
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
}

/// `dst[t] = src[(t + shift) mod len]`.
fn rotate_into<T: Copy>(dst: &mut [T], src: &[T], shift: usize) {
    let n = src.len();
    dst[..n - shift].copy_from_slice(&src[shift..]);
    dst[n - shift..].copy_from_slice(&src[..shift]);
}

#[cfg(test)]
mod tests {
    use super::super::pair_statistics::{
        FOLLOW_INVERSE_SD, FOLLOW_SUM, LEAD_INVERSE_SD, LEAD_MEAN, Prepared, stats_row,
    };
    use super::super::sine;
    use super::*;

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
}
