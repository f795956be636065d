//! Synchrony between participants (coherence.md §6): pairs, the Kuramoto index, and surrogates.

use std::f64::consts::TAU;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use synchub_hrv::synchrony::{
    GroupSynchrony, PairSynchrony, SYNCHRONY_SAMPLE_RATE_HZ, SynchronyAnalyzer,
};

/// 64 s at 4 Hz.
const SAMPLES: usize = 256;

/// A heart-rate series (bpm) sampled at 4 Hz: `f(t_secs)` for `t = n / 4`.
fn series(f: impl Fn(f64) -> f64) -> Vec<f64> {
    (0..SAMPLES)
        .map(|n| f(n as f64 / SYNCHRONY_SAMPLE_RATE_HZ))
        .collect()
}

/// A 0.1 Hz heart-rate rhythm (paced breathing at 6 breaths per minute), delayed by `lag_secs`.
fn paced(lag_secs: f64) -> Vec<f64> {
    series(|t| 70.0 + 4.0 * (TAU * 0.1 * (t - lag_secs)).sin())
}

/// Gaussian noise (Box–Muller), reproducible from `rng`.
fn gaussian(rng: &mut SmallRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
}

fn noise_series(rng: &mut SmallRng, mean_bpm: f64, sd_bpm: f64) -> Vec<f64> {
    (0..SAMPLES)
        .map(|_| mean_bpm + sd_bpm * gaussian(rng))
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

fn group(series: &[Vec<f64>], seed: u64) -> GroupSynchrony {
    let refs: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
    SynchronyAnalyzer::new(SAMPLES).group(&refs, seed, 20_000)
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    sum / count as f64
}

fn assert_no_synchrony(pair: PairSynchrony) {
    assert_eq!(
        (pair.correlation, pair.plv, pair.strength),
        (0.0, 0.0, 0.0),
        "{pair:?}"
    );
}

#[test]
fn identical_rhythms_are_fully_synchronous() {
    let a = paced(0.0);
    let pair = SynchronyAnalyzer::new(SAMPLES).pair(&a, &a);
    assert_eq!((pair.a, pair.b), (0, 1));
    assert!(pair.correlation > 0.999, "{pair:?}");
    assert!(pair.plv > 0.999, "{pair:?}");
    assert!(pair.strength > 0.999, "{pair:?}");
}

#[test]
fn a_two_second_lag_is_found_by_the_lag_search() {
    let a = paced(0.0);
    let b = paced(2.0);
    // Without the lag search the two would look only weakly related: cos(2π · 0.1 · 2) ≈ 0.31.
    let zero_lag = pearson(&a, &b);
    assert!((zero_lag - 0.31).abs() < 0.05, "zero-lag r = {zero_lag}");
    let pair = SynchronyAnalyzer::new(SAMPLES).pair(&a, &b);
    assert!(pair.correlation > 0.99, "{pair:?}");
    // A constant phase difference is perfect phase locking.
    assert!(pair.plv > 0.99, "{pair:?}");
}

#[test]
fn a_lag_beyond_five_seconds_is_not_searched() {
    // An irregular rhythm, so no other lag within ±5 s matches: the same signal 8 s later.
    let mut rng = SmallRng::seed_from_u64(11);
    let long: Vec<f64> = noise_series(&mut rng, 70.0, 3.0)
        .into_iter()
        .chain(noise_series(&mut rng, 70.0, 3.0))
        .collect();
    let a = &long[32..32 + SAMPLES];
    let b = &long[..SAMPLES]; // b(t + 8 s) = a(t)
    let within = SynchronyAnalyzer::new(SAMPLES).pair(a, &long[32 - 12..32 - 12 + SAMPLES]);
    assert!(within.correlation > 0.999, "3 s lag: {within:?}");
    let beyond = SynchronyAnalyzer::new(SAMPLES).pair(a, b);
    assert!(beyond.correlation < 0.5, "8 s lag: {beyond:?}");
}

#[test]
fn independent_noise_shows_little_synchrony_and_matches_its_surrogates() {
    // One window of 20 people has a chance index of about 0.2 ± 0.025, and real minus
    // surrogate varies by about ± 0.04 from window to window; ten windows average that out.
    let mut rng = SmallRng::seed_from_u64(3);
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let (mut index_sum, mut surrogate_sum) = (0.0, 0.0);
    let (mut strength_sum, mut surrogate_strength_sum) = (0.0, 0.0);
    for round in 0..10 {
        let people: Vec<Vec<f64>> = (0..20).map(|_| noise_series(&mut rng, 72.0, 3.0)).collect();
        let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
        let result = analyzer.group(&refs, round, 20_000);
        assert_eq!(result.pairs.len(), 190);
        assert!(!result.pairs_sampled);
        let mean_correlation = mean(result.pairs.iter().map(|p| p.correlation));
        let mean_plv = mean(result.pairs.iter().map(|p| p.plv));
        assert!(
            mean_correlation < 0.25,
            "mean correlation {mean_correlation}"
        );
        assert!(mean_plv < 0.4, "mean plv {mean_plv}");
        // Twenty random phases have an order parameter near sqrt(π / 80) ≈ 0.2 by chance.
        assert!(result.index < 0.35, "{result:?}");
        index_sum += result.index;
        surrogate_sum += result.surrogate_index;
        strength_sum += result.mean_strength;
        surrogate_strength_sum += result.surrogate_mean_strength;
    }
    let (index, surrogate_index) = (index_sum / 10.0, surrogate_sum / 10.0);
    assert!(
        (index - surrogate_index).abs() < 0.04,
        "index {index} vs surrogate {surrogate_index}"
    );
    assert!((strength_sum - surrogate_strength_sum).abs() / 10.0 < 0.02);
}

#[test]
fn a_group_sharing_a_rhythm_rises_well_above_its_surrogates() {
    let mut rng = SmallRng::seed_from_u64(5);
    let people: Vec<Vec<f64>> = (0..30)
        .map(|_| {
            let mean_bpm = rng.random_range(60.0..85.0);
            let amplitude = rng.random_range(2.0..6.0);
            let noise = noise_series(&mut rng, 0.0, 1.5);
            series(|t| mean_bpm + amplitude * (TAU * 0.1 * t).sin())
                .into_iter()
                .zip(noise)
                .map(|(x, e)| x + e)
                .collect()
        })
        .collect();
    let result = group(&people, 1);
    assert_eq!(result.participants, 30);
    assert_eq!(result.pairs.len(), 30 * 29 / 2);
    assert!(result.index > 0.8, "{}", result.index);
    assert!(
        result.index > result.surrogate_index + 0.4,
        "index {} vs surrogate {}",
        result.index,
        result.surrogate_index
    );
    assert!(result.mean_strength > result.surrogate_mean_strength + 0.2);
}

#[test]
fn scale_and_offset_of_a_series_change_nothing() {
    let mut rng = SmallRng::seed_from_u64(8);
    let people: Vec<Vec<f64>> = (0..6)
        .map(|i| {
            let noise = noise_series(&mut rng, 0.0, 2.0);
            paced(i as f64 * 0.5)
                .into_iter()
                .zip(noise)
                .map(|(x, e)| x + e)
                .collect()
        })
        .collect();
    let mut rescaled = people.clone();
    rescaled[2] = rescaled[2].iter().map(|x| 3.5 * x + 40.0).collect();
    rescaled[4] = rescaled[4].iter().map(|x| 0.01 * x - 1.0).collect();
    let (before, after) = (group(&people, 21), group(&rescaled, 21));
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert!(close(before.index, after.index));
    assert!(close(before.surrogate_index, after.surrogate_index));
    assert!(close(
        before.surrogate_mean_strength,
        after.surrogate_mean_strength
    ));
    for (p, q) in before.pairs.iter().zip(&after.pairs) {
        assert_eq!((p.a, p.b), (q.a, q.b));
        assert!(close(p.correlation, q.correlation), "{p:?} vs {q:?}");
        assert!(close(p.plv, q.plv), "{p:?} vs {q:?}");
    }
}

#[test]
fn the_seed_alone_decides_the_surrogates() {
    let mut rng = SmallRng::seed_from_u64(13);
    let people: Vec<Vec<f64>> = (0..8).map(|_| noise_series(&mut rng, 70.0, 2.0)).collect();
    let first = group(&people, 42);
    let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
    let mut reused = SynchronyAnalyzer::new(SAMPLES);
    reused.group(&refs, 7, 20_000);
    assert_eq!(reused.group(&refs, 42, 20_000), first);
    assert_ne!(group(&people, 43).surrogate_index, first.surrogate_index);
}

#[test]
fn a_round_spread_over_steps_equals_one_call() {
    // The hub spreads a large room's round over several wake-ups: series added one by one
    // (some unusable), pairs computed a few at a time. Same series and seed, same result, to
    // the bit, with all pairs and with a sample of them.
    let mut rng = SmallRng::seed_from_u64(19);
    let mut people: Vec<Vec<f64>> = (0..230)
        .map(|k| {
            let mut x = noise_series(&mut rng, 70.0, 2.0);
            if k % 3 == 0 {
                for (v, p) in x.iter_mut().zip(paced(k as f64 * 0.1)) {
                    *v += p - 70.0;
                }
            }
            x
        })
        .collect();
    people[5] = vec![70.0; SAMPLES];
    people[17][3] = f64::NAN;
    for (count, max_pairs) in [(40, 20_000), (230, 3_000)] {
        let members = &people[..count];
        let seed = 77 + count as u64;
        let expected = group(members, seed);
        let expected = if count > 200 {
            let refs: Vec<&[f64]> = members.iter().map(Vec::as_slice).collect();
            SynchronyAnalyzer::new(SAMPLES).group(&refs, seed, max_pairs)
        } else {
            expected
        };
        let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
        analyzer.begin_round(SAMPLES, seed);
        let usable = members.iter().filter(|x| analyzer.add_series(x)).count();
        assert_eq!(usable, count - 2);
        analyzer.plan_round(max_pairs);
        let mut steps = 0;
        while !analyzer.compute_pairs(97) {
            steps += 1;
        }
        assert!(steps > 5, "{steps}");
        let spread = analyzer.finish_round();
        assert_eq!(spread, expected);
        assert_eq!(spread.pairs_sampled, count > 200);
    }
}

#[test]
fn kuramoto_alone_equals_the_group_index() {
    let mut rng = SmallRng::seed_from_u64(17);
    let people: Vec<Vec<f64>> = (0..12)
        .map(|i| {
            let noise = noise_series(&mut rng, 0.0, 2.0);
            paced(0.2 * i as f64)
                .into_iter()
                .zip(noise)
                .map(|(x, e)| x + e)
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let index = analyzer.kuramoto(&refs);
    assert!((index - analyzer.group(&refs, 0, 20_000).index).abs() < 1e-12);
    let identical = vec![paced(0.0); 5];
    let identical: Vec<&[f64]> = identical.iter().map(Vec::as_slice).collect();
    assert!(analyzer.kuramoto(&identical) > 0.999);
}

#[test]
fn above_two_hundred_participants_pairs_are_a_sample() {
    let mut rng = SmallRng::seed_from_u64(23);
    let people: Vec<Vec<f64>> = (0..240)
        .map(|_| noise_series(&mut rng, 70.0, 2.0))
        .collect();
    let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
    let result = SynchronyAnalyzer::new(SAMPLES).group(&refs, 4, 500);
    assert_eq!(result.participants, 240);
    assert!(result.pairs_sampled);
    assert_eq!(result.pairs.len(), 500);
    assert!(
        result
            .pairs
            .windows(2)
            .all(|w| (w[0].a, w[0].b) < (w[1].a, w[1].b))
    );
    assert!(result.pairs.iter().all(|p| p.a < p.b && p.b < 240));
}

#[test]
fn unusable_series_yield_zero_and_never_a_panic() {
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let good = paced(0.0);
    let constant = vec![72.0; SAMPLES];
    let straight_line = series(|t| 60.0 + 0.2 * t);
    let mut with_nan = paced(0.0);
    with_nan[100] = f64::NAN;
    let mut with_infinity = paced(0.0);
    with_infinity[3] = f64::INFINITY;
    let shorter = good[..200].to_vec();
    for bad in [
        &constant,
        &straight_line,
        &with_nan,
        &with_infinity,
        &shorter,
    ] {
        assert_no_synchrony(analyzer.pair(&good, bad));
        assert_no_synchrony(analyzer.pair(bad, &good));
    }
    assert_no_synchrony(analyzer.pair(&[], &[]));
}

#[test]
fn unusable_participants_are_left_out_of_pairs_and_index() {
    let usable = [paced(0.0), paced(0.0), paced(0.0)];
    let mut with_nan = paced(0.0);
    with_nan[10] = f64::NAN;
    let constant = vec![70.0; SAMPLES];
    let short = vec![70.0; 10];
    let all = [
        usable[0].as_slice(),
        &constant,
        &usable[1],
        &with_nan,
        &short,
        &usable[2],
    ];
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let result = analyzer.group(&all, 9, 20_000);
    assert_eq!(result.participants, 6);
    let pairs: Vec<(usize, usize)> = result.pairs.iter().map(|p| (p.a, p.b)).collect();
    assert_eq!(pairs, vec![(0, 2), (0, 5), (2, 5)]);
    assert!(result.index > 0.999, "{result:?}");
    assert!(analyzer.kuramoto(&all) > 0.999);
}

#[test]
fn fewer_than_two_usable_participants_give_an_index_of_zero() {
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let good = paced(0.0);
    let constant = vec![70.0; SAMPLES];
    for members in [
        vec![],
        vec![good.as_slice()],
        vec![good.as_slice(), &constant],
    ] {
        let result = analyzer.group(&members, 1, 20_000);
        assert_eq!(result.participants, members.len());
        assert_eq!((result.index, result.surrogate_index), (0.0, 0.0));
        assert!(result.pairs.is_empty() && !result.pairs_sampled);
        assert_eq!(
            (result.mean_strength, result.surrogate_mean_strength),
            (0.0, 0.0)
        );
        assert_eq!(analyzer.kuramoto(&members), 0.0);
    }
}

#[test]
fn series_of_another_common_length_are_analysed_at_that_length() {
    // 128 samples = 32 s; the analyser re-plans for it.
    let a: Vec<f64> = paced(0.0)[..128].to_vec();
    let pair = SynchronyAnalyzer::new(SAMPLES).pair(&a, &a);
    assert!(pair.correlation > 0.999 && pair.plv > 0.999, "{pair:?}");
}

fn arbitrary_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 40.0..180.0f64,
        1 => any::<f64>(),
        1 => Just(70.0),
    ]
}

fn arbitrary_series() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        4 => prop::collection::vec(arbitrary_value(), SAMPLES),
        1 => prop::collection::vec(arbitrary_value(), 0..300),
    ]
}

fn assert_in_range(pair: &PairSynchrony) {
    assert!((-1.0..=1.0).contains(&pair.correlation), "{pair:?}");
    assert!((0.0..=1.0).contains(&pair.plv), "{pair:?}");
    assert!((0.0..=1.0).contains(&pair.strength), "{pair:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_input_gives_finite_results_in_range(
        people in prop::collection::vec(arbitrary_series(), 0..6),
        seed in any::<u64>(),
        max_pairs in 0usize..30,
    ) {
        let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
        let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
        let result = analyzer.group(&refs, seed, max_pairs);
        prop_assert_eq!(result.participants, people.len());
        for value in [result.index, result.surrogate_index, result.mean_strength,
                      result.surrogate_mean_strength] {
            prop_assert!((0.0..=1.0).contains(&value), "{:?}", result);
        }
        result.pairs.iter().for_each(assert_in_range);
        let index = analyzer.kuramoto(&refs);
        prop_assert!((0.0..=1.0).contains(&index));
        if let [a, b, ..] = refs.as_slice() {
            assert_in_range(&analyzer.pair(a, b));
        }
    }
}
