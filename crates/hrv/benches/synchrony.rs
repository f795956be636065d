//! Synchrony cost per round (coherence.md §8: 200 participants under 100 ms), and the
//! Kuramoto index alone for a very large room.

use std::f64::consts::TAU;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use synchub_hrv::synchrony::{SYNCHRONY_SAMPLE_RATE_HZ, SynchronyAnalyzer};

/// 64 s at 4 Hz.
const SAMPLES: usize = 256;

/// Heart-rate series of a room: a shared 0.1 Hz rhythm at each person's own level, amplitude
/// and phase, plus individual noise, so every code path (band energy, phases, lags) does work.
fn room(participants: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..participants)
        .map(|_| {
            let mean_bpm = rng.random_range(55.0..95.0);
            let amplitude_bpm = rng.random_range(1.0..6.0);
            let phase = rng.random_range(0.0..TAU);
            (0..SAMPLES)
                .map(|n| {
                    let t_secs = n as f64 / SYNCHRONY_SAMPLE_RATE_HZ;
                    let noise: f64 = rng.random_range(-2.0..2.0);
                    mean_bpm + amplitude_bpm * (TAU * 0.1 * t_secs + phase).sin() + noise
                })
                .collect()
        })
        .collect()
}

fn synchrony(c: &mut Criterion) {
    let mut group = c.benchmark_group("hrv");
    group.sample_size(20);

    let people = room(200, 1);
    let refs: Vec<&[f64]> = people.iter().map(Vec::as_slice).collect();
    let mut analyzer = SynchronyAnalyzer::new(SAMPLES);
    let mut seed = 0u64;
    group.bench_function("synchrony_200", |b| {
        b.iter(|| {
            seed += 1;
            black_box(analyzer.group(black_box(&refs), seed, 20_000))
        })
    });

    let crowd = room(10_000, 2);
    let refs: Vec<&[f64]> = crowd.iter().map(Vec::as_slice).collect();
    group.bench_function("kuramoto_10000", |b| {
        b.iter(|| black_box(analyzer.kuramoto(black_box(&refs))))
    });
    group.finish();
}

criterion_group!(benches, synchrony);
criterion_main!(benches);
