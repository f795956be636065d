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
            dropping: false,
            warned: false,
            metrics,
        }
    }

    /// Hands `record` to the writer, or holds it behind the records already waiting.
    pub(super) fn persist(&mut self, record: Record) {
        if !self.backlog.is_empty() {
            self.hold(record);
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
        if derived && self.backlog.len() >= BACKLOG_LIMIT {
            Metrics::increment(&self.metrics.store_records_dropped);
            if !self.dropping {
                tracing::error!(
                    limit = BACKLOG_LIMIT,
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
