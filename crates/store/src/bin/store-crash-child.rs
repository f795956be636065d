//! Child process of the crash-safety test (`tests/crash.rs`): writes beat batches through the
//! writer as fast as the store takes them and prints each batch reported durable as
//! `<participant uuid> <seq>` on stdout, until the test kills it with SIGKILL.
//!
//! On start it resumes the session a previous run left open (what a restarted hub does), so
//! every cycle exercises recovery too. Beat values are a function of (seq, index), so the test
//! can check every stored value.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;

use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{BeatBatch, Record, ScheduleMode, SessionRow, StoredBeat};
use synchub_store::{DataDir, Store, WriterConfig};

#[path = "../../tests/session_fixture.rs"]
mod session_fixture;

const PARTICIPANTS: usize = 4;
pub const BEATS_PER_BATCH: usize = 5;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: store-crash-child DATA_DIR");
    let store = Store::open(&DataDir::new(dir), WriterConfig::default()).expect("open store");
    let writer = store.writer();
    let (session_id, participants) = match store.recovered() {
        Some(recovered) => (
            recovered.session_id(),
            recovered
                .restored
                .participants
                .iter()
                .map(|p| {
                    let next_seq = p.durable_seqs.iter().max().map_or(0, |seq| seq + 1);
                    (p.row.participant_id, next_seq)
                })
                .collect::<Vec<_>>(),
        ),
        None => {
            let session_id = SessionId(uuid::Uuid::now_v7());
            let started_at_ms = 1_780_000_000_000;
            let participants = session_fixture::open_session(
                &writer,
                SessionRow {
                    session_id,
                    mode: ScheduleMode::Manual,
                    slot_start_ms: None,
                    started_at_ms,
                    preparation_secs: 0,
                    active_secs: 86_400,
                    integration_secs: 0,
                    planned_end_ms: started_at_ms + 86_400_000,
                },
                (0..PARTICIPANTS).map(|n| format!("crash-child-{n}")),
            );
            let participants = participants.into_iter().map(|id| (id, 0)).collect();
            (session_id, participants)
        }
    };
    let commits = store.commits();
    std::thread::spawn(move || {
        let mut next: Vec<(ParticipantId, u64)> = participants;
        loop {
            for (participant_id, seq) in &mut next {
                let beats = (0..BEATS_PER_BATCH)
                    .map(|i| StoredBeat {
                        time_ms: *seq as f64 * 5_000.0 + i as f64,
                        rr_ms: rr_ms(*seq, i),
                        artifact: false,
                    })
                    .collect();
                let batch = BeatBatch {
                    session_id,
                    participant_id: *participant_id,
                    seq: Some(*seq),
                    beats,
                };
                if writer.send(Record::Beats(batch)).is_err() {
                    return;
                }
                *seq += 1;
            }
            // Roughly 1 000 batches per second: a busy room, and a database that stays small over
            // the test's many cycles.
            std::thread::sleep(std::time::Duration::from_millis(4));
        }
    });
    let stdout = std::io::stdout();
    for report in commits.iter() {
        let mut out = stdout.lock();
        for batch in report.durable {
            // A broken pipe means the test stopped listening; the kill follows.
            let _ = writeln!(out, "{} {}", batch.participant_id, batch.seq);
        }
        let _ = out.flush();
    }
    eprintln!("writer stopped");
}

/// The value of beat `i` of batch `seq` (the test recomputes it).
fn rr_ms(seq: u64, i: usize) -> f64 {
    500.0 + (seq % 1000) as f64 + i as f64 * 0.5
}
