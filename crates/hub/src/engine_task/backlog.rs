//! The store's side of the engine task: records go to the writer's bounded queue in the order
//! the engine produced them; while the queue is full they wait here, in order (logged once and
//! counted), and new beats are refused until the store catches up. Commit reports come back as
//! inputs and make beat batches durable, which is what `rr_ack` waits for.
//!
//! The records held here are bounded ([`BACKLOG_LIMIT`]): while the store cannot write (a full
//! disk can last the rest of a session) the engine still produces a group snapshot a second
//! and a score per participant every 5 s. At the bound, new derived records (scores, group
//! snapshots, synchrony rounds — figures the session report can do without for the gap) are
//! dropped and counted, and `/health` says so; beats, sessions, participants and phases are
//! never dropped: beats are refused at the edge while the store is behind, and the others are
//! a few per session.

use std::collections::VecDeque;
use std::sync::Arc;

use synchub_session::record::Record;
use synchub_store::{CommitReport, SendError, StoreHealth, WriterHandle};

use super::EngineTask;
use crate::metrics::Metrics;

/// While the store's writer queue is fuller than this fraction, new beats are refused.
const STORE_REFUSE_FRACTION: f64 = 0.9;

/// Records held here at most (beyond the writer's own queue of 16 384): about 25 minutes of a
/// 100-participant room's derived records while the store cannot write, a few tens of MB.
pub const BACKLOG_LIMIT: usize = 200_000;

/// The writer's queue and the records held back while it is full.
pub(super) struct StoreFeed {
    writer: WriterHandle,
    health: StoreHealth,
    backlog: VecDeque<Record>,
    /// [`BACKLOG_LIMIT`], smaller in tests so they reach it without 200 000 records.
    limit: usize,
    /// Derived records were dropped at the bound in this episode (logged once).
    dropping: bool,
    /// A full queue is logged once per episode, not once per record.
    warned: bool,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for StoreFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFeed")
            .field("queued", &self.writer.queue_len())
            .field("held", &self.backlog.len())
            .finish_non_exhaustive()
    }
}

impl StoreFeed {
    pub(super) fn new(
        writer: WriterHandle,
        health: StoreHealth,
        metrics: Arc<Metrics>,
    ) -> StoreFeed {
        StoreFeed {
            writer,
            health,
            backlog: VecDeque::new(),
            limit: BACKLOG_LIMIT,
            dropping: false,
            warned: false,
            metrics,
        }
    }

    /// Hands `record` to the writer, or holds it behind the records already waiting.
    pub(super) fn persist(&mut self, record: Record) {
        if !self.backlog.is_empty() {
            // Behind the records already waiting; the gauge counts it at once (`/health` reads
            // it to say the backlog is full).
            self.hold(record);
            self.update_queue_gauge();
            return;
        }
        match self.writer.try_send(record) {
            Ok(()) => {}
            Err(SendError::Full(record)) => {
                Metrics::increment(&self.metrics.store_backpressure_events);
                if !self.warned {
                    tracing::warn!(
                        "the store's write queue is full; holding records until it catches up"
                    );
                    self.warned = true;
                }
                self.hold(record);
            }
            Err(SendError::Closed(_)) => {
                tracing::error!("the store's writer has stopped; a record was lost");
            }
        }
        self.update_queue_gauge();
    }

    /// Holds `record` behind the others; at the bound, a derived record is dropped instead.
    fn hold(&mut self, record: Record) {
        let derived = matches!(
            record,
            Record::Metrics(_) | Record::GroupSnapshot(_) | Record::Synchrony(_)
        );
        if derived && self.backlog.len() >= self.limit {
            Metrics::increment(&self.metrics.store_records_dropped);
            if !self.dropping {
                tracing::error!(
                    limit = self.limit,
                    "the store has been unable to keep up for long: dropping scores and group \
                     snapshots until it catches up (beats and session rows are kept)"
                );
                self.dropping = true;
            }
            return;
        }
        self.backlog.push_back(record);
    }

    /// Offers the held records again, oldest first, until the queue is full.
    pub(super) fn offer_backlog(&mut self) {
        while let Some(record) = self.backlog.pop_front() {
            match self.writer.try_send(record) {
                Ok(()) => {}
                Err(SendError::Full(record)) => {
                    self.backlog.push_front(record);
                    break;
                }
                Err(SendError::Closed(_)) => {
                    tracing::error!("the store's writer has stopped; a record was lost");
                }
            }
        }
        if self.backlog.is_empty() && self.warned {
            tracing::info!("the store caught up");
            self.warned = false;
            self.dropping = false;
        }
        self.update_queue_gauge();
    }

