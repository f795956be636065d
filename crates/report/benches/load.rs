//! How long the report of a full room takes from the store: a 15-minute session (30 s, 750 s
//! and 120 s phases) with 200 participants, written through the store's writer thread as a hub
//! writes it, then read back (`SessionData::load_from_database`) and built (`Report::build`, HTML).
//! Target: load + build under 1 s (quality.md). Prints load, build and their total
//! separately, then lets criterion time each.
//!
//! The stored session: every participant beats every 750 ms (80 bpm) throughout, in 1 s
//! batches; a score every 5 s from 35 s after the start; a synchrony round every 5 s from
//! 65 s with every one of the 19 900 pairs stored (3.3 M pair rows, the bulk of the data).
//! Filling the store takes a while (tens of seconds): it happens once, before measuring.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use synchub_report::stats::SplitMix64;
use synchub_report::{Report, SessionData};
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    BeatBatch, DeviceKind, PairRecord, ParticipantMetrics, ParticipantRow, Phase, Record,
    ScheduleMode, ScoreSource, SessionRow, SessionSummary, StoredBeat, SynchronyRound,
};
use synchub_store::{DataDir, Store, WriterConfig};

const T0_MS: i64 = 1_780_000_000_000;
const PARTICIPANTS: u128 = 200;
const SESSION_SECS: i64 = 900;
const BEAT_MS: i64 = 750;

fn session_id() -> SessionId {
    SessionId(uuid::Uuid::from_u128(
        0x5e55_0000_0000_7000_8000_0000_0000_0200,
    ))
}

fn participant_id(n: u128) -> ParticipantId {
    ParticipantId(uuid::Uuid::from_u128(
        0xa11c_e000_0000_7000_8000_0000_0000_0000 | n,
    ))
}

