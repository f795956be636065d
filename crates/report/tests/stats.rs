//! The statistics against the fixtures `tools/reference/stats.py` wrote with scipy 1.16.3 and
//! numpy 2.3.5: p-values to 1e-9 where scipy is exact, 1e-6 for its normal approximation.

use std::path::Path;

use serde_json::Value;
use synchub_report::stats::{
    WilcoxonMethod, median, median_interval_from_resamples, quantile_linear, wilcoxon_signed_rank,
};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/stats")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("{}: {error}; run tools/reference/stats.py", path.display())
    });
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

#[test]
fn wilcoxon_equals_scipy_on_every_fixture() {
    let fixtures = fixture("wilcoxon.json");
    let cases = fixtures["cases"].as_array().expect("cases");
    let mut by_method = [0_usize; 3];
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let x = floats(&case["x"]);
        let y = floats(&case["y"]);
        let differences: Vec<f64> = x.iter().zip(&y).map(|(x, y)| x - y).collect();
        let result = wilcoxon_signed_rank(&differences).expect("fixtures have non-zero pairs");
        let (expected_method, tolerance, slot) = match case["scipy_method"].as_str() {
            Some("exact") => (WilcoxonMethod::Exact, 1e-9, 0),
            Some("permutation") => (WilcoxonMethod::ExactPermutation, 1e-9, 1),
            Some("asymptotic") => (WilcoxonMethod::NormalApproximation, 1e-6, 2),
            other => panic!("{name}: unknown method {other:?}"),
        };
        by_method[slot] += 1;
        assert_eq!(result.method, expected_method, "{name}");
        assert_eq!(
            result.pairs as u64,
            case["pairs"].as_u64().expect("pairs"),
            "{name}"
        );
        assert_eq!(
            result.zero_differences as u64,
            case["zero_differences"].as_u64().expect("zeros"),
            "{name}"
        );
        assert_eq!(
            result.has_ties,
            case["has_ties"].as_bool().expect("ties"),
            "{name}"
        );
        assert_eq!(
            result.statistic,
            case["statistic"].as_f64().expect("statistic"),
            "{name}"
        );
        let p = case["p_value"].as_f64().expect("p");
        assert!(
            (result.p_value - p).abs() <= tolerance,
            "{name}: p {} vs scipy {p}",
            result.p_value
        );
        let effect = case["rank_biserial"].as_f64().expect("effect");
        assert!((result.rank_biserial - effect).abs() <= 1e-12, "{name}");
    }
    // Every branch of scipy's method="auto" is exercised.
    assert!(by_method.iter().all(|&count| count >= 20), "{by_method:?}");
}

#[test]
fn bootstrap_interval_equals_scipy_given_scipys_resamples() {
    let fixtures = fixture("bootstrap.json");
    for case in fixtures["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let values = floats(&case["values"]);
        let resamples: Vec<Vec<usize>> = case["resample_indices"]
            .as_array()
            .expect("indices")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("row")
                    .iter()
                    .map(|i| usize::try_from(i.as_u64().expect("index")).expect("fits"))
                    .collect()
            })
            .collect();
        let confidence = case["confidence_level"].as_f64().expect("level");
        let interval = median_interval_from_resamples(
            &values,
            resamples.iter().map(Vec::as_slice),
            confidence,
        )
        .expect("values");
        assert_eq!(median(&values), case["median"].as_f64(), "{name}");
        assert_eq!(interval.low, case["low"].as_f64().expect("low"), "{name}");
        assert_eq!(
            interval.high,
            case["high"].as_f64().expect("high"),
            "{name}"
        );
    }
}

#[test]
fn quantiles_equal_numpy_percentile() {
    let fixtures = fixture("quantiles.json");
    for case in fixtures["cases"].as_array().expect("cases") {
        let values = floats(&case["values"]);
        for (percent, expected) in floats(&case["percentiles"])
            .into_iter()
            .zip(floats(&case["expected"]))
        {
            assert_eq!(
                quantile_linear(&values, percent / 100.0),
                Some(expected),
                "{values:?} at {percent}"
            );
        }
        assert_eq!(median(&values), case["median"].as_f64());
    }
}

mod properties {
    use proptest::prelude::*;
    use synchub_report::stats::{quantile_linear, wilcoxon_signed_rank};

    proptest! {
        #[test]
        fn swapping_the_pairs_mirrors_the_test(differences in prop::collection::vec(-50i32..50, 1..40)) {
            let differences: Vec<f64> = differences.into_iter().map(f64::from).collect();
            let mirrored: Vec<f64> = differences.iter().map(|d| -d).collect();
            match (wilcoxon_signed_rank(&differences), wilcoxon_signed_rank(&mirrored)) {
                (Some(a), Some(b)) => {
                    prop_assert_eq!(a.statistic, b.statistic);
                    prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
                    prop_assert_eq!(a.rank_biserial, -b.rank_biserial);
                    prop_assert!(a.p_value > 0.0 && a.p_value <= 1.0);
                    prop_assert!((-1.0..=1.0).contains(&a.rank_biserial));
                }
                (None, None) => prop_assert!(differences.iter().all(|d| *d == 0.0)),
                _ => prop_assert!(false, "only one side testable"),
            }
        }

        #[test]
        fn quantiles_are_ordered_and_within_the_data(
            values in prop::collection::vec(-1e6f64..1e6, 1..60),
            p in 0.0f64..=1.0,
            q in 0.0f64..=1.0,
        ) {
            let (low, high) = if p <= q { (p, q) } else { (q, p) };
            let a = quantile_linear(&values, low).expect("values");
            let b = quantile_linear(&values, high).expect("values");
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(a <= b);
            prop_assert!(a >= min && b <= max);
        }
    }
}
