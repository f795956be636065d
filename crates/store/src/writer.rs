//! The writer thread: the only code that writes to the database while a hub runs.
//!
//! The engine's records arrive through a bounded channel. The thread applies them inside one
//! transaction and commits every `commit_interval` or `max_rows_per_commit` rows, whichever comes
//! first; only after the commit returns does it report which beat batches are durable (what the
//! hub turns into `rr_ack`). A full channel is reported to the sender ([`SendError::Full`]), never
//! resolved by dropping records. Maintenance writes (erasure, closing an interrupted session,
//! storing a session's report, logging an export) travel through the same channel, so they are ordered with the records and
//! the single-writer rule has no exception.
//!
//! This module is the thread, its queue and its transactions; `rows` turns each record into
//! rows, `maintenance` does the maintenance writes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rusqlite::Connection;
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{Record, SessionSummary};

use crate::health::{self, StoreHealth};
use crate::{Error, schema};

mod maintenance;
mod retry;
mod rows;

pub use maintenance::ErasureReport;
pub(crate) use maintenance::ExportLogEntry;
pub use retry::STOP_GRACE;
use retry::Transaction;
use rows::RowWriter;

/// How the writer batches commits.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Records the channel holds before [`WriterHandle::try_send`] reports `Full`.
    pub queue_capacity: usize,
    /// The longest a record waits in an open transaction before its commit. The hub's p99
    /// send→`rr_ack` target is 50 ms (quality.md), so the default leaves room for the commit.
    pub commit_interval: Duration,
    /// Commit early once this many rows (beats count one each) are in the open transaction.
    pub max_rows_per_commit: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 16 * 1024,
            commit_interval: Duration::from_millis(25),
            max_rows_per_commit: 20_000,
        }
    }
}

/// One beat batch that is now on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurableBatch {
    pub session_id: SessionId,
    pub participant_id: ParticipantId,
    pub seq: u64,
}

/// What one commit made durable, sent after every commit.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitReport {
    /// Beat batches with a `seq`, in the order they were received.
    pub durable: Vec<DurableBatch>,
    /// Beat batches with a `seq` that could not be stored (their participant is unknown, or the
    /// commit failed); they are never acknowledged. Each failure is also logged at ERROR.
    pub rejected: Vec<DurableBatch>,
    /// Rows written by this commit.
    pub rows: usize,
    /// Time spent in `COMMIT` (the fsync), for the hub's metrics.
    pub commit_duration: Duration,
}

/// Why a record was not queued. The record comes back to the caller.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The queue is full: the store is behind. The caller slows down or refuses input.
    #[error("the store's write queue is full")]
    Full(Record),
    /// The writer has stopped (the store was shut down).
    #[error("the store's writer has stopped")]
    Closed(Record),
}

impl SendError {
    pub fn into_record(self) -> Record {
        match self {
            Self::Full(record) | Self::Closed(record) => record,
        }
    }
}

type Reply<T> = Sender<Result<T, Error>>;

pub(crate) enum Control {
    Erase {
        pseudonym: String,
        at_ms: i64,
        reply: Reply<ErasureReport>,
    },
    EraseInSession {
        session_id: SessionId,
        participant_id: ParticipantId,
        at_ms: i64,
        reply: Reply<ErasureReport>,
    },
    CloseInterrupted {
        session_id: SessionId,
        ended_at_ms: i64,
        reply: Reply<SessionSummary>,
    },
    LogExport {
        entry: ExportLogEntry,
        reply: Reply<()>,
    },
    SaveReport {
        row: Box<crate::SessionReportRow>,
        created_at_ms: i64,
        reply: Reply<crate::SavedReport>,
    },
    Flush {
        reply: Reply<()>,
    },
    Shutdown,
}

pub(crate) enum Request {
    Record(Record),
    Control(Control),
}

/// Sends records to the writer thread. Cheap to clone; every clone feeds the same queue.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    sender: Sender<Request>,
    /// Set when the store is stopping: a writer retrying a failed commit gives up after a
    /// short grace instead of holding the stop for as long as the disk fails.
    stopping: Arc<AtomicBool>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Record(record) => record.fmt(f),
            Self::Control(_) => f.write_str("Control"),
        }
    }
}

// The error hands the record back by value: the caller keeps it in its own backlog, and a
// full queue is exactly when an extra allocation per record would hurt most.
#[allow(clippy::result_large_err)]
impl WriterHandle {
    /// Queues `record` without waiting; `Full` when the queue is at capacity.
    pub fn try_send(&self, record: Record) -> Result<(), SendError> {
        self.sender
            .try_send(Request::Record(record))
            .map_err(|error| match error {
                TrySendError::Full(request) => SendError::Full(unwrap_record(request)),
                TrySendError::Disconnected(request) => SendError::Closed(unwrap_record(request)),
            })
    }

