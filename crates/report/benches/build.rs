//! How long a report takes for a full room: a 15-minute session (30 s + 750 s + 120 s, the
//! default schedule) with 200 participants. Target: build + HTML under 1 s (quality.md).
//!
//! The session is generated as `SessionData` with realistic shapes rather than run through a
//! hub (which would take 15 minutes): every participant has a score every 5 s from 35 s after
//! joining, settling from a restless 20–40 into a coherent 55–85 at their own pace with noise;
//! one in ten scores is warming up, one in fifty is low quality; breathing rates drift from
//! 10–14 to near the pacer's 6/min; every tenth participant has a 30 s gap in their beats;
//! synchrony rounds and each participant's pair strength every 5 s; the pacer at 6/min from
//! the active phase on. The amounts of data are those of a real session of that size.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use synchub_report::stats::SplitMix64;
use synchub_report::{
    BeatCoverage, MetricRow, PacerSetting, ParticipantData, Phase, PhaseChange, PlannedPhases,
    Quality, Report, ScheduleMode, ScoreSource, SessionData, SessionInfo, SourceKind,
    StrengthPoint, SynchronyRound,
};

const T0_MS: i64 = 1_780_000_000_000;
const PARTICIPANTS: u32 = 200;
const SESSION_SECS: i64 = 900;

fn uniform(random: &mut SplitMix64) -> f64 {
    (random.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
}

fn room() -> SessionData {
    let mut random = SplitMix64::new(2026);
    let participants = (1..=PARTICIPANTS)
        .map(|slot| {
            let settle_secs = 200.0 + 400.0 * uniform(&mut random);
            let start = 20.0 + 20.0 * uniform(&mut random);
            let target = 55.0 + 30.0 * uniform(&mut random);
            let metrics = (35..SESSION_SECS)
                .step_by(5)
                .map(|secs| {
                    let progress = (secs as f64 / settle_secs).min(1.0);
                    let noise = (uniform(&mut random) - 0.5) * 16.0;
                    let roll = uniform(&mut random);
                    MetricRow {
                        at_ms: T0_MS + secs * 1000,
                        score: (start + (target - start) * progress + noise).clamp(0.0, 100.0),
                        source: ScoreSource::Hub,
                        algorithm: Some("synchub-coherence/1".to_owned()),
                        breaths_per_min: Some(12.0 - 6.0 * progress + (uniform(&mut random) - 0.5)),
                        artifact_fraction: Some(0.02 * uniform(&mut random)),
                        quality: if roll < 0.02 {
                            Quality::Low
                        } else if roll < 0.12 {
                            Quality::WarmingUp
                        } else {
                            Quality::Good
                        },
                    }
                })
                .collect();
            let mut beat_times: Vec<f64> = (0..SESSION_SECS * 1000)
                .step_by(850)
                .map(|ms| (T0_MS + ms) as f64)
                .collect();
            if slot % 10 == 0 {
                beat_times.retain(|t| !(400_000.0..430_000.0).contains(&(t - T0_MS as f64)));
            }
            ParticipantData {
                slot,
                source: if slot % 7 == 0 {
                    SourceKind::Strap
                } else {
                    SourceKind::App
                },
                research_consent: slot % 5 != 0,
                joined_at_ms: T0_MS,
                left_at_ms: None,
                metrics,
                beats: BeatCoverage::from_beat_times(&beat_times),
                synchrony_strength: (13..SESSION_SECS / 5)
                    .map(|round| StrengthPoint {
                        at_ms: T0_MS + round * 5_000,
                        mean_strength: 0.3
                            + 0.2 * (round as f64 / 180.0)
                            + 0.1 * uniform(&mut random),
                    })
                    .collect(),
            }
        })
        .collect();
    SessionData {
        session: SessionInfo {
            room_name: Some("Benchmark hall".to_owned()),
            mode: ScheduleMode::Rolling,
            started_at_ms: T0_MS,
            ended_at_ms: Some(T0_MS + SESSION_SECS * 1000),
            closed_on_recovery: false,
            planned: PlannedPhases {
                preparation_secs: 30,
                active_secs: 750,
                integration_secs: 120,
            },
            phase_changes: vec![
                PhaseChange {
                    phase: Phase::Preparation,
                    at_ms: T0_MS,
                },
                PhaseChange {
                    phase: Phase::Active,
                    at_ms: T0_MS + 30_000,
                },
                PhaseChange {
                    phase: Phase::Integration,
                    at_ms: T0_MS + 780_000,
                },
                PhaseChange {
                    phase: Phase::Complete,
                    at_ms: T0_MS + 900_000,
                },
            ],
        },
        participants,
        synchrony: (13..SESSION_SECS / 5)
            .map(|round| SynchronyRound {
                at_ms: T0_MS + round * 5_000,
                participants: PARTICIPANTS,
                index: 0.15 + 0.25 * (round as f64 / 180.0),
                surrogate_index: 0.08 + 0.04 * ((round * 37 % 11) as f64 / 11.0),
            })
            .collect(),
        pacer: vec![PacerSetting {
            at_ms: T0_MS + 30_000,
            breaths_per_min: Some(6.0),
        }],
    }
}

fn bench(c: &mut Criterion) {
    let data = room();
    let report = Report::build(&data, 1);
    let html = report.to_html();
    let json = report.to_json();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "report/200 participants, 15 min: {} scores, {} grid points, HTML {} KiB, JSON {} KiB",
            data.participants
                .iter()
                .map(|p| p.metrics.len())
                .sum::<usize>(),
            report.coherence.series.len(),
            html.len() / 1024,
            json.len() / 1024,
        );
    }
    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("build_200", |b| {
        b.iter(|| Report::build(black_box(&data), 1))
    });
    group.bench_function("build_and_html_200", |b| {
        b.iter(|| Report::build(black_box(&data), 1).to_html())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