    /// Records are waiting here for room in the writer's queue.
    pub(super) fn is_holding(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// The store's last write failed: new beats are refused with `store_unavailable`.
    pub(super) fn is_unavailable(&self) -> bool {
        !self.health.is_writable()
    }

    /// New beats are refused: records are held, or the queue is nearly full.
    pub(super) fn is_behind(&self) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let full = self.writer.queue_len() as f64
            >= self.writer.queue_capacity() as f64 * STORE_REFUSE_FRACTION;
        self.is_holding() || full
    }

    /// The last step of a clean stop: every held record and then `last` handed over, waiting
    /// for room if need be, so nothing is dropped.
    pub(super) async fn hand_over_all(&mut self, last: Vec<Record>) {
        let writer = self.writer.clone();
        let mut records = std::mem::take(&mut self.backlog);
        records.extend(last);
        let handed = tokio::task::spawn_blocking(move || {
            for record in records {
                if writer.send(record).is_err() {
                    tracing::error!(
                        "the store's writer stopped before the hub handed over every record"
                    );
                    break;
                }
            }
        })
        .await;
        if handed.is_err() {
            tracing::error!("handing the last records to the store failed");
        }
    }

    fn update_queue_gauge(&self) {
        let depth = self.writer.queue_len() + self.backlog.len();
        Metrics::set(
            &self.metrics.store_queue_depth,
            u64::try_from(depth).unwrap_or(u64::MAX),
        );
        Metrics::set(
            &self.metrics.store_backlog,
            u64::try_from(self.backlog.len()).unwrap_or(u64::MAX),
        );
    }
}