    /// Queues `record`, waiting while the queue is full (for callers that may block, like the
    /// CLI or a BLE thread); `Closed` only if the writer stopped.
    pub fn send(&self, record: Record) -> Result<(), SendError> {
        self.sender
            .send(Request::Record(record))
            .map_err(|error| SendError::Closed(unwrap_record(error.into_inner())))
    }

    /// Queues `record`, waiting at most `timeout` for room.
    pub fn send_timeout(&self, record: Record, timeout: Duration) -> Result<(), SendError> {
        self.sender
            .send_timeout(Request::Record(record), timeout)
            .map_err(|error| match error {
                crossbeam_channel::SendTimeoutError::Timeout(request) => {
                    SendError::Full(unwrap_record(request))
                }
                crossbeam_channel::SendTimeoutError::Disconnected(request) => {
                    SendError::Closed(unwrap_record(request))
                }
            })
    }

    /// Records waiting in the queue (the hub exports it as a metric).
    pub fn queue_len(&self) -> usize {
        self.sender.len()
    }

    pub fn queue_capacity(&self) -> usize {
        self.sender.capacity().unwrap_or(usize::MAX)
    }

    /// Waits until everything queued before this call is committed.
    pub fn flush(&self) -> Result<(), Error> {
        self.call(|reply| Control::Flush { reply })
    }

    pub(crate) fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, Error> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.sender
            .send(Request::Control(make(reply)))
            .map_err(|_| Error::WriterStopped)?;
        answer.recv().map_err(|_| Error::WriterStopped)?
    }

    /// Tells a writer that retries a failed commit that the store is stopping: it tries for
    /// [`STOP_GRACE`] more, then reports what it could not store and goes on.
    pub fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    pub(crate) fn shutdown(&self) {
        self.begin_stop();
        // If the writer already stopped there is nothing to shut down.
        let _ = self.sender.send(Request::Control(Control::Shutdown));
    }
}

fn unwrap_record(request: Request) -> Record {
    match request {
        Request::Record(record) => record,
        Request::Control(_) => unreachable!("only records are sent through the public API"),
    }
}

/// Starts the writer thread on `connection`, the database at `database_path`.
pub(crate) fn spawn(
    connection: Connection,
    database_path: PathBuf,
    config: &WriterConfig,
    health: StoreHealth,
) -> Result<(WriterHandle, Receiver<CommitReport>, thread::JoinHandle<()>), Error> {
    let (sender, receiver) = crossbeam_channel::bounded(config.queue_capacity);
    // Unbounded so that a slow reader of reports never stalls commits; it holds at most one
    // report per commit.
    let (report_sender, reports) = crossbeam_channel::unbounded();
    let stopping = Arc::new(AtomicBool::new(false));
    let mut writer = Writer {
        rows: RowWriter::new(connection),
        database_path,
        files_released: false,
        health,
        stopping: stopping.clone(),
        stop_seen: None,
        commit_interval: config.commit_interval,
        max_rows: config.max_rows_per_commit.max(1),
    };
    let thread = thread::Builder::new()
        .name("synchub-store-writer".into())
        .spawn(move || writer.run(&receiver, &report_sender))
        .map_err(|source| Error::Io {
            path: "<writer thread>".into(),
            source,
        })?;
    Ok((WriterHandle { sender, stopping }, reports, thread))
}

struct Writer {
    rows: RowWriter,
    database_path: PathBuf,
    /// The database's files are closed (a placeholder connection stands in) after a write
    /// failure, so that the disk can be remounted or unmounted; the next attempt reopens them.
    files_released: bool,
    health: StoreHealth,
    stopping: Arc<AtomicBool>,
    /// When the writer first saw `stopping` while retrying.
    stop_seen: Option<Instant>,
    commit_interval: Duration,
    max_rows: usize,
}

#[derive(Default)]
struct Pending {
    durable: Vec<DurableBatch>,
    rejected: Vec<DurableBatch>,
    rows: usize,
}

impl Writer {
    fn run(&mut self, receiver: &Receiver<Request>, reports: &Sender<CommitReport>) {
        loop {
            let Ok(first) = receiver.recv() else { return };
            let mut control = None;
            let mut stop = false;
            match first {
                Request::Control(request) => control = Some(request),
                Request::Record(record) => {
                    let mut transaction = Transaction::default();
                    if let Err(error) = self.begin() {
                        transaction.broken = Some(error);
                    }
                    self.add(record, &mut transaction);
                    let deadline = Instant::now() + self.commit_interval;
                    while transaction.weight < self.max_rows {
                        match receiver.recv_deadline(deadline) {
                            Ok(Request::Record(record)) => self.add(record, &mut transaction),
                            Ok(Request::Control(request)) => {
                                control = Some(request);
                                break;
                            }
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => {
                                stop = true;
                                break;
                            }
                        }
                    }
                    let report = self.commit(transaction);
                    // Nobody listening for reports is fine (the CLI does not).
                    let _ = reports.send(report);
                }
            }
            if let Some(request) = control {
                stop |= self.control(request);
            }
            if stop {
                return;
            }
        }
    }

