//! The spectral building blocks shared by the coherence window and the Welch spectrum:
//! linear detrend, periodic Hann window and a one-sided density periodogram on a reusable
//! real-input FFT plan.
//!
//! Both users follow scipy's conventions (`scipy.signal.detrend`, `get_window("hann")`,
//! `periodogram`/`welch` with `scaling="density"`), so they can be checked against it.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Subtract the least-squares straight line through `(n, samples[n])`.
pub(crate) fn detrend_linear(samples: &mut [f64]) {
    let n = samples.len();
    if n == 0 {
        return;
    }
    let mean_index = (n as f64 - 1.0) / 2.0;
    let mean_value = samples.iter().sum::<f64>() / n as f64;
    let mut covariance = 0.0;
    let mut variance = 0.0;
    for (i, value) in samples.iter().enumerate() {
        let di = i as f64 - mean_index;
        covariance += di * (value - mean_value);
        variance += di * di;
    }
    let slope = if variance > 0.0 {
        covariance / variance
    } else {
        0.0
    };
    for (i, value) in samples.iter_mut().enumerate() {
        *value -= mean_value + slope * (i as f64 - mean_index);
    }
}

/// Periodic Hann window of length `out.len()`: `w_n = 0.5 − 0.5·cos(2πn/N)`.
pub(crate) fn periodic_hann(out: &mut [f64]) {
    let n = out.len() as f64;
    for (i, w) in out.iter_mut().enumerate() {
        *w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos();
    }
}

/// A one-sided power spectral density on a fixed number of FFT points, reusing its plan and
/// buffers: the caller fills [`Periodogram::input_mut`] (zeros beyond its samples), then
/// calls [`Periodogram::compute`].
pub(crate) struct Periodogram {
    fft: Arc<dyn RealToComplex<f64>>,
    input: Vec<f64>,
    output: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
}

impl std::fmt::Debug for Periodogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Periodogram")
            .field("points", &self.input.len())
            .finish_non_exhaustive()
    }
}

impl Periodogram {
    pub(crate) fn new(points: usize) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(points);
        let input = fft.make_input_vec();
        let output = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        let power = vec![0.0; output.len()];
        Self {
            fft,
            input,
            output,
            scratch,
            power,
        }
    }

    /// The FFT input (length = points). The FFT uses it as scratch, so refill it every time.
    pub(crate) fn input_mut(&mut self) -> &mut [f64] {
        &mut self.input
    }

    /// `P_k = |X_k|² / (fs · Σ w²)`, doubled for every bin except DC and (even lengths)
    /// Nyquist; `k = 0 … points/2`. Returns the densities (ms²/Hz for input in ms).
    pub(crate) fn compute(&mut self, sample_rate_hz: f64, window_power: f64) -> &[f64] {
        let all = self.power.len() - 1;
        self.compute_up_to(sample_rate_hz, window_power, all)
    }

    /// [`Periodogram::compute`] for bins `0 ..= last_bin` only (the rest of the returned
    /// slice is stale): the coherence window needs nothing above 0.4 Hz.
    pub(crate) fn compute_up_to(
        &mut self,
        sample_rate_hz: f64,
        window_power: f64,
        last_bin: usize,
    ) -> &[f64] {
        // The only error realfft reports is a buffer of the wrong length, and ours are made
        // by the plan itself.
        let transformed =
            self.fft
                .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch);
        debug_assert!(transformed.is_ok());
        let points = self.input.len();
        let scale = 1.0 / (sample_rate_hz * window_power);
        let last = self.output.len() - 1;
        let bins = self.power.iter_mut().zip(&self.output).take(last_bin + 1);
        for (k, (p, x)) in bins.enumerate() {
            let one_sided = if k == 0 || (k == last && points.is_multiple_of(2)) {
                1.0
            } else {
                2.0
            };
            *p = x.norm_sqr() * scale * one_sided;
        }
        &self.power
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detrend_removes_a_line_exactly() {
        let mut samples: Vec<f64> = (0..50).map(|i| 3.0 + 0.5 * i as f64).collect();
        detrend_linear(&mut samples);
        assert!(samples.iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn hann_is_periodic() {
        let mut w = [0.0; 4];
        periodic_hann(&mut w);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn parseval_holds_for_the_density() {
        // For a rectangular window, Σ P_k·Δf equals the mean square of the signal.
        let n = 64;
        let mut periodogram = Periodogram::new(n);
        let signal: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        periodogram.input_mut().copy_from_slice(&signal);
        let sample_rate_hz = 4.0;
        let power = periodogram.compute(sample_rate_hz, n as f64);
        let total: f64 = power.iter().sum::<f64>() * sample_rate_hz / n as f64;
        let mean_square = signal.iter().map(|v| v * v).sum::<f64>() / n as f64;
        assert!((total - mean_square).abs() < 1e-9 * mean_square);
    }
}
