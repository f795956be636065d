//! The writer thread: the only code that writes to the database while a hub runs.
//!
//! The engine's records arrive through a bounded channel. The thread applies them inside one
//! transaction and commits every `commit_interval` or `max_rows_per_commit` rows, whichever comes
//! first; only after the commit returns does it report which beat batches are durable (what the
//! hub turns into `rr_ack`). A full channel is reported to the sender ([`SendError::Full`]), never
//! resolved by dropping records. Maintenance writes (erasure, closing an interrupted session,
//! logging an export) travel through the same channel, so they are ordered with the records and
//! the single-writer rule has no exception.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rusqlite::{Connection, OptionalExtension as _, params};
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{
    BeatBatch, GroupSnapshot, ParticipantClosed, ParticipantMetrics, ParticipantRow, Phase, Record,
    SessionRow, SessionSummary, SynchronyRound,
};

use crate::{Error, codes};

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

/// The result of erasing one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErasureReport {
    pub participant_rows: u64,
    pub beat_rows: u64,
    pub metric_rows: u64,
    pub pair_rows: u64,
}

/// One line of `research_exports`.
#[derive(Debug, Clone)]
pub(crate) struct ExportLogEntry {
    pub export_id: uuid::Uuid,
    pub created_at_ms: i64,
    pub scope: &'static str,
    pub format: &'static str,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub out_dir: String,
    pub sessions: u64,
    pub participants: u64,
    pub beat_rows: u64,
    pub total_rows: u64,
}

type Reply<T> = Sender<Result<T, Error>>;

