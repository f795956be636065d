//! The percentile bootstrap confidence interval of a median, as
//! `scipy.stats.bootstrap((d,), np.median, method="percentile")` computes it.
//!
//! scipy draws `n_resamples` resamples of the `n` values (indices uniform in `0..n`, with
//! replacement), takes the median of each, and returns numpy's linear percentiles
//! `100·α/2` and `100·(1 − α/2)` of those medians. Given the same resample indices this module
//! returns the same interval bit for bit (the fixtures commit scipy's indices to prove it).
//! The report's own draws come from [`SplitMix64`], a generator small enough to write down,
//! so a report's interval is reproducible from its seed forever, whatever happens to the
//! `rand` crate's algorithms.

use serde::Serialize;

use super::quantile::{median_in_place, quantile_of_sorted};

/// scipy's default number of resamples.
pub const BOOTSTRAP_RESAMPLES: usize = 9_999;

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConfidenceInterval {
    pub low: f64,
    pub high: f64,
    /// 0.95 for a 95 % interval.
    pub confidence_level: f64,
}

/// The percentile interval of the median of `values`, from the given resamples (each a list
/// of indices into `values`). `None` when there are no values or no resamples.
pub fn median_interval_from_resamples<'a>(
    values: &[f64],
    resamples: impl IntoIterator<Item = &'a [usize]>,
    confidence_level: f64,
) -> Option<ConfidenceInterval> {
    if values.is_empty() {
        return None;
    }
    let mut scratch = Vec::with_capacity(values.len());
    let mut medians: Vec<f64> = resamples
        .into_iter()
        .map(|indices| {
            scratch.clear();
            scratch.extend(indices.iter().map(|&index| values[index]));
            median_in_place(&mut scratch)
        })
        .collect();
    percentile_interval(&mut medians, confidence_level)
}

/// The percentile interval of the median of `values` from `resamples` draws of a
/// [`SplitMix64`] seeded with `seed`. `None` when there are no values.
pub fn seeded_median_interval(
    values: &[f64],
    resamples: usize,
    seed: u64,
    confidence_level: f64,
) -> Option<ConfidenceInterval> {
    if values.is_empty() || resamples == 0 {
        return None;
    }
    let mut random = SplitMix64::new(seed);
    let count = values.len() as u64;
    let mut scratch = Vec::with_capacity(values.len());
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        scratch.clear();
        for _ in 0..values.len() {
            // The index is below `values.len()`, so it fits in usize.
            scratch.push(values[random.below(count) as usize]);
        }
        medians.push(median_in_place(&mut scratch));
    }
    percentile_interval(&mut medians, confidence_level)
}

fn percentile_interval(
    statistics: &mut [f64],
    confidence_level: f64,
) -> Option<ConfidenceInterval> {
    if statistics.is_empty() {
        return None;
    }
    statistics.sort_by(f64::total_cmp);
    // The same arithmetic as scipy and numpy: alpha, then ×100 for np.percentile, then /100.
    let alpha = (1.0 - confidence_level) / 2.0;
    let low_percent = alpha * 100.0;
    let high_percent = (1.0 - alpha) * 100.0;
    Some(ConfidenceInterval {
        low: quantile_of_sorted(statistics, low_percent / 100.0),
        high: quantile_of_sorted(statistics, high_percent / 100.0),
        confidence_level,
    })
}

/// Steele, Lea and Flood's SplitMix64 (2014): a 64-bit state advanced by a Weyl constant and
/// mixed by two multiply–xorshift rounds. Ample for bootstrap draws, and fixed forever.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..bound` (`bound > 0`), without modulo bias (Lemire 2019:
    /// multiply, and redraw the rare values that would favour low results).
    pub fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            // The low half decides acceptance, the high half is the draw.
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_reference_sequence() {
        // The first outputs for seed 1234567 of the reference C implementation.
        let mut random = SplitMix64::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| random.next_u64()).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn draws_stay_below_their_bound_and_reach_every_value() {
        let mut random = SplitMix64::new(9);
        let mut seen = [false; 7];
        for _ in 0..1_000 {
            let draw = random.below(7);
            assert!(draw < 7);
            seen[draw as usize] = true;
        }
        assert!(seen.iter().all(|&hit| hit));
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let values = [3.0, -1.0, 4.5, 2.0, 0.5, 7.0, 1.0];
        let first = seeded_median_interval(&values, 999, 42, 0.95).expect("values");
        let again = seeded_median_interval(&values, 999, 42, 0.95).expect("values");
        assert_eq!(first, again);
        assert!(first.low <= first.high);
        assert!(first.low >= -1.0 && first.high <= 7.0);
    }

    #[test]
    fn a_constant_sample_has_a_point_interval() {
        let interval = seeded_median_interval(&[2.0; 5], 100, 1, 0.95).expect("values");
        assert_eq!((interval.low, interval.high), (2.0, 2.0));
        assert_eq!(seeded_median_interval(&[], 100, 1, 0.95), None);
    }
}