fn uniform(random: &mut SplitMix64) -> f64 {
    (random.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
}

fn phase(phase: Phase, from_secs: i64, to_secs: i64) -> Record {
    Record::PhaseChanged {
        session_id: session_id(),
        phase,
        at_ms: T0_MS + from_secs * 1000,
        ends_at_ms: Some(T0_MS + to_secs * 1000),
    }
}

/// Writes the session into a fresh store in `dir`; returns the database file.
fn fill(dir: &Path) -> std::path::PathBuf {
    let store = Store::open(&DataDir::new(dir), WriterConfig::default()).expect("the store opens");
    let writer = store.writer();
    let send = |record| writer.send(record).expect("the writer runs");
    let mut random = SplitMix64::new(2026);
    send(Record::SessionOpened(SessionRow {
        session_id: session_id(),
        mode: ScheduleMode::Rolling,
        slot_start_ms: Some(T0_MS),
        started_at_ms: T0_MS,
        preparation_secs: 30,
        active_secs: 750,
        integration_secs: 120,
        planned_end_ms: T0_MS + SESSION_SECS * 1000,
    }));
    send(phase(Phase::Preparation, 0, 30));
    for n in 1..=PARTICIPANTS {
        send(Record::ParticipantJoined(ParticipantRow {
            session_id: session_id(),
            participant_id: participant_id(n),
            pseudonym: format!("{:064x}", n),
            intention: None,
            research_consent: n % 5 != 0,
            device: if n % 7 == 0 {
                DeviceKind::Ble
            } else {
                DeviceKind::Ios
            },
            joined_at_ms: T0_MS,
            resume_token: ResumeToken([n as u8; 16]),
        }));
    }
    let settle_secs: Vec<f64> = (0..PARTICIPANTS)
        .map(|_| 200.0 + 400.0 * uniform(&mut random))
        .collect();
    for second in 0..SESSION_SECS {
        if second == 30 {
            send(phase(Phase::Active, 30, 780));
        }
        if second == 780 {
            send(phase(Phase::Integration, 780, 900));
        }
        for n in 1..=PARTICIPANTS {
            let beats = (second * 1000..(second + 1) * 1000)
                .filter(|ms| ms % BEAT_MS == 0)
                .map(|ms| StoredBeat {
                    time_ms: (T0_MS + ms) as f64,
                    rr_ms: BEAT_MS as f64,
                    artifact: false,
                })
                .collect();
            send(Record::Beats(BeatBatch {
                session_id: session_id(),
                participant_id: participant_id(n),
                seq: Some(second as u64 + 1),
                beats,
            }));
        }
        if second >= 35 && second % 5 == 0 {
            for n in 1..=PARTICIPANTS {
                let progress = (second as f64 / settle_secs[(n - 1) as usize]).min(1.0);
                send(Record::Metrics(ParticipantMetrics {
                    session_id: session_id(),
                    participant_id: participant_id(n),
                    at_ms: T0_MS + second * 1000,
                    source: ScoreSource::Hub,
                    algorithm: Some(synchub_hrv::ALGORITHM),
                    score: (25.0 + 45.0 * progress + 16.0 * (uniform(&mut random) - 0.5))
                        .clamp(0.0, 100.0),
                    ratio: Some(1.0),
                    peak_hz: Some(0.1),
                    breaths_per_min: Some(12.0 - 6.0 * progress),
                    hr_bpm: Some(80.0),
                    mean_rr_ms: Some(750.0),
                    sdnn_ms: Some(40.0),
                    rmssd_ms: Some(30.0),
                    artifact_fraction: Some(0.01),
                    quality: synchub_hrv::Quality::Good,
                }));
            }
        }
        if second >= 65 && second % 5 == 0 {
            let mut pairs = Vec::with_capacity(19_900);
            for a in 1..=PARTICIPANTS {
                for b in a + 1..=PARTICIPANTS {
                    let strength = 0.3 + 0.4 * uniform(&mut random);
                    pairs.push(PairRecord {
                        a: participant_id(a),
                        b: participant_id(b),
                        correlation: strength,
                        plv: strength,
                        strength,
                    });
                }
            }
            send(Record::Synchrony(SynchronyRound {
                session_id: session_id(),
                at_ms: T0_MS + second * 1000,
                participants: PARTICIPANTS as u32,
                index: 0.2 + 0.2 * (second as f64 / 900.0),
                surrogate_index: 0.1,
                mean_strength: 0.5,
                surrogate_mean_strength: 0.3,
                pairs_sampled: false,
                pairs,
            }));
        }
    }
    send(phase(Phase::Complete, 900, 900));
    send(Record::SessionCompleted {
        session_id: session_id(),
        ended_at_ms: T0_MS + SESSION_SECS * 1000,
        summary: SessionSummary {
            duration_ms: SESSION_SECS * 1000,
            participants: PARTICIPANTS as u32,
            average_coherence: Some(50.0),
            peak_coherence: Some(70.0),
            secs_low: 0.0,
            secs_medium: 0.0,
            secs_high: 0.0,
            average_synchrony: Some(0.3),
        },
    });
    let path = store.database_path().to_owned();
    store.shutdown().expect("the store closes");
    path
}

/// The pair pass as the loader first did it (a join of rounds and pairs, sums in a hash map
/// keyed by participant and round), timed on the same file for comparison with today's
/// row-id range scan. Returns the number of sums, so the work is not optimised away.
fn previous_pair_pass(database: &Path) -> usize {
    use std::collections::HashMap;
    let connection =
        rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens");
    let session_ref: i64 = connection
        .query_row(
            "SELECT id FROM sessions WHERE session_id = ?1",
            [session_id().0.to_string()],
            |row| row.get(0),
        )
        .expect("the session is stored");
    let mut sums: HashMap<(i64, i64), (f64, u32)> = HashMap::new();
    let mut statement = connection
        .prepare(
            "SELECT sp.round_ref, sp.participant_a_ref, sp.participant_b_ref, sp.strength \
             FROM synchrony_rounds r JOIN synchronization_pairs sp ON sp.round_ref = r.id \
             WHERE r.session_ref = ?1",
        )
        .expect("the query prepares");
    let mut rows = statement.query([session_ref]).expect("the query runs");
    while let Some(row) = rows.next().expect("a row") {
        let round: i64 = row.get(0).expect("round_ref");
        let strength: f64 = row.get(3).expect("strength");
        for side in [
            row.get::<_, i64>(1).expect("participant_a_ref"),
            row.get::<_, i64>(2).expect("participant_b_ref"),
        ] {
            let entry = sums.entry((side, round)).or_insert((0.0, 0));
            entry.0 += strength;
            entry.1 += 1;
        }
    }
    sums.len()
}

fn median_of(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let filling = Instant::now();
    let database = fill(dir.path());
    let load = || SessionData::load_from_database(&database, session_id()).expect("it loads");
    let data = load();
    let pairs: usize = data
        .participants
        .iter()
        .map(|participant| participant.synchrony_strength.len())
        .sum();
    println!(
        "report/load: filled a store with 200 participants × 15 min in {:.1} s ({} MiB): \
         {} scores, {} beats, {} synchrony rounds, {pairs} participant-round strengths",
        filling.elapsed().as_secs_f64(),
        std::fs::metadata(&database).map_or(0, |m| m.len() >> 20),
        data.participants
            .iter()
            .map(|p| p.metrics.len())
            .sum::<usize>(),
        data.participants.iter().map(|p| p.beats.beats).sum::<u64>(),
        data.synchrony.len(),
    );
    // Five cold-to-warm runs of each step, separately and together, medians printed.
    let (mut loads, mut builds, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        let data = load();
        let loaded = start.elapsed();
        let html = Report::build(&data, 1).to_html();
        black_box(html);
        totals.push(start.elapsed());
        loads.push(loaded);
        builds.push(start.elapsed() - loaded);
    }
    println!(
        "report/load: median of 5 — load {:.0} ms, build + HTML {:.0} ms, total {:.0} ms \
         (target < 1000 ms)",
        median_of(loads).as_secs_f64() * 1000.0,
        median_of(builds).as_secs_f64() * 1000.0,
        median_of(totals).as_secs_f64() * 1000.0,
    );
    let mut previous = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        black_box(previous_pair_pass(&database));
        previous.push(start.elapsed());
    }
    println!(
        "report/load: for comparison, the previous loader's pair pass alone (join + hash-map \
         sums): median of 3 {:.0} ms",
        median_of(previous).as_secs_f64() * 1000.0,
    );
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("load_200", |b| b.iter(|| black_box(load())));
    group.bench_function("load_build_html_200", |b| {
        b.iter(|| Report::build(&load(), 1).to_html())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
