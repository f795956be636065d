//! Synthetic tachograms shared by the integration tests: deterministic (seeded) so a failure
//! reproduces.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use synchub_hrv::Beat;

pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// One standard normal draw (Box–Muller; keeps the dependency list short).
pub fn gaussian(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// RR list where each interval is `rr_at(t)` of the time the interval starts, until
/// `duration_secs` of beats exist.
pub fn rr_series(duration_secs: f64, mut rr_at: impl FnMut(f64) -> f64) -> Vec<f64> {
    let mut rr_ms = Vec::new();
    let mut t_secs = 0.0;
    while t_secs < duration_secs {
        let rr = rr_at(t_secs);
        t_secs += rr / 1000.0;
        rr_ms.push(rr);
    }
    rr_ms
}

/// Paced breathing at 6/min: `RR = 1000 + 80·sin(2π·0.1·t)` ms (coherence.md §2).
pub fn paced_sine(duration_secs: f64) -> Vec<f64> {
    rr_series(duration_secs, |t| {
        1000.0 + 80.0 * (std::f64::consts::TAU * 0.1 * t).sin()
    })
}

/// White-noise RR: 800 ms ± 50 ms (Gaussian, σ = 50 ms).
pub fn white_noise(duration_secs: f64, seed: u64) -> Vec<f64> {
    let mut rng = rng(seed);
    rr_series(duration_secs, |_| 800.0 + 50.0 * gaussian(&mut rng))
}

pub fn beats(rr_ms: &[f64]) -> Vec<Beat> {
    synchub_hrv::beats_from_rr_ms(rr_ms)
}

pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
    sum / count as f64
}
