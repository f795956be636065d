//! Central sync throughput: records 1 000 000 beats (100 participants × 10 000) through the real
//! store, pushes them into a fresh database on the local PostgreSQL server (`DATABASE_URL`, else
//! 127.0.0.1:5432) and prints rows per second.
//!
//! `cargo bench -p synchub-cloud --bench sync` (or through `scripts/with-postgres`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "../tests/util.rs"]
mod util;

use std::time::Instant;

use util::{Hub, SessionPlan, TestDatabase, record_session};

const PARTICIPANTS: usize = 100;
const BEATS_PER_PARTICIPANT: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    let recording = Instant::now();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: (0..PARTICIPANTS).map(|person| (person, true)).collect(),
            beats: BEATS_PER_PARTICIPANT,
            complete: true,
        },
    );
    println!(
        "recorded {} beats through the store in {:.1} s",
        PARTICIPANTS * BEATS_PER_PARTICIPANT,
        recording.elapsed().as_secs_f64()
    );

    let options = synchub_cloud::SyncOptions::new(database.url.clone(), hub.database_path());
    let report = synchub_cloud::push(&options, &mut |progress| {
        if progress.done {
            eprintln!(
                "  {:<26} {:>9} rows {:>7.1} MB {:>9.0} rows/s",
                progress.table,
                progress.rows,
                progress.bytes as f64 / 1e6,
                progress.rows_per_sec()
            );
        }
    })
    .await
    .expect("sync");
    let beats = report
        .tables
        .iter()
        .find(|table| table.table == "rr_intervals")
        .expect("rr_intervals reported");
    println!(
        "rr_intervals: {} rows in {:.2} s = {:.0} rows/s",
        beats.rows,
        beats.elapsed.as_secs_f64(),
        beats.rows_per_sec()
    );
    println!(
        "whole push (migrations, all tables, verification): {} rows in {:.2} s = {:.0} rows/s",
        report.rows(),
        report.elapsed.as_secs_f64(),
        report.rows() as f64 / report.elapsed.as_secs_f64()
    );
}
