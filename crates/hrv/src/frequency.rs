//! Frequency-domain HRV metrics of a whole recording (Task Force 1996), with the Welch
//! spectrum written down in coherence.md §3 so that any scipy user can reproduce it exactly.

use crate::Beat;
use crate::coherence::SAMPLE_RATE_HZ;
use crate::spectrum::{Periodogram, detrend_linear, periodic_hann};
use crate::spline::CubicSpline;

/// Shortest recording (t_last − t_0) with frequency-domain metrics.
pub const MIN_FREQUENCY_DOMAIN_SECS: f64 = 120.0;
/// Welch segment length: 256 s at 4 Hz.
const SEGMENT_SAMPLES: usize = 1024;

const VLF_HZ: (f64, f64) = (0.0033, 0.04);
const LF_HZ: (f64, f64) = (0.04, 0.15);
const HF_HZ: (f64, f64) = (0.15, 0.4);

/// Band powers of a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyDomain {
    /// Power in [0.0033, 0.04) Hz, ms².
    pub vlf_ms2: f64,
    /// Power in [0.04, 0.15) Hz, ms².
    pub lf_ms2: f64,
    /// Power in [0.15, 0.4) Hz, ms².
    pub hf_ms2: f64,
    /// `lf / hf` (0 when hf is 0).
    pub lf_hf: f64,
    /// `100 · lf / (lf + hf)` (0 when both are 0).
    pub lf_nu: f64,
    /// `100 · hf / (lf + hf)` (0 when both are 0).
    pub hf_nu: f64,
}

/// Frequency-domain metrics over all `beats` (sorted by time, finite). `None` when the
/// recording is shorter than [`MIN_FREQUENCY_DOMAIN_SECS`] or its beats cannot be resampled.
///
/// 1. not-a-knot spline through all beats, evaluated at `t_0 + k/4`,
///    `k = 0 … floor((t_last − t_0)·4)`;
/// 2. linear detrend over the whole series;
/// 3. Welch: segments of `min(1024, K)` samples, 50 % overlap, periodic Hann, no per-segment
///    detrend, trailing samples that do not fill a segment dropped, density scaling, mean;
/// 4. band power `Σ P_k·Δf` over `lo ≤ f_k < hi`.
pub fn frequency_domain(beats: &[Beat]) -> Option<FrequencyDomain> {
    let (first, last) = (beats.first()?, beats.last()?);
    let duration_secs = last.time_secs - first.time_secs;
    // Written so that NaN durations are refused too.
    if !duration_secs.is_finite() || duration_secs < MIN_FREQUENCY_DOMAIN_SECS {
        return None;
    }
    let origin = first.time_secs;
    let mut knots_x = Vec::with_capacity(beats.len());
    let mut knots_y = Vec::with_capacity(beats.len());
    for beat in beats {
        let x = beat.time_secs - origin;
        if knots_x.last().is_none_or(|&previous| x > previous) {
            knots_x.push(x);
            knots_y.push(beat.rr_ms);
        }
    }
    let mut spline = CubicSpline::new();
    if !spline.fit(&knots_x, &knots_y) {
        return None;
    }
    let samples = (duration_secs * SAMPLE_RATE_HZ).floor() as usize + 1;
    let mut series = vec![0.0; samples];
    spline.evaluate_grid(0.0, 1.0 / SAMPLE_RATE_HZ, &mut series);
    detrend_linear(&mut series);

    let segment = samples.min(SEGMENT_SAMPLES);
    let step = segment - segment / 2;
    let mut window = vec![0.0; segment];
    periodic_hann(&mut window);
    let window_power: f64 = window.iter().map(|w| w * w).sum();
    let mut periodogram = Periodogram::new(segment);
    let mut mean_power = vec![0.0; segment / 2 + 1];
    let mut segments = 0usize;
    let mut start = 0;
    while start + segment <= samples {
        let input = periodogram.input_mut();
        for ((value, sample), w) in input.iter_mut().zip(&series[start..]).zip(&window) {
            *value = sample * w;
        }
        let power = periodogram.compute(SAMPLE_RATE_HZ, window_power);
        for (sum, p) in mean_power.iter_mut().zip(power) {
            *sum += p;
        }
        segments += 1;
        start += step;
    }
    let bin_width_hz = SAMPLE_RATE_HZ / segment as f64;
    let band = |(low_hz, high_hz): (f64, f64)| -> f64 {
        mean_power
            .iter()
            .enumerate()
            .filter(|&(k, _)| {
                let f = k as f64 * bin_width_hz;
                low_hz <= f && f < high_hz
            })
            .map(|(_, p)| p)
            .sum::<f64>()
            * bin_width_hz
            / segments as f64
    };
    let (vlf_ms2, lf_ms2, hf_ms2) = (band(VLF_HZ), band(LF_HZ), band(HF_HZ));
    if ![vlf_ms2, lf_ms2, hf_ms2].iter().all(|p| p.is_finite()) {
        return None;
    }
    let lf_hf = if hf_ms2 > 0.0 { lf_ms2 / hf_ms2 } else { 0.0 };
    let (lf_nu, hf_nu) = if lf_ms2 + hf_ms2 > 0.0 {
        let sum = lf_ms2 + hf_ms2;
        (100.0 * lf_ms2 / sum, 100.0 * hf_ms2 / sum)
    } else {
        (0.0, 0.0)
    };
    Some(FrequencyDomain {
        vlf_ms2,
        lf_ms2,
        hf_ms2,
        lf_hf,
        lf_nu,
        hf_nu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::beats_from_rr_ms;

    fn sine_beats(frequency_hz: f64, seconds: f64) -> Vec<Beat> {
        let mut rr_ms = Vec::new();
        let mut t_secs = 0.0;
        while t_secs < seconds {
            let rr = 1000.0 + 50.0 * (std::f64::consts::TAU * frequency_hz * t_secs).sin();
            t_secs += rr / 1000.0;
            rr_ms.push(rr);
        }
        beats_from_rr_ms(&rr_ms)
    }

    #[test]
    fn a_slow_rhythm_is_lf_and_a_fast_one_hf() {
        let lf = frequency_domain(&sine_beats(0.1, 300.0)).unwrap();
        assert!(lf.lf_nu > 95.0, "{lf:?}");
        let hf = frequency_domain(&sine_beats(0.25, 300.0)).unwrap();
        assert!(hf.hf_nu > 95.0, "{hf:?}");
        // A 50 ms sine has variance 1250 ms²; nearly all of it is in its band.
        assert!((lf.lf_ms2 - 1250.0).abs() < 150.0, "{lf:?}");
    }

    #[test]
    fn shorter_than_two_minutes_has_no_spectrum() {
        assert_eq!(frequency_domain(&sine_beats(0.1, 100.0)), None);
    }
}