pub(crate) enum Control {
    Erase {
        pseudonym: String,
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

    pub(crate) fn shutdown(&self) {
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

/// Starts the writer thread on `connection`.
pub(crate) fn spawn(
    connection: Connection,
    config: &WriterConfig,
) -> Result<(WriterHandle, Receiver<CommitReport>, thread::JoinHandle<()>), Error> {
    let (sender, receiver) = crossbeam_channel::bounded(config.queue_capacity);
    // Unbounded so that a slow reader of reports never stalls commits; it holds at most one
    // report per commit.
    let (report_sender, reports) = crossbeam_channel::unbounded();
    // Room for every multi-row beat insert plus the other statements.
    connection.set_prepared_statement_cache_capacity(128);
    let mut writer = Writer {
        connection,
        sessions: HashMap::new(),
        participants: HashMap::new(),
        commit_interval: config.commit_interval,
        max_rows: config.max_rows_per_commit.max(1),
        beat_inserts: beat_inserts(),
    };
    let thread = thread::Builder::new()
        .name("synchub-store-writer".into())
        .spawn(move || writer.run(&receiver, &report_sender))
        .map_err(|source| Error::Io {
            path: "<writer thread>".into(),
            source,
        })?;
    Ok((WriterHandle { sender }, reports, thread))
}

struct Writer {
    connection: Connection,
    /// Row ids of sessions and participants, so that per-beat inserts need no lookup query.
    sessions: HashMap<SessionId, i64>,
    participants: HashMap<(SessionId, ParticipantId), i64>,
    commit_interval: Duration,
    max_rows: usize,
    /// The SQL of a multi-row beat insert, by row count - 1.
    beat_inserts: Vec<String>,
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
                    let mut pending = Pending::default();
                    if let Err(error) = self.connection.execute_batch("BEGIN IMMEDIATE") {
                        // Only after the busy timeout (another process held the lock for 10 s)
                        // or an I/O failure. The record is reported, never silently dropped.
                        tracing::error!(%error, "could not begin a transaction; a record was not stored");
                        pending.rejected.extend(seq_batch_of(&record));
                        let _ = reports.send(CommitReport {
                            durable: Vec::new(),
                            rejected: pending.rejected,
                            rows: 0,
                            commit_duration: Duration::ZERO,
                        });
                        continue;
                    }
                    self.apply(record, &mut pending);
                    let deadline = Instant::now() + self.commit_interval;
                    while pending.rows < self.max_rows {
                        match receiver.recv_deadline(deadline) {
                            Ok(Request::Record(record)) => self.apply(record, &mut pending),
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
                    let report = self.commit(pending);
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

    fn commit(&mut self, mut pending: Pending) -> CommitReport {
        let started = Instant::now();
        match self.connection.execute_batch("COMMIT") {
            Ok(()) => {}
            Err(error) => {
                tracing::error!(%error, rows = pending.rows, "commit failed; the batch is lost and not acknowledged");
                // SQLite may already have rolled back; a failing ROLLBACK changes nothing then.
                let _ = self.connection.execute_batch("ROLLBACK");
                self.sessions.clear();
                self.participants.clear();
                pending.rejected.append(&mut pending.durable);
                pending.rows = 0;
            }
        }
        CommitReport {
            durable: pending.durable,
            rejected: pending.rejected,
            rows: pending.rows,
            commit_duration: started.elapsed(),
        }
    }

    /// Applies one record inside the open transaction. A record that cannot be stored is
    /// rolled back on its own (savepoint), logged, and does not affect the others.
    fn apply(&mut self, record: Record, pending: &mut Pending) {
        let kind = record_kind(&record);
        let seq_batch = seq_batch_of(&record);
        let result = if is_atomic_statement(&record) {
            self.apply_inner(record)
        } else {
            self.savepoint(|writer| writer.apply_inner(record))
        };
        match result {
            Ok(rows) => {
                pending.rows += rows;
                pending.durable.extend(seq_batch);
            }
            Err(error) => {
                tracing::error!(%error, record = kind, "record not stored");
                pending.rejected.extend(seq_batch);
            }
        }
    }

    fn savepoint(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<usize, Error>,
    ) -> Result<usize, Error> {
        self.connection
            .prepare_cached("SAVEPOINT record")?
            .execute([])?;
        match body(self) {
            Ok(rows) => {
                self.connection
                    .prepare_cached("RELEASE record")?
                    .execute([])?;
                Ok(rows)
            }
            Err(error) => {
                self.connection
                    .execute_batch("ROLLBACK TO record; RELEASE record")?;
                // Cached row ids may point at rows the rollback removed.
                self.sessions.clear();
                self.participants.clear();
                Err(error)
            }
        }
    }

    fn apply_inner(&mut self, record: Record) -> Result<usize, Error> {
        match record {
            Record::SessionOpened(row) => self.session_opened(&row),
            Record::PhaseChanged {
                session_id,
                phase,
                at_ms,
                ends_at_ms,
            } => self.phase_changed(session_id, phase, at_ms, ends_at_ms),
            Record::SessionCompleted {
                session_id,
                ended_at_ms,
                summary,
            } => self.session_completed(session_id, ended_at_ms, &summary, false),
            Record::ParticipantJoined(row) => self.participant_joined(&row),
            Record::ParticipantChanged {
                session_id,
                participant_id,
                intention,
                research_consent,
            } => {
                let participant = self.participant_ref(session_id, participant_id)?;
                self.connection
                    .prepare_cached(
                        "UPDATE session_participants SET intention = ?2, research_consent = ?3 \
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        participant,
                        intention.map(codes::intention),
                        research_consent
                    ])?;
                self.connection
                    .prepare_cached(
                        "UPDATE users SET research_consent = ?2 WHERE pseudonym = \
                         (SELECT pseudonym FROM session_participants WHERE id = ?1)",
                    )?
                    .execute(params![participant, research_consent])?;
                Ok(1)
            }
            Record::ParticipantClosed(closed) => self.participant_closed(&closed),
            Record::Beats(batch) => self.beats(&batch),
            Record::Metrics(metrics) => self.metrics(&metrics),
            Record::GroupSnapshot(snapshot) => self.group_snapshot(&snapshot),
            Record::Synchrony(round) => self.synchrony(&round),
        }
    }

    fn session_ref(&mut self, session_id: SessionId) -> Result<i64, Error> {
        if let Some(id) = self.sessions.get(&session_id) {
            return Ok(*id);
        }
        let id = self
            .connection
            .prepare_cached("SELECT id FROM sessions WHERE session_id = ?1")?
            .query_row([session_id.0.to_string()], |row| row.get(0))
            .optional()?
            .ok_or(Error::UnknownSession(session_id))?;
        self.sessions.insert(session_id, id);
        Ok(id)
    }

    fn participant_ref(
        &mut self,
        session_id: SessionId,
        participant_id: ParticipantId,
    ) -> Result<i64, Error> {
        if let Some(id) = self.participants.get(&(session_id, participant_id)) {
            return Ok(*id);
        }
        let session = self.session_ref(session_id)?;
        let id = self
            .connection
            .prepare_cached(
                "SELECT id FROM session_participants WHERE session_ref = ?1 AND participant_id = ?2",
            )?
            .query_row(params![session, participant_id.0.to_string()], |row| {
                row.get(0)
            })
            .optional()?
            .ok_or(Error::UnknownParticipant(participant_id))?;
        self.participants.insert((session_id, participant_id), id);
        Ok(id)
    }

    fn session_opened(&mut self, row: &SessionRow) -> Result<usize, Error> {
        let preparation_ends_ms = row.started_at_ms + i64::from(row.preparation_secs) * 1000;
        let id: i64 = self
            .connection
            .prepare_cached(
                "INSERT INTO sessions (session_id, mode, slot_start_ms, started_at_ms, \
                 preparation_secs, active_secs, integration_secs, planned_end_ms, phase, \
                 phase_started_at_ms, phase_ends_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'preparation', ?4, ?9) \
                 ON CONFLICT (session_id) DO UPDATE SET mode = excluded.mode \
                 RETURNING id",
            )?
            .query_row(
                params![
                    row.session_id.0.to_string(),
                    codes::mode(row.mode),
                    row.slot_start_ms,
                    row.started_at_ms,
                    row.preparation_secs,
                    row.active_secs,
                    row.integration_secs,
                    row.planned_end_ms,
                    preparation_ends_ms,
                ],
                |r| r.get(0),
            )?;
        self.sessions.insert(row.session_id, id);
        Ok(1)
    }

    fn phase_changed(
        &mut self,
        session_id: SessionId,
        phase: Phase,
        at_ms: i64,
        ends_at_ms: Option<i64>,
    ) -> Result<usize, Error> {
        let session = self.session_ref(session_id)?;
        let phase = codes::phase(phase);
        self.connection
            .prepare_cached(
                "UPDATE sessions SET phase = ?2, phase_started_at_ms = ?3, phase_ends_at_ms = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![session, phase, at_ms, ends_at_ms])?;
        self.connection
            .prepare_cached(
                "INSERT INTO session_phases (session_ref, phase, started_at_ms, ends_at_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![session, phase, at_ms, ends_at_ms])?;
        Ok(2)
    }

    fn session_completed(
        &mut self,
        session_id: SessionId,
        ended_at_ms: i64,
        summary: &SessionSummary,
        on_recovery: bool,
    ) -> Result<usize, Error> {
        let session = self.session_ref(session_id)?;
        self.connection
            .prepare_cached(
                "UPDATE sessions SET ended_at_ms = ?2, phase = 'complete', \
                 phase_started_at_ms = ?2, phase_ends_at_ms = NULL, closed_on_recovery = ?3, \
                 duration_ms = ?4, participant_count = ?5, average_coherence = ?6, \
                 peak_coherence = ?7, secs_low = ?8, secs_medium = ?9, secs_high = ?10, \
                 average_synchrony = ?11 WHERE id = ?1",
            )?
            .execute(params![
                session,
                ended_at_ms,
                on_recovery,
                summary.duration_ms,
                summary.participants,
                summary.average_coherence,
                summary.peak_coherence,
                summary.secs_low,
                summary.secs_medium,
                summary.secs_high,
                summary.average_synchrony,
            ])?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET left_at_ms = ?2 \
                 WHERE session_ref = ?1 AND left_at_ms IS NULL",
            )?
            .execute(params![session, ended_at_ms])?;
        // Nobody can resume into a completed session: the credentials go.
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET resume_token = NULL WHERE session_ref = ?1",
            )?
            .execute([session])?;
        self.connection
            .prepare_cached(
                "UPDATE users SET sessions_completed = sessions_completed + 1, \
                 last_active_ms = max(last_active_ms, ?2) WHERE pseudonym IN \
                 (SELECT pseudonym FROM session_participants WHERE session_ref = ?1)",
            )?
            .execute(params![session, ended_at_ms])?;
        self.participants
            .retain(|(owner, _), _| *owner != session_id);
        self.sessions.remove(&session_id);
        Ok(1)
    }

    fn participant_joined(&mut self, row: &ParticipantRow) -> Result<usize, Error> {
        let session = self.session_ref(row.session_id)?;
        let id: i64 = self
            .connection
            .prepare_cached(
                "INSERT INTO session_participants (session_ref, participant_id, pseudonym, \
                 intention, research_consent, device, joined_at_ms, resume_token) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (session_ref, participant_id) DO UPDATE SET \
                 intention = excluded.intention, research_consent = excluded.research_consent, \
                 device = excluded.device, left_at_ms = NULL, \
                 resume_token = excluded.resume_token \
                 RETURNING id",
            )?
            .query_row(
                params![
                    session,
                    row.participant_id.0.to_string(),
                    row.pseudonym,
                    row.intention.map(codes::intention),
                    row.research_consent,
                    codes::device(row.device),
                    row.joined_at_ms,
                    &row.resume_token.0[..],
                ],
                |r| r.get(0),
            )?;
        self.connection
            .prepare_cached(
                "INSERT INTO users (pseudonym, first_seen_ms, last_active_ms, research_consent) \
                 VALUES (?1, ?2, ?2, ?3) ON CONFLICT (pseudonym) DO UPDATE SET \
                 last_active_ms = max(last_active_ms, excluded.last_active_ms), \
                 research_consent = excluded.research_consent",
            )?
            .execute(params![
                row.pseudonym,
                row.joined_at_ms,
                row.research_consent
            ])?;
        self.participants
            .insert((row.session_id, row.participant_id), id);
        Ok(2)
    }

    fn participant_closed(&mut self, closed: &ParticipantClosed) -> Result<usize, Error> {
        let participant = self.participant_ref(closed.session_id, closed.participant_id)?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET left_at_ms = ?2, peak_coherence = ?3, \
                 high_coherence_secs = ?4 WHERE id = ?1",
            )?
            .execute(params![
                participant,
                closed.left_at_ms,
                closed.peak_coherence,
                closed.high_coherence_secs
            ])?;
        Ok(1)
    }

    fn beats(&mut self, batch: &BeatBatch) -> Result<usize, Error> {
        let participant = self.participant_ref(batch.session_id, batch.participant_id)?;
        let seq = batch.seq.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
        // One multi-row INSERT per chunk: far cheaper per beat than one statement per row, and
        // a single statement is atomic by itself (see `is_atomic_statement`).
        for chunk in batch.beats.chunks(BEATS_PER_INSERT) {
            let sql = &self.beat_inserts[chunk.len() - 1];
            let mut insert = self.connection.prepare_cached(sql)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 5);
            for beat in chunk {
                values.extend_from_slice(&[
                    &participant as &dyn rusqlite::ToSql,
                    &seq,
                    &beat.time_ms,
                    &beat.rr_ms,
                    &beat.artifact,
                ]);
            }
            insert.execute(values.as_slice())?;
        }
        Ok(batch.beats.len())
    }

    fn metrics(&mut self, metrics: &ParticipantMetrics) -> Result<usize, Error> {
        let participant = self.participant_ref(metrics.session_id, metrics.participant_id)?;
        self.connection
            .prepare_cached(
                "INSERT INTO hrv_metrics (participant_ref, at_ms, source, algorithm, score, ratio, \
                 peak_hz, breaths_per_min, hr_bpm, mean_rr_ms, sdnn_ms, rmssd_ms, \
                 artifact_fraction, quality) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                participant,
                metrics.at_ms,
                codes::score_source(metrics.source),
                metrics.algorithm,
                metrics.score,
                metrics.ratio,
                metrics.peak_hz,
                metrics.breaths_per_min,
                metrics.hr_bpm,
                metrics.mean_rr_ms,
                metrics.sdnn_ms,
                metrics.rmssd_ms,
                metrics.artifact_fraction,
                codes::variant_name(&metrics.quality),
            ])?;
        Ok(1)
    }

    fn group_snapshot(&mut self, snapshot: &GroupSnapshot) -> Result<usize, Error> {
        let session = self.session_ref(snapshot.session_id)?;
        self.connection
            .prepare_cached(
                "INSERT INTO group_coherence_snapshots (session_ref, at_ms, phase, \
                 participant_count, active_count, average_coherence, median_coherence, \
                 std_coherence, peak_coherence, coherence_phase, distribution_low, \
                 distribution_medium, distribution_high, synchrony_index) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                session,
                snapshot.at_ms,
                codes::phase(snapshot.phase),
                snapshot.participant_count,
                snapshot.active_count,
                snapshot.average_coherence,
                snapshot.median_coherence,
                snapshot.std_coherence,
                snapshot.peak_coherence,
                codes::variant_name(&snapshot.coherence_phase),
                snapshot.distribution_low,
                snapshot.distribution_medium,
                snapshot.distribution_high,
                snapshot.synchrony_index,
            ])?;
        Ok(1)
    }

