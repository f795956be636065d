//! Quantiles as numpy computes them by default (`np.percentile(a, q)`, method `"linear"`).
//!
//! numpy's linear method puts quantile `p` at the virtual index `(n − 1)·p` of the sorted
//! values and interpolates between its neighbours with a two-sided lerp that is exact at both
//! ends; copying those formulas (not only the definition) keeps results equal to the last bit.

/// The `p`-quantile (`0 ≤ p ≤ 1`) of `values`, numpy's default method; `None` when empty or
/// when a value is NaN.
pub fn quantile_linear(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || values.iter().any(|value| value.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_of_sorted(&sorted, p))
}

/// [`quantile_linear`] of values already sorted ascending (and not empty).
pub fn quantile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * p;
    if virtual_index >= last as f64 {
        return sorted[last];
    }
    if virtual_index < 0.0 {
        return sorted[0];
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    // `previous` is in 0..last here, so the cast is exact.
    let below = sorted[previous as usize];
    let above = sorted[previous as usize + 1];
    let difference = above - below;
    if gamma >= 0.5 {
        above - difference * (1.0 - gamma)
    } else {
        below + difference * gamma
    }
}

/// The median as `np.median`: the middle value, or the mean of the two middle values.
/// `None` when empty or when a value is NaN.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|value| value.is_nan()) {
        return None;
    }
    let mut scratch = values.to_vec();
    Some(median_in_place(&mut scratch))
}

/// The median of a non-empty slice without NaN, reordering it (selection, not a sort).
pub(crate) fn median_in_place(values: &mut [f64]) -> f64 {
    let count = values.len();
    let middle = count / 2;
    let (lower, upper_middle, _) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let upper_middle = *upper_middle;
    if count % 2 == 1 {
        upper_middle
    } else {
        let lower_middle = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower_middle + upper_middle) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_of_one_to_four_interpolate_between_neighbours() {
        let values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile_linear(&values, 0.25), Some(1.75));
        assert_eq!(quantile_linear(&values, 0.5), Some(2.5));
        assert_eq!(quantile_linear(&values, 0.75), Some(3.25));
        assert_eq!(quantile_linear(&values, 0.0), Some(1.0));
        assert_eq!(quantile_linear(&values, 1.0), Some(4.0));
    }

    #[test]
    fn nothing_to_summarise_gives_none() {
        assert_eq!(quantile_linear(&[], 0.5), None);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn even_counts_take_the_mean_of_the_middle_pair() {
        assert_eq!(median(&[10.0, 40.0, 59.9, 90.0]), Some(49.95));
        assert_eq!(median(&[7.0]), Some(7.0));
    }
}
