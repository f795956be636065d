//! The cost of the engine's 1 Hz tick. Run with `cargo bench -p synchub-session --bench tick`.
//!
//! - `session/tick_10000`: 10 000 participants who all have fresh client scores: group figures
//!   (with the median), the room snapshot, the stored group snapshot and the feedback due this
//!   second.
//! - `session/rr_plain_tick_N` and `session/rr_synchrony_tick_N`: N participants who each send
//!   one RR batch a second (hub-side coherence, as `synchub-sim` does), after 70 s of beats; a
//!   tick without, and the tick with, the 5-second synchrony round (all of the engine's wake-ups
//!   until the next tick, when the round is spread over several). The sending is not timed.
//!   The longest single wake-up of the synchrony ticks is printed at the end: it is what an
//!   input waits for behind the engine.
//! - `session/rr_batches_N`: the other side, one second of input: every participant's RR
//!   batch handled (beats pushed and cleaned, the coherence window of those whose 5 s came
//!   due, records), and the effects drained; the tick is not timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

mod support;
use support::{RrRoom, START_MS, drain};

const PARTICIPANTS: usize = 10_000;

// The bench measures wall time, which the pure crate's clippy.toml bans in library code.
#[allow(clippy::disallowed_methods)]
fn tick(c: &mut Criterion) {
    let mut engine = support::engine();
    let ids: Vec<_> = (0..PARTICIPANTS)
        .map(|k| support::join(&mut engine, k, START_MS + (k % 1000) as i64))
        .collect();
    drain(&mut engine);
    let mut now_ms = START_MS + 1_000;
    c.bench_function("session/tick_10000", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                // Everyone scores (not timed), then the next tick runs (timed).
                for (k, &id) in ids.iter().enumerate() {
                    let score = (k * 37 % 101) as f64;
                    engine
                        .handle_update_coherence(now_ms + 100, id, score)
                        .expect("score");
                }
                drain(&mut engine);
                let tick_ms = engine.poll_timeout().expect("tick");
                let started = Instant::now();
                engine.handle_timeout(tick_ms);
                black_box(drain(&mut engine));
                total += started.elapsed();
                now_ms = tick_ms;
            }
            total
        });
    });
}

#[allow(clippy::disallowed_methods, clippy::print_stderr)]
fn rr_ticks(c: &mut Criterion) {
    for participants in [2_000, 10_000] {
        let mut room = RrRoom::new(participants);
        for _ in 0..70 {
            room.send_second();
            room.tick();
        }
        let mut group = c.benchmark_group("session");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        group.bench_function(format!("rr_plain_tick_{participants}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iterations {
                    room.send_second();
                    let started = Instant::now();
                    let (synchrony, _) = room.tick();
                    if !synchrony {
                        total += started.elapsed();
                        done += 1;
                    }
                }
                total
            });
        });
        group.bench_function(format!("rr_batches_{participants}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let started = Instant::now();
                    room.send_second();
                    total += started.elapsed();
                    room.tick();
                }
                total
            });
        });
        let mut longest_wake = Duration::ZERO;
        group.bench_function(format!("rr_synchrony_tick_{participants}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iterations {
                    room.send_second();
                    let started = Instant::now();
                    let (synchrony, longest) = room.tick();
                    if synchrony {
                        total += started.elapsed();
                        longest_wake = longest_wake.max(longest);
                        done += 1;
                    }
                }
                total
            });
        });
        group.finish();
        eprintln!(
            "rr_synchrony_tick_{participants}: longest single wake-up {:.1} ms",
            longest_wake.as_secs_f64() * 1000.0
        );
    }
}

criterion_group!(benches, tick, rr_ticks);
criterion_main!(benches);
