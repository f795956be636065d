//! The hub's background sync: [`push`] again and again, with backoff while the central database
//! is unreachable or stops answering, and a [`SyncStatus`] the console reads.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::pin_mut;

use crate::push::{SyncOptions, TableProgress, push};

/// What the background sync reports to the hub (`GET /api/hub`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    /// When the last push succeeded (ms since the Unix epoch).
    pub last_sync_ms: Option<i64>,
    /// Rows the last successful push sent.
    pub last_rows: u64,
    /// Eligible rows not yet central after the last successful push (a running session's).
    pub rows_pending: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// A push is under way.
    pub running: bool,
    /// Per-table progress of the push under way, or of the last one.
    pub tables: Vec<TableProgress>,
}

/// The hub's background sync: pushes every `every` (or at once when `now` is notified),
/// retrying with exponential backoff (1 s up to 5 min) while the database is unreachable, and
/// publishes each outcome and every table's progress on `status`. Runs until `stop` completes
/// (or the task is dropped); a push in flight when `stop` fires is abandoned, which is safe
/// (see the module doc).
pub async fn watch(
    options: SyncOptions,
    every: Duration,
    status: tokio::sync::watch::Sender<SyncStatus>,
    now: Arc<tokio::sync::Notify>,
    stop: impl Future<Output = ()>,
) {
    const FIRST_RETRY: Duration = Duration::from_secs(1);
    const LONGEST_RETRY: Duration = Duration::from_secs(300);
    pin_mut!(stop);
    let mut retry = FIRST_RETRY;
    loop {
        status.send_modify(|status| {
            status.running = true;
            status.tables.clear();
        });
        let mut progress = |table: &TableProgress| {
            status.send_modify(|status| {
                match status
                    .tables
                    .iter_mut()
                    .find(|known| known.table == table.table)
                {
                    Some(known) => *known = table.clone(),
                    None => status.tables.push(table.clone()),
                }
            });
        };
        let outcome = tokio::select! {
            outcome = push(&options, &mut progress) => outcome,
            () = &mut stop => return,
        };
        status.send_modify(|status| status.running = false);
        let wait = match outcome {
            Ok(report) => {
                tracing::info!(
                    rows = report.rows(),
                    pending = report.pending_rows(),
                    "central sync done"
                );
                status.send_modify(|status| {
                    status.last_sync_ms = Some(now_ms());
                    status.last_rows = report.rows();
                    status.rows_pending = report.pending_rows();
                    status.last_error = None;
                    status.consecutive_failures = 0;
                });
                retry = FIRST_RETRY;
                every
            }
            Err(error) => {
                tracing::warn!(%error, retry_secs = retry.as_secs(), "central sync failed; retrying");
                status.send_modify(|status| {
                    status.last_error = Some(error.to_string());
                    status.consecutive_failures += 1;
                });
                let wait = retry;
                retry = (retry * 2).min(LONGEST_RETRY);
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = now.notified() => {}
            () = &mut stop => return,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
