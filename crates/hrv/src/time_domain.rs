//! Time-domain HRV metrics (Task Force 1996, NeuroKit2 conventions): mean RR, heart rate,
//! SDNN, RMSSD and pNN50 over a list of intervals.

/// Time-domain metrics of a list of RR intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeDomain {
    /// Mean interval, ms.
    pub mean_rr_ms: f64,
    /// `60 000 / mean_rr_ms`, beats per minute.
    pub hr_bpm: f64,
    /// Sample standard deviation of the intervals (n − 1), ms.
    pub sdnn_ms: f64,
    /// `sqrt(mean(Δrr²))` over successive differences, ms.
    pub rmssd_ms: f64,
    /// `100 × #(|Δrr| > 50 ms) / number of intervals`, percent (NeuroKit2 divides by the
    /// number of intervals, not of differences).
    pub pnn50_pct: f64,
}

/// Time-domain metrics; `None` with fewer than 2 intervals or any non-finite value.
pub fn time_domain(rr_ms: &[f64]) -> Option<TimeDomain> {
    time_domain_of(rr_ms.iter().copied())
}

/// [`time_domain`] over intervals that need not be contiguous in memory (a ring buffer's
/// range), so the live analyser can report them without copying. The same sums in the same
/// order: the results are identical to [`time_domain`]'s.
pub(crate) fn time_domain_of(rr_ms: impl Iterator<Item = f64> + Clone) -> Option<TimeDomain> {
    let mut n = 0usize;
    let mut sum = 0.0;
    for rr in rr_ms.clone() {
        if !rr.is_finite() {
            return None;
        }
        n += 1;
        sum += rr;
    }
    if n < 2 {
        return None;
    }
    let mean_rr_ms = sum / n as f64;
    let variance = rr_ms
        .clone()
        .map(|rr| (rr - mean_rr_ms).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    let mut squared_differences = 0.0;
    let mut over_50 = 0usize;
    for (previous, next) in rr_ms.clone().zip(rr_ms.skip(1)) {
        let difference = next - previous;
        squared_differences += difference * difference;
        if difference.abs() > 50.0 {
            over_50 += 1;
        }
    }
    Some(TimeDomain {
        mean_rr_ms,
        hr_bpm: if mean_rr_ms != 0.0 {
            60_000.0 / mean_rr_ms
        } else {
            0.0
        },
        sdnn_ms: variance.sqrt(),
        rmssd_ms: (squared_differences / (n - 1) as f64).sqrt(),
        pnn50_pct: 100.0 * over_50 as f64 / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let metrics = time_domain(&[800.0, 900.0, 820.0, 880.0]).unwrap();
        assert_eq!(metrics.mean_rr_ms, 850.0);
        assert!((metrics.hr_bpm - 60_000.0 / 850.0).abs() < 1e-12);
        // Deviations −50, 50, −30, 30: Σd² = 6800, / 3.
        assert!((metrics.sdnn_ms - (6800.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // Differences 100, −80, 60: Σ = 20 000, / 3.
        assert!((metrics.rmssd_ms - (20_000.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // Three differences above 50 ms over four intervals.
        assert_eq!(metrics.pnn50_pct, 75.0);
    }

    #[test]
    fn too_few_intervals() {
        assert_eq!(time_domain(&[]), None);
        assert_eq!(time_domain(&[800.0]), None);
        assert_eq!(time_domain(&[800.0, f64::NAN]), None);
    }
}
