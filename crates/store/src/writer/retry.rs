//! A commit that cannot fail for good: when the disk is full, read-only, locked by another
//! process or reports an I/O error, the writer keeps the transaction's records, closes the
//! database's files, and replays the records in a new transaction until one commits.
//!
//! Why the writer retries rather than handing a failed batch back to the phone: by the time a
//! batch reaches the store, the engine has fed its beats to the participant's analyser and
//! marked its `seq` seen, and records without a phone behind them (a session opened, a
//! participant joined, a phase changed) have nobody to resend them. Replaying in the writer
//! keeps every record, in the engine's order, so a participant's row is never lost ahead of
//! its beats and no beat is analysed twice. The cost is that nothing else is written while it
//! retries: the hub refuses new beats meanwhile (`store_unavailable`, the phones keep them),
//! and its own records wait in the queue and the engine task's bounded backlog.
//!
//! While it fails, [`StoreHealth`](crate::StoreHealth) says why; the first commit after the
//! disk recovers clears it. The retry ends without committing only when the store is stopping
//! and [`STOP_GRACE`] has passed: the records are then reported and logged as not stored.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use synchub_session::record::Record;

use super::{CommitReport, Pending, Writer, seq_batch_of};
use crate::health::{self, StoreFaultKind};
use crate::{Error, store};

/// How long a stopping store keeps retrying a failed commit before it gives up.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The first pause between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// The longest pause between attempts: a disk that has room again is used within a second.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The records of the open transaction, kept until it commits so that it can be replayed.
#[derive(Default)]
pub(super) struct Transaction {
    pub(super) records: Vec<Record>,
    pub(super) pending: Pending,
    /// Rows the records amount to (beats count one each), to bound the transaction.
    pub(super) weight: usize,
    /// The storage failure that broke this attempt, if any.
    pub(super) broken: Option<Error>,
}

impl Writer {
    /// Commits `transaction`, replaying it until a commit succeeds (see the module docs).
    pub(super) fn commit(&mut self, mut transaction: Transaction) -> CommitReport {
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let outcome = match transaction.broken.take() {
                Some(error) => Err(error),
                None => self
                    .rows
                    .connection
                    .execute_batch("COMMIT")
                    .map_err(Error::from),
            };
            let error = match outcome {
                Ok(()) => {
                    if self.health.succeeded() {
                        tracing::info!(
                            attempts = attempt + 1,
                            records = transaction.records.len(),
                            "the store writes again; the held records are stored"
                        );
                    }
                    let pending = transaction.pending;
                    return CommitReport {
                        durable: pending.durable,
                        rejected: pending.rejected,
                        rows: pending.rows,
                        commit_duration: started.elapsed(),
                    };
                }
                Err(error) => error,
            };
            self.failed(&error, attempt, transaction.records.len());
            if self.give_up() {
                return self.abandon(transaction, started);
            }
            self.pause(attempt);
            attempt = attempt.saturating_add(1);
            transaction.pending = Pending::default();
            if let Err(error) = self.begin() {
                transaction.broken = Some(error);
                continue;
            }
            for record in &transaction.records {
                if let Err(error) = self.apply(record, &mut transaction.pending) {
                    transaction.broken = Some(error);
                    break;
                }
            }
        }
    }

    /// Rolls back, names the failure in the store's health, and closes the database's files.
    fn failed(&mut self, error: &Error, attempt: u32, records: usize) {
        // SQLite may already have rolled back; a failing ROLLBACK changes nothing then.
        let _ = self.rows.connection.execute_batch("ROLLBACK");
        let kind = health::storage_fault(error).unwrap_or(StoreFaultKind::Io);
        let directory = self
            .database_path
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let kind = health::refine(kind, directory);
        if attempt == 0 {
            tracing::error!(
                %error,
                fault = kind.as_str(),
                records,
                "the store cannot write; holding the records and retrying"
            );
        } else {
            tracing::debug!(%error, attempt, "the store still cannot write");
        }
        self.health.failed(kind, error.to_string(), store::now_ms());
        self.release_files();
    }

    /// Closes the database (an in-memory placeholder stands in until the next attempt
    /// reopens it), so the writer holds no file open on a failing disk: a read-only remount or
    /// an unmount for repair is possible, and a replaced file is picked up.
    fn release_files(&mut self) {
        match rusqlite::Connection::open_in_memory() {
            Ok(placeholder) => {
                self.rows.use_connection(placeholder);
                self.files_released = true;
            }
            Err(error) => {
                // Only without memory; keep the real connection and retry on it.
                tracing::warn!(%error, "could not close the database's files");
                self.rows.forget_row_ids();
            }
        }
    }

    /// True once the store has been stopping for longer than [`STOP_GRACE`].
    fn give_up(&mut self) -> bool {
        if !self.stopping.load(Ordering::Acquire) {
            return false;
        }
        let seen = *self.stop_seen.get_or_insert_with(Instant::now);
        seen.elapsed() >= STOP_GRACE
    }

    /// Sleeps before the next attempt; briefly once the store is stopping, so the grace is
    /// spent trying.
    fn pause(&self, attempt: u32) {
        let backoff = FIRST_BACKOFF
            .saturating_mul(1_u32 << attempt.min(8))
            .min(MAX_BACKOFF);
        let backoff = if self.stopping.load(Ordering::Acquire) {
            backoff.min(Duration::from_millis(100))
        } else {
            backoff
        };
        std::thread::sleep(backoff);
    }

    /// The store is stopping and still cannot write: the records are reported as not stored.
    fn abandon(&mut self, transaction: Transaction, started: Instant) -> CommitReport {
        let rejected: Vec<_> = transaction
            .records
            .iter()
            .filter_map(seq_batch_of)
            .collect();
        tracing::error!(
            records = transaction.records.len(),
            beat_batches = rejected.len(),
            "the hub stopped while the store could not write: these records are not stored; \
             phones resend their unacknowledged beats after a restart"
        );
        CommitReport {
            durable: Vec::new(),
            rejected,
            rows: 0,
            commit_duration: started.elapsed(),
        }
    }
}
