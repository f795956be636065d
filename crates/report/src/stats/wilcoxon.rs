//! The Wilcoxon signed-rank test and the matched-pairs rank-biserial correlation, as
//! `scipy.stats.wilcoxon(x, y)` computes them with its defaults in scipy 1.16.3.
//!
//! Those defaults are: two-sided; `zero_method="wilcox"` (zero differences are dropped before
//! ranking); `correction=False` (no continuity correction); `method="auto"`, which chooses by
//! the number of pairs `n` (zeros included) and by whether the non-zero absolute differences
//! tie or any difference is zero:
//!
//! | pairs | no ties, no zeros | ties or zeros |
//! |---|---|---|
//! | n ≤ 13 | exact | exact permutation distribution (all 2ⁿ sign flips) |
//! | 14 ≤ n ≤ 50 | exact | normal approximation |
//! | n > 50 | normal approximation | normal approximation |
//!
//! (Earlier scipy releases switched at 25 pairs and ignored ties; 1.16's rule is the one a
//! reader running scipy today reproduces.) Both exact cases are the same computation here: the
//! distribution of the positive rank sum over all sign assignments of the non-zero differences
//! with their mid-ranks, which for untied ranks 1…n is the classical exact distribution and
//! with ties is the permutation distribution scipy enumerates. Ranks are doubled so mid-ranks
//! are integers and the distribution is counted exactly.

use serde::Serialize;

/// Above this many pairs scipy always uses the normal approximation.
const EXACT_MAX_PAIRS: usize = 50;
/// At or below this many pairs scipy enumerates every sign flip when there are ties or zeros.
const PERMUTATION_MAX_PAIRS: usize = 13;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WilcoxonMethod {
    /// The exact null distribution of untied ranks.
    Exact,
    /// The exact permutation distribution of the tied mid-ranks (scipy's permutation test,
    /// exhaustive at this size).
    ExactPermutation,
    /// Normal approximation with the tie correction of the variance, no continuity correction.
    NormalApproximation,
}

/// The Wilcoxon signed-rank test of paired differences and its effect size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedComparison {
    /// All pairs, zero differences included.
    pub pairs: usize,
    /// Pairs whose difference is exactly zero: dropped from ranking and test.
    pub zero_differences: usize,
    /// Whether two non-zero absolute differences are equal (mid-ranks were used).
    pub has_ties: bool,
    pub method: WilcoxonMethod,
    /// Sum of the ranks of the positive differences (R+).
    pub rank_sum_positive: f64,
    /// Sum of the ranks of the negative differences (R−).
    pub rank_sum_negative: f64,
    /// `min(R+, R−)`, what scipy reports as the two-sided statistic.
    pub statistic: f64,
    /// The standard score of R+ (normal approximation only).
    pub z: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Matched-pairs rank-biserial correlation `(R+ − R−) / (R+ + R−)`: +1 when every non-zero
    /// difference is positive, −1 when every one is negative.
    pub rank_biserial: f64,
}

/// Tests whether paired differences (`x − y`, one per pair) are centred on zero.
///
/// `None` when there is no non-zero difference (nothing to test) or a difference is NaN.
pub fn wilcoxon_signed_rank(differences: &[f64]) -> Option<PairedComparison> {
    if differences.iter().any(|difference| difference.is_nan()) {
        return None;
    }
    let ranked = SignedRanks::of(differences)?;
    let pairs = differences.len();
    let zero_differences = pairs - ranked.doubled_ranks.len();
    let exact = if pairs > EXACT_MAX_PAIRS {
        false
    } else if !ranked.has_ties && zero_differences == 0 {
        true
    } else {
        pairs <= PERMUTATION_MAX_PAIRS
    };
    let (method, z, p_value) = if exact {
        let method = if ranked.has_ties || zero_differences > 0 {
            WilcoxonMethod::ExactPermutation
        } else {
            WilcoxonMethod::Exact
        };
        (method, None, ranked.exact_p_value())
    } else {
        let z = ranked.z();
        (
            WilcoxonMethod::NormalApproximation,
            Some(z),
            2.0 * standard_normal_cdf(-z.abs()),
        )
    };
    let rank_sum_positive = f64::from(ranked.doubled_positive) / 2.0;
    let rank_sum_negative = f64::from(ranked.doubled_total - ranked.doubled_positive) / 2.0;
    Some(PairedComparison {
        pairs,
        zero_differences,
        has_ties: ranked.has_ties,
        method,
        rank_sum_positive,
        rank_sum_negative,
        statistic: rank_sum_positive.min(rank_sum_negative),
        z,
        p_value,
        rank_biserial: rank_biserial_from_sums(rank_sum_positive, rank_sum_negative),
    })
}

