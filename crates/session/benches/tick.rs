//! The cost of one 1 Hz tick with 10 000 participants who all have fresh scores: group
//! figures (with the median), the room snapshot, the stored group snapshot and the feedback
//! due this second. Run with `cargo bench -p synchub-session --bench tick`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use synchub_session::record::ScheduleMode;
use synchub_session::record::{DeviceKind, IntentionCategory};
use synchub_session::{
    Engine, EngineConfig, JoinRequest, ParticipantId, PhaseDurations, ScheduleConfig,
};

const PARTICIPANTS: usize = 10_000;
/// 2026-01-01T10:00:00Z.
const START_MS: i64 = 1_767_261_600_000;

fn drain(engine: &mut Engine) -> usize {
    let mut effects = 0;
    while engine.poll_record().is_some() {
        effects += 1;
    }
    while engine.poll_message().is_some() {
        effects += 1;
    }
    while engine.poll_broadcast().is_some() {
        effects += 1;
    }
    effects
}

fn room() -> (Engine, Vec<ParticipantId>) {
    // One very long manual session, so however many iterations criterion runs, the session
    // is still in its active phase.
    let config = EngineConfig {
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations {
                preparation_secs: 0,
                active_secs: 100_000_000,
                integration_secs: 0,
            },
        },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, START_MS, [3; 32]).expect("engine");
    engine.handle_start_session(START_MS).expect("start");
    let ids = (0..PARTICIPANTS)
        .map(|k| {
            engine
                .handle_join(
                    START_MS + (k % 1000) as i64,
                    JoinRequest {
                        pseudonym: format!("{k:064x}"),
                        intention: Some(IntentionCategory::Other),
                        research_consent: true,
                        device: DeviceKind::Sim,
                        clock_offset_ms: None,
                    },
                )
                .expect("join")
        })
        .collect();
    drain(&mut engine);
    (engine, ids)
}

// The bench measures wall time, which the pure crate's clippy.toml bans in library code.
#[allow(clippy::disallowed_methods)]
fn tick(c: &mut Criterion) {
    let (mut engine, ids) = room();
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

criterion_group!(benches, tick);
criterion_main!(benches);