impl EngineTask {
    /// The store committed: its figures are counted and its durable beat batches handed to
    /// the engine, which answers each with `rr_ack` (sent when the engine is next drained).
    pub(super) fn committed(&mut self, report: &CommitReport) {
        Metrics::increment(&self.metrics.store_commits);
        Metrics::add(
            &self.metrics.store_rows_committed,
            u64::try_from(report.rows).unwrap_or(u64::MAX),
        );
        Metrics::add(
            &self.metrics.store_commit_micros_total,
            u64::try_from(report.commit_duration.as_micros()).unwrap_or(u64::MAX),
        );
        for batch in &report.durable {
            self.engine
                .handle_beats_durable(batch.participant_id, batch.seq);
        }
        // The writer retries storage failures itself, so a rejected batch is one the store
        // could never take (its participant was erased, say), or one it gave up on while the
        // hub stops. It is not acknowledged: the phone keeps it, and after a restart its
        // resend is a new batch to the restored engine.
        if !report.rejected.is_empty() {
            Metrics::add(
                &self.metrics.store_batches_rejected,
                u64::try_from(report.rejected.len()).unwrap_or(u64::MAX),
            );
            tracing::warn!(
                batches = report.rejected.len(),
                "the store rejected beat batches; they are not acknowledged"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
    use synchub_session::record::{
        BeatBatch, DeviceKind, GroupSnapshot, ParticipantRow, Phase, ScheduleMode, SessionRow,
        StoredBeat,
    };
    use synchub_store::{DataDir, Store, WriterConfig};

    use super::*;

    const T0_MS: i64 = 1_780_000_000_000;
    const LIMIT: usize = 40;

    fn session_opened(session: SessionId) -> Record {
        Record::SessionOpened(SessionRow {
            session_id: session,
            mode: ScheduleMode::Manual,
            slot_start_ms: None,
            started_at_ms: T0_MS,
            preparation_secs: 60,
            active_secs: 720,
            integration_secs: 120,
            planned_end_ms: T0_MS + 900_000,
        })
    }

    fn joined(session: SessionId, participant: ParticipantId) -> Record {
        Record::ParticipantJoined(ParticipantRow {
            session_id: session,
            participant_id: participant,
            pseudonym: "p-backlog".to_owned(),
            intention: None,
            research_consent: true,
            device: DeviceKind::Sim,
            joined_at_ms: T0_MS,
            resume_token: ResumeToken([7; 16]),
        })
    }

    fn beats(session: SessionId, participant: ParticipantId, seq: u64) -> Record {
        Record::Beats(BeatBatch {
            session_id: session,
            participant_id: participant,
            seq: Some(seq),
            beats: (0..5)
                .map(|i| StoredBeat {
                    #[allow(clippy::cast_precision_loss)]
                    time_ms: (T0_MS + i64::try_from(seq).unwrap() * 5_000 + i * 1_000) as f64,
                    rr_ms: 1_000.0,
                    artifact: false,
                })
                .collect(),
        })
    }

    fn snapshot(session: SessionId, second: i64) -> Record {
        Record::GroupSnapshot(GroupSnapshot {
            session_id: session,
            at_ms: T0_MS + second * 1_000,
            phase: Phase::Active,
            participant_count: 1,
            active_count: 1,
            average_coherence: 1.0,
            median_coherence: 1.0,
            std_coherence: 0.0,
            peak_coherence: 1.0,
            coherence_phase: synchub_hrv::CoherencePhase::Medium,
            distribution_low: 0,
            distribution_medium: 1,
            distribution_high: 0,
            synchrony_index: None,
            synchrony_baseline: None,
        })
    }

    fn count(database: &std::path::Path, sql: &str) -> u64 {
        let connection = rusqlite::Connection::open(database).expect("the database opens");
        let count: i64 = connection
            .query_row(sql, [], |row| row.get(0))
            .expect("the rows are counted");
        u64::try_from(count).expect("a count is not negative")
    }

    /// A real store whose database another connection holds locked: the writer cannot commit,
    /// its (small) queue fills, and the feed holds records behind it up to its bound.
    #[test]
    fn at_its_bound_the_backlog_drops_snapshots_and_scores_but_never_beats_or_session_rows() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = WriterConfig {
            queue_capacity: 4,
            ..WriterConfig::default()
        };
        let store = Store::open(&DataDir::new(dir.path()), config).expect("the store opens");
        let locker =
            rusqlite::Connection::open(store.database_path()).expect("a second connection");
        locker
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the second connection takes the write lock");

        let metrics = Arc::new(Metrics::default());
        let mut feed = StoreFeed::new(store.writer(), store.health().clone(), metrics.clone());
        feed.limit = LIMIT;
        let session = SessionId(uuid::Uuid::from_u128(1));
        let participant = ParticipantId(uuid::Uuid::from_u128(2));
        feed.persist(session_opened(session));
        feed.persist(joined(session, participant));
        // Three times the bound of group snapshots, a beat batch every tenth.
        let mut snapshots = 0_u64;
        let mut batches = 0_u64;
        for second in 0..(3 * LIMIT as i64) {
            feed.persist(snapshot(session, second));
            snapshots += 1;
            if second % 10 == 0 {
                batches += 1;
                feed.persist(beats(session, participant, batches));
            }
        }

        assert!(
            feed.is_behind(),
            "new beats are refused while records are held"
        );
        let dropped = metrics
            .store_records_dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(dropped > 0, "snapshots beyond the bound were dropped");
        let held = feed.backlog.len();
        let held_beats = feed
            .backlog
            .iter()
            .filter(|record| matches!(record, Record::Beats(_)))
            .count();
        assert!(
            held <= LIMIT + held_beats,
            "{held} held: no more than the bound, beyond it only beats"
        );
        assert_eq!(
            metrics
                .store_backlog
                .load(std::sync::atomic::Ordering::Relaxed),
            held as u64,
            "the backlog gauge (/metrics, /health) shows what is held"
        );

        // The lock goes: everything held reaches the database, in order, and the feed takes
        // new records straight to the writer again.
        drop(locker);
        let waiting = Instant::now();
        while feed.is_holding() {
            assert!(
                waiting.elapsed() < Duration::from_secs(30),
                "the backlog drains once the store can write"
            );
            feed.offer_backlog();
            std::thread::sleep(Duration::from_millis(5));
        }
        store.flush().expect("the store flushes");
        let database = store.database_path().to_path_buf();
        assert_eq!(count(&database, "SELECT count(*) FROM sessions"), 1);
        assert_eq!(
            count(&database, "SELECT count(*) FROM session_participants"),
            1
        );
        assert_eq!(
            count(
                &database,
                "SELECT count(DISTINCT batch_seq) FROM rr_intervals"
            ),
            batches,
            "every beat batch is stored"
        );
        assert_eq!(
            count(&database, "SELECT count(*) FROM group_coherence_snapshots"),
            snapshots - dropped,
            "every snapshot not dropped is stored"
        );
        assert!(!feed.is_behind(), "beats are taken again");
    }
}