/// The matched-pairs rank-biserial correlation of paired differences (zeros dropped); `None`
/// when no difference is non-zero.
pub fn rank_biserial(differences: &[f64]) -> Option<f64> {
    let ranked = SignedRanks::of(differences)?;
    let positive = f64::from(ranked.doubled_positive);
    let negative = f64::from(ranked.doubled_total - ranked.doubled_positive);
    Some(rank_biserial_from_sums(positive, negative))
}

fn rank_biserial_from_sums(positive: f64, negative: f64) -> f64 {
    (positive - negative) / (positive + negative)
}

/// The non-zero differences ranked by absolute value, with mid-ranks for ties, doubled so
/// that every rank is an integer (`2·rank`).
struct SignedRanks {
    /// `2·rank` of each non-zero difference (in ascending order of absolute value).
    doubled_ranks: Vec<u32>,
    /// `2·R+`.
    doubled_positive: u32,
    /// `2·(R+ + R−) = count·(count + 1)`.
    doubled_total: u32,
    has_ties: bool,
    /// `Σ (t³ − t)` over groups of `t` equal absolute differences.
    tie_correction: f64,
}

impl SignedRanks {
    fn of(differences: &[f64]) -> Option<Self> {
        let mut nonzero: Vec<f64> = differences
            .iter()
            .copied()
            .filter(|difference| *difference != 0.0)
            .collect();
        if nonzero.is_empty() {
            return None;
        }
        nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
        let mut doubled_ranks = Vec::with_capacity(nonzero.len());
        let mut doubled_positive = 0_u32;
        let mut has_ties = false;
        let mut tie_correction = 0.0;
        let mut start = 0;
        while start < nonzero.len() {
            let mut end = start + 1;
            while end < nonzero.len() && nonzero[end].abs() == nonzero[start].abs() {
                end += 1;
            }
            let group = end - start;
            // Mid-rank of 1-based ranks start+1 ..= end, doubled: (start + 1) + end.
            let doubled = u32::try_from(start + 1 + end).unwrap_or(u32::MAX);
            if group > 1 {
                has_ties = true;
                let t = group as f64;
                tie_correction += t * t * t - t;
            }
            for difference in &nonzero[start..end] {
                doubled_ranks.push(doubled);
                if *difference > 0.0 {
                    doubled_positive += doubled;
                }
            }
            start = end;
        }
        let count = u32::try_from(nonzero.len()).unwrap_or(u32::MAX);
        Some(Self {
            doubled_ranks,
            doubled_positive,
            doubled_total: count * (count + 1),
            has_ties,
            tie_correction,
        })
    }

    /// `2·min(P(T ≤ t), P(T ≥ t))`, clipped to 1, for the positive rank sum `T` over all
    /// equally likely sign assignments.
    fn exact_p_value(&self) -> f64 {
        // counts[s] = number of sign assignments whose doubled positive rank sum is s.
        let total = self.doubled_total as usize;
        let mut counts = vec![0_u64; total + 1];
        counts[0] = 1;
        let mut reachable = 0;
        for &rank in &self.doubled_ranks {
            let rank = rank as usize;
            for sum in (0..=reachable).rev() {
                let ways = counts[sum];
                if ways > 0 {
                    counts[sum + rank] += ways;
                }
            }
            reachable += rank;
        }
        let observed = self.doubled_positive as usize;
        let at_most: u64 = counts[..=observed].iter().sum();
        let at_least: u64 = counts[observed..].iter().sum();
        // At most 50 ranks, so 2^50 assignments: exact in u64 and in f64.
        let assignments = (1_u64 << self.doubled_ranks.len()) as f64;
        (2.0 * (at_most.min(at_least) as f64 / assignments)).min(1.0)
    }