    /// Opens a transaction, reopening the database first if a failure closed it.
    fn begin(&mut self) -> Result<(), Error> {
        if self.files_released {
            let connection = schema::reopen_for_writing(&self.database_path)?;
            self.rows.use_connection(connection);
            self.files_released = false;
        }
        self.rows.connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Applies `record` inside the open transaction (unless a storage failure broke it) and
    /// keeps it for a replay.
    fn add(&mut self, record: Record, transaction: &mut Transaction) {
        transaction.weight += rows::weight(&record);
        if transaction.broken.is_none()
            && let Err(error) = self.apply(&record, &mut transaction.pending)
        {
            transaction.broken = Some(error);
        }
        transaction.records.push(record);
    }

    /// Applies one record inside the open transaction. A record that cannot be stored (its
    /// participant is unknown, say) is rolled back on its own (savepoint), logged, and does not
    /// affect the others; a storage failure is returned: it breaks the whole transaction.
    fn apply(&mut self, record: &Record, pending: &mut Pending) -> Result<(), Error> {
        let seq_batch = seq_batch_of(record);
        let result = if rows::is_atomic_statement(record) {
            self.rows.apply(record)
        } else {
            self.savepoint(|writer| writer.rows.apply(record))
        };
        match result {
            Ok(rows) => {
                pending.rows += rows;
                pending.durable.extend(seq_batch);
                Ok(())
            }
            Err(error) if health::storage_fault(&error).is_some() => Err(error),
            Err(error) => {
                tracing::error!(%error, record = record_kind(record), "record not stored");
                pending.rejected.extend(seq_batch);
                Ok(())
            }
        }
    }

    fn savepoint(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<usize, Error>,
    ) -> Result<usize, Error> {
        self.rows
            .connection
            .prepare_cached("SAVEPOINT record")?
            .execute([])?;
        match body(self) {
            Ok(rows) => {
                self.rows
                    .connection
                    .prepare_cached("RELEASE record")?
                    .execute([])?;
                Ok(rows)
            }
            Err(error) => {
                self.rows
                    .connection
                    .execute_batch("ROLLBACK TO record; RELEASE record")?;
                // Cached row ids may point at rows the rollback removed.
                self.rows.forget_row_ids();
                Err(error)
            }
        }
    }

    /// Handles a maintenance request in its own transaction. Returns true on shutdown.
    fn control(&mut self, request: Control) -> bool {
        match request {
            Control::Flush { reply } => {
                let _ = reply.send(Ok(()));
            }
            Control::Shutdown => return true,
            Control::Erase {
                pseudonym,
                at_ms,
                reply,
            } => {
                let result = self.transaction(|writer| writer.rows.erase(&pseudonym, at_ms));
                // Erased participants' cached ids are gone; later beats for them are rejected.
                self.rows.forget_participants();
                let _ = reply.send(result);
            }
            Control::EraseInSession {
                session_id,
                participant_id,
                at_ms,
                reply,
            } => {
                let result = self.transaction(|writer| {
                    writer
                        .rows
                        .erase_in_session(session_id, participant_id, at_ms)
                });
                self.rows.forget_participants();
                let _ = reply.send(result);
            }
            Control::CloseInterrupted {
                session_id,
                ended_at_ms,
                reply,
            } => {
                let result = self
                    .transaction(|writer| writer.rows.close_interrupted(session_id, ended_at_ms));
                let _ = reply.send(result);
            }
            Control::SaveReport {
                row,
                created_at_ms,
                reply,
            } => {
                let result =
                    self.transaction(|writer| writer.rows.save_report(&row, created_at_ms));
                let _ = reply.send(result);
            }
            Control::LogExport { entry, reply } => {
                let result = self.transaction(|writer| writer.rows.log_export(&entry));
                let _ = reply.send(result);
            }
        }
        false
    }

    fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.begin()?;
        match body(self) {
            Ok(value) => {
                self.rows.connection.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                let _ = self.rows.connection.execute_batch("ROLLBACK");
                self.rows.forget_row_ids();
                Err(error)
            }
        }
    }
}

/// The acknowledgement unit of a record: a beat batch that carries a `seq`.
fn seq_batch_of(record: &Record) -> Option<DurableBatch> {
    match record {
        Record::Beats(batch) => batch.seq.map(|seq| DurableBatch {
            session_id: batch.session_id,
            participant_id: batch.participant_id,
            seq,
        }),
        _ => None,
    }
}

fn record_kind(record: &Record) -> &'static str {
    match record {
        Record::SessionOpened(_) => "session_opened",
        Record::PhaseChanged { .. } => "phase_changed",
        Record::SessionCompleted { .. } => "session_completed",
        Record::ParticipantJoined(_) => "participant_joined",
        Record::ParticipantChanged { .. } => "participant_changed",
        Record::ParticipantClosed(_) => "participant_closed",
        Record::Beats(_) => "beats",
        Record::Metrics(_) => "metrics",
        Record::GroupSnapshot(_) => "group_snapshot",
        Record::Synchrony(_) => "synchrony",
    }
}
