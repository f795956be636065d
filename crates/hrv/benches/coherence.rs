//! Cost of one coherence window (coherence.md §8: under 20 µs on one core) and of one live
//! step of a participant (5 s of beats: cleaning, bookkeeping and the window).
//!
//! `cargo bench -p synchub-hrv --bench coherence`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use synchub_hrv::{Beat, CoherenceAnalyzer, StreamConfig, StreamWorkspace, StreamingAnalyzer};

/// Paced breathing with a little irregularity, as a live participant would give.
fn rr_at(t_secs: f64, beat: usize) -> f64 {
    1000.0
        + 80.0 * (std::f64::consts::TAU * 0.1 * t_secs).sin()
        + 15.0 * ((beat * 7919 % 23) as f64 / 11.0 - 1.0)
}

fn beats(duration_secs: f64) -> Vec<Beat> {
    let mut beats = Vec::new();
    let mut t_secs = 0.0;
    while t_secs < duration_secs {
        let rr_ms = rr_at(t_secs, beats.len());
        t_secs += rr_ms / 1000.0;
        beats.push(Beat {
            time_secs: t_secs,
            rr_ms,
        });
    }
    beats
}

fn coherence(c: &mut Criterion) {
    let mut group = c.benchmark_group("hrv");

    // One 64 s window in steady state: resample, detrend, Hann, 2048-point FFT, bands.
    let beats = beats(600.0);
    let times: Vec<f64> = beats.iter().map(|b| b.time_secs).collect();
    let rr: Vec<f64> = beats.iter().map(|b| b.rr_ms).collect();
    let artifact = vec![false; beats.len()];
    let mut analyzer = CoherenceAnalyzer::new();
    let mut m = 0u32;
    group.bench_function("coherence_window", |b| {
        b.iter(|| {
            m = (m + 1) % 100;
            let start = times[0] + 5.0 * f64::from(m);
            black_box(analyzer.analyze_window(
                black_box(&times),
                black_box(&rr),
                &artifact,
                start,
                64.0,
            ))
        })
    });

    // One live step: push 5 s of beats one by one (each final after 5 beats of look-ahead and
    // cleaned), then poll the window that comes due. Without cleaning too, to see its share.
    for (name, clean) in [
        ("streaming_step_5s", true),
        ("streaming_step_5s_uncleaned", false),
    ] {
        let mut live = StreamingAnalyzer::new(StreamConfig {
            clean,
            ..StreamConfig::default()
        });
        let (mut t_secs, mut count) = (0.0, 0usize);
        let mut workspace = StreamWorkspace::new();
        let mut push_until = move |live: &mut StreamingAnalyzer, until_secs: f64| {
            while t_secs < until_secs {
                let rr_ms = rr_at(t_secs, count);
                t_secs += rr_ms / 1000.0;
                count += 1;
                live.push(
                    Beat {
                        time_secs: t_secs,
                        rr_ms,
                    },
                    &mut workspace,
                )
                .unwrap();
                while live.poll_result(&mut workspace).is_some() {}
            }
        };
        push_until(&mut live, 120.0);
        let mut next_secs = 120.0;
        group.bench_function(name, |b| {
            b.iter(|| {
                next_secs += 5.0;
                push_until(&mut live, next_secs);
                black_box(live.latest().copied())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, coherence);
criterion_main!(benches);