    /// The standard score of R+ with scipy's tie-corrected variance.
    fn z(&self) -> f64 {
        let count = self.doubled_ranks.len() as f64;
        let mean = count * (count + 1.0) * 0.25;
        let variance_times_24 =
            count * (count + 1.0) * (2.0 * count + 1.0) - self.tie_correction / 2.0;
        let standard_error = (variance_times_24 / 24.0).sqrt();
        (f64::from(self.doubled_positive) / 2.0 - mean) / standard_error
    }
}

/// Φ(x) as scipy's `special.ndtr` computes it: `erf` near zero, `erfc` in the tails.
fn standard_normal_cdf(x: f64) -> f64 {
    let scaled = x * std::f64::consts::FRAC_1_SQRT_2;
    let magnitude = scaled.abs();
    if magnitude < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(scaled)
    } else {
        let tail = 0.5 * libm::erfc(magnitude);
        if scaled > 0.0 { 1.0 - tail } else { tail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(differences: &[f64], expect: (WilcoxonMethod, f64, f64)) {
        let result = wilcoxon_signed_rank(differences).expect("something to test");
        let (method, statistic, p_value) = expect;
        assert_eq!(result.method, method, "{result:?}");
        assert_eq!(result.statistic, statistic, "{result:?}");
        assert!((result.p_value - p_value).abs() < 1e-12, "{result:?}");
    }

    #[test]
    fn all_positive_differences_give_the_smallest_exact_p() {
        // 5 pairs, all up: only one of 32 sign assignments is as extreme on each side.
        check(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            (WilcoxonMethod::Exact, 0.0, 2.0 / 32.0),
        );
    }

    #[test]
    fn a_tie_switches_to_the_permutation_distribution_of_mid_ranks() {
        // |d| = 1, 2, 2: ranks 1, 2.5, 2.5; R+ = 3.5 (the 1 and one 2), R− = 2.5.
        let result = wilcoxon_signed_rank(&[1.0, 2.0, -2.0]).expect("testable");
        assert_eq!(result.method, WilcoxonMethod::ExactPermutation);
        assert_eq!(result.statistic, 2.5);
        assert_eq!(result.p_value, 1.0);
        assert!((result.rank_biserial - 1.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn zero_differences_are_dropped_but_still_count_as_pairs() {
        let result = wilcoxon_signed_rank(&[0.0, 1.0, 2.0, 3.0]).expect("testable");
        assert_eq!(result.pairs, 4);
        assert_eq!(result.zero_differences, 1);
        assert_eq!(result.method, WilcoxonMethod::ExactPermutation);
        assert_eq!(result.rank_biserial, 1.0);
        assert_eq!(result.p_value, 0.25);
    }

    #[test]
    fn nothing_but_zeros_cannot_be_tested() {
        assert_eq!(wilcoxon_signed_rank(&[0.0, 0.0]), None);
        assert_eq!(wilcoxon_signed_rank(&[]), None);
        assert_eq!(rank_biserial(&[0.0]), None);
        assert_eq!(wilcoxon_signed_rank(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn the_normal_cdf_is_symmetric_and_half_at_zero() {
        assert_eq!(standard_normal_cdf(0.0), 0.5);
        for x in [0.3, 0.9, 1.7, 4.2] {
            assert!((standard_normal_cdf(x) + standard_normal_cdf(-x) - 1.0).abs() < 1e-15);
        }
        // Φ(−1.959963984540054) = 0.025.
        assert!((standard_normal_cdf(-1.959_963_984_540_054) - 0.025).abs() < 1e-15);
    }
}
