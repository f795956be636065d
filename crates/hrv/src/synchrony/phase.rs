//! Each series' phase: scaled, detrended to unit RMS, band-passed to 0.04–0.26 Hz and turned
//! into its analytic signal in one FFT round trip, kept as unit phasors. PLV and Kuramoto
//! compare these phasors, over the interior of the window only.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::{BAND_HIGH_HZ, BAND_LOW_HZ, EDGE_SAMPLES, MIN_SAMPLES, SYNCHRONY_SAMPLE_RATE_HZ};
use crate::spectrum::detrend_linear;

/// Detrended RMS below this fraction of the series' largest magnitude counts as no variance:
/// far below any real heart-rate variability, far above the rounding left by detrending a line.
const MIN_RELATIVE_RMS: f64 = 1e-12;
/// In-band energy below this fraction of the total counts as no rhythm in the band.
const MIN_BAND_ENERGY_FRACTION: f64 = 1e-12;

/// FFT plans and scratch for one series length: detrend, band-pass and analytic phase.
pub(super) struct PhaseExtractor {
    pub(super) samples: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Positive-frequency bins kept by the band-pass.
    band: std::ops::Range<usize>,
}

impl PhaseExtractor {
    pub(super) fn new(samples: usize) -> Self {
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
    pub(super) fn adapt_to(&mut self, series: &[&[f64]]) {
        let Some(first) = series.first() else { return };
        let len = first.len();
        if len != self.samples && len >= MIN_SAMPLES && series.iter().all(|x| x.len() == len) {
            *self = Self::new(len);
        }
    }

    /// Samples used by PLV and Kuramoto: all but the edges (fewer edges for short series).
    pub(super) fn interior(&self) -> std::ops::Range<usize> {
        let edge = EDGE_SAMPLES.min(self.samples / 8);
        edge..self.samples - edge
    }

    /// Writes the detrended series (unit RMS) into `values` and the unit phasors of its
    /// band-passed analytic signal into `re`/`im`; returns false (outputs zeroed) when the
    /// series is unusable.
    pub(super) fn prepare(
        &mut self,
        x: &[f64],
        values: &mut [f64],
        re: &mut [f64],
        im: &mut [f64],
    ) -> bool {
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
        detrend_linear(values);
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

#[cfg(test)]
mod tests {
    use std::f64::consts::TAU;

    use super::super::sine;
    use super::*;

    #[test]
    fn band_of_a_64_s_window_is_bins_3_to_16() {
        // f_k = k / 64 Hz: 3/64 = 0.047 is the first ≥ 0.04, 16/64 = 0.25 the last ≤ 0.26.
        assert_eq!(band_bins(256), 3..17);
        assert_eq!(band_bins(512), 6..34);
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
}
