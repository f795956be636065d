//! Sustained ingest through the writer thread, acknowledgements included: a producer thread
//! sends beat batches as fast as the queue takes them (blocking on a full queue, as a hub under
//! overload would slow down), and the clock stops when the last batch is reported durable.
//!
//! Run: `cargo bench -p synchub-store --bench ingest` (prints beats/s per batch size).
//! `INGEST_BEATS` sets the beats per case (default 2 000 000).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use synchub_session::ids::SessionId;
use synchub_session::record::{BeatBatch, Record, ScheduleMode, SessionRow, StoredBeat};
use synchub_store::{DataDir, Store, WriterConfig};

#[path = "../tests/session_fixture.rs"]
mod session_fixture;

const PARTICIPANTS: usize = 200;

fn main() {
    let total_beats: usize = std::env::var("INGEST_BEATS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(2_000_000);
    println!(
        "store ingest: {PARTICIPANTS} participants, {total_beats} beats per case, acks awaited"
    );
    for beats_per_batch in [5, 20, 100] {
        run(beats_per_batch, total_beats);
    }
}

fn run(beats_per_batch: usize, total_beats: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&DataDir::new(dir.path()), WriterConfig::default()).expect("open");
    let session_id = SessionId(uuid::Uuid::now_v7());
    let started_at_ms = 1_780_000_000_000;
    let writer = store.writer();
    let participants = session_fixture::open_session(
        &writer,
        SessionRow {
            session_id,
            mode: ScheduleMode::Rolling,
            slot_start_ms: Some(started_at_ms),
            started_at_ms,
            preparation_secs: 60,
            active_secs: 720,
            integration_secs: 120,
            planned_end_ms: started_at_ms + 900_000,
        },
        (0..PARTICIPANTS).map(|n| format!("{n:064x}")),
    );
    store.flush().expect("flush");
    let commits = store.commits();
    // Reports of the set-up commits.
    while commits.try_recv().is_ok() {}

    let batches = total_beats / beats_per_batch;
    let started = Instant::now();
    let producer = std::thread::spawn(move || {
        for index in 0..batches {
            let seq = (index / PARTICIPANTS) as u64;
            let beats = (0..beats_per_batch)
                .map(|i| StoredBeat {
                    time_ms: started_at_ms as f64
                        + (seq as f64 * beats_per_batch as f64 + i as f64) * 850.0,
                    rr_ms: 800.0 + (i % 7) as f64 * 10.0,
                    artifact: false,
                })
                .collect();
            writer
                .send(Record::Beats(BeatBatch {
                    session_id,
                    participant_id: participants[index % PARTICIPANTS],
                    seq: Some(seq),
                    beats,
                }))
                .expect("writer running");
        }
    });
    let mut acknowledged = 0;
    let mut commit_count = 0;
    let mut slowest_commit = std::time::Duration::ZERO;
    while acknowledged < batches {
        let report = commits.recv().expect("writer running");
        acknowledged += report.durable.len();
        assert!(report.rejected.is_empty(), "nothing is rejected");
        commit_count += 1;
        slowest_commit = slowest_commit.max(report.commit_duration);
    }
    let elapsed = started.elapsed();
    producer.join().expect("producer");
    let beats = (batches * beats_per_batch) as f64;
    println!(
        "batches of {beats_per_batch:>3} beats: {:>9.0} beats/s ({:>7.0} batches/s), {} beats in {:.2} s, {commit_count} commits, slowest COMMIT {:.1} ms",
        beats / elapsed.as_secs_f64(),
        batches as f64 / elapsed.as_secs_f64(),
        batches * beats_per_batch,
        elapsed.as_secs_f64(),
        slowest_commit.as_secs_f64() * 1e3,
    );
    store.shutdown().expect("shutdown");
}
