//! The store's side of the engine task: records go to the writer's bounded queue in the order
//! the engine produced them; while the queue is full they wait here, in order (logged once and
//! counted, never dropped), and new beats are refused until the store catches up. Commit
//! reports come back as inputs and make beat batches durable, which is what `rr_ack` waits for.

use std::collections::VecDeque;
use std::sync::Arc;

use synchub_session::record::Record;
use synchub_store::{CommitReport, SendError, WriterHandle};

use super::EngineTask;
use crate::metrics::Metrics;

/// While the store's writer queue is fuller than this fraction, new beats are refused.
const STORE_REFUSE_FRACTION: f64 = 0.9;

/// The writer's queue and the records held back while it is full.
pub(super) struct StoreFeed {
    writer: WriterHandle,
    backlog: VecDeque<Record>,
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
    pub(super) fn new(writer: WriterHandle, metrics: Arc<Metrics>) -> StoreFeed {
        StoreFeed {
            writer,
            backlog: VecDeque::new(),
            warned: false,
            metrics,
        }
    }

    /// Hands `record` to the writer, or holds it behind the records already waiting.
    pub(super) fn persist(&mut self, record: Record) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(record);
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
                self.backlog.push_back(record);
            }
            Err(SendError::Closed(_)) => {
                tracing::error!("the store's writer has stopped; a record was lost");
            }
        }
        self.update_queue_gauge();
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
        }
        self.update_queue_gauge();
    }

    /// Records are waiting here for room in the writer's queue.
    pub(super) fn is_holding(&self) -> bool {
        !self.backlog.is_empty()
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
    }
}