    fn synchrony(&mut self, round: &SynchronyRound) -> Result<usize, Error> {
        let session = self.session_ref(round.session_id)?;
        let round_ref: i64 = self
            .connection
            .prepare_cached(
                "INSERT INTO synchrony_rounds (session_ref, at_ms, participants, synchrony_index, \
                 surrogate_index, mean_strength, surrogate_mean_strength, pairs_sampled) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            )?
            .query_row(
                params![
                    session,
                    round.at_ms,
                    round.participants,
                    round.index,
                    round.surrogate_index,
                    round.mean_strength,
                    round.surrogate_mean_strength,
                    round.pairs_sampled,
                ],
                |r| r.get(0),
            )?;
        for pair in &round.pairs {
            let a = self.participant_ref(round.session_id, pair.a)?;
            let b = self.participant_ref(round.session_id, pair.b)?;
            self.connection
                .prepare_cached(
                    "INSERT INTO synchronization_pairs (round_ref, participant_a_ref, \
                     participant_b_ref, correlation, plv, strength) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    round_ref,
                    a,
                    b,
                    pair.correlation,
                    pair.plv,
                    pair.strength
                ])?;
        }
        Ok(1 + round.pairs.len())
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
                let result = self.transaction(|writer| writer.erase(&pseudonym, at_ms));
                // Erased participants' cached ids are gone; later beats for them are rejected.
                self.participants.clear();
                let _ = reply.send(result);
            }
            Control::CloseInterrupted {
                session_id,
                ended_at_ms,
                reply,
            } => {
                let result = self.transaction(|writer| {
                    crate::recovery::close_interrupted(&writer.connection, session_id, ended_at_ms)
                        .and_then(|summary| {
                            writer.session_completed(session_id, ended_at_ms, &summary, true)?;
                            Ok(summary)
                        })
                });
                let _ = reply.send(result);
            }
            Control::LogExport { entry, reply } => {
                let result = self.transaction(|writer| {
                    writer.connection.execute(
                        "INSERT INTO research_exports (export_id, created_at_ms, scope, format, \
                         from_ms, to_ms, out_dir, sessions, participants, beat_rows, total_rows) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        params![
                            entry.export_id.to_string(),
                            entry.created_at_ms,
                            entry.scope,
                            entry.format,
                            entry.from_ms,
                            entry.to_ms,
                            entry.out_dir,
                            signed(entry.sessions),
                            signed(entry.participants),
                            signed(entry.beat_rows),
                            signed(entry.total_rows),
                        ],
                    )?;
                    Ok(())
                });
                let _ = reply.send(result);
            }
        }
        false
    }

    fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        match body(self) {
            Ok(value) => {
                self.connection.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                self.sessions.clear();
                self.participants.clear();
                Err(error)
            }
        }
    }

    fn erase(&mut self, pseudonym: &str, at_ms: i64) -> Result<ErasureReport, Error> {
        let count = |sql: &str| -> Result<u64, Error> {
            let rows: i64 = self
                .connection
                .query_row(sql, [pseudonym], |row| row.get(0))?;
            Ok(u64::try_from(rows).unwrap_or(0))
        };
        const MINE: &str = "(SELECT id FROM session_participants WHERE pseudonym = ?1)";
        let report = ErasureReport {
            participant_rows: count(
                "SELECT count(*) FROM session_participants WHERE pseudonym = ?1",
            )?,
            beat_rows: count(&format!(
                "SELECT count(*) FROM rr_intervals WHERE participant_ref IN {MINE}"
            ))?,
            metric_rows: count(&format!(
                "SELECT count(*) FROM hrv_metrics WHERE participant_ref IN {MINE}"
            ))?,
            pair_rows: count(&format!(
                "SELECT count(*) FROM synchronization_pairs WHERE participant_a_ref IN {MINE} \
                 OR participant_b_ref IN {MINE}"
            ))?,
        };
        // ON DELETE CASCADE removes the beats, metrics and pairs with the participant rows.
        self.connection.execute(
            "DELETE FROM session_participants WHERE pseudonym = ?1",
            [pseudonym],
        )?;
        self.connection
            .execute("DELETE FROM users WHERE pseudonym = ?1", [pseudonym])?;
        self.connection.execute(
            "INSERT INTO erasures (pseudonym, erased_at_ms, participant_rows, beat_rows, \
             metric_rows, pair_rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                pseudonym,
                at_ms,
                signed(report.participant_rows),
                signed(report.beat_rows),
                signed(report.metric_rows),
                signed(report.pair_rows)
            ],
        )?;
        Ok(report)
    }
}

/// Beats per multi-row INSERT (5 parameters each, well under SQLite's parameter limit).
const BEATS_PER_INSERT: usize = 64;

/// `INSERT INTO rr_intervals … VALUES (…), (…), …` with 1..=BEATS_PER_INSERT rows.
fn beat_inserts() -> Vec<String> {
    (1..=BEATS_PER_INSERT)
        .map(|rows| {
            let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
            format!(
                "INSERT INTO rr_intervals (participant_ref, batch_seq, time_ms, rr_ms, artifact) \
                 VALUES {values}"
            )
        })
        .collect()
}

/// True when the record is stored by one SQL statement (after read-only lookups), which SQLite
/// applies entirely or not at all, so no savepoint is needed around it. Beat batches are the
/// hot path: skipping two statements per batch matters at 40 000 batches/s.
fn is_atomic_statement(record: &Record) -> bool {
    match record {
        Record::Beats(batch) => !batch.beats.is_empty() && batch.beats.len() <= BEATS_PER_INSERT,
        Record::Metrics(_) | Record::GroupSnapshot(_) | Record::ParticipantClosed(_) => true,
        _ => false,
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

/// SQLite stores signed integers; row counts never come near `i64::MAX`.
fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
