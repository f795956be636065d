//! The relay's queue: every beat batch its straps produce, on disk (SQLite in the data
//! directory) until the hub says it is durable or unwanted. Each strap's batches are numbered
//! by a `seq` kept in the same database and given in the same transaction as the batch, so a
//! restarted relay never reuses one: the hub recognises a batch sent again by strap and seq and
//! stores it once.
//!
//! The queue is bounded by age and by count (the oldest batches go first, with a warning and a
//! count), so a hub that stays away cannot fill the relay's disk.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, params};
use synchub_protocol::relay::{RelayBatch, RelayQueueState};

/// The queue's file in the data directory.
pub const QUEUE_FILE: &str = "relay-queue.sqlite";

/// How full the queue may get before it warns (a share of its bounds).
const WARN_SHARE: f64 = 0.8;

/// The queue's bounds.
#[derive(Debug, Clone, Copy)]
pub struct QueueBounds {
    pub max_batches: u64,
    pub max_age: Duration,
}

/// A batch waiting for the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Its place in the queue (sending order).
    pub id: i64,
    pub strap: String,
    pub seq: u64,
    pub rr_ms: Vec<f64>,
    /// When its last beat ended, on the relay's clock (ms since the Unix epoch).
    pub ended_at_ms: i64,
}

impl Queued {
    /// The batch as the hub gets it: its time moved onto the hub's clock with `offset_ms`
    /// (hub − relay), when there is one.
    pub fn to_wire(&self, offset_ms: Option<f64>) -> RelayBatch {
        #[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
        let ended_at = offset_ms.map(|offset| self.ended_at_ms as f64 + offset);
        RelayBatch {
            strap: self.strap.clone(),
            seq: self.seq,
            rr: self.rr_ms.clone(),
            ended_at,
        }
    }
}

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the relay's queue ({path}): {source}; check that --data-dir is writable and not full")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
}

/// The on-disk queue.
#[derive(Debug)]
pub struct Queue {
    connection: Connection,
    path: String,
    bounds: QueueBounds,
    /// Batches dropped over the bounds since the relay started.
    dropped: u64,
}

impl Queue {
    /// Opens (or creates) the queue in `data_dir`.
    pub fn open(data_dir: &Path, bounds: QueueBounds) -> Result<Queue, QueueError> {
        let path = data_dir.join(QUEUE_FILE);
        let display = path.display().to_string();
        let wrap = |source| QueueError::Sqlite {
            path: display.clone(),
            source,
        };
        let connection = Connection::open(&path).map_err(wrap)?;
        // WAL with FULL sync: a batch is on disk before the relay goes on, so a killed relay
        // or a pulled plug loses nothing it had taken.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 CREATE TABLE IF NOT EXISTS batches (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     strap TEXT NOT NULL,
                     seq INTEGER NOT NULL,
                     rr TEXT NOT NULL,
                     ended_at_ms INTEGER NOT NULL,
                     queued_at_ms INTEGER NOT NULL,
                     UNIQUE (strap, seq)
                 );
                 CREATE TABLE IF NOT EXISTS next_seq (
                     strap TEXT PRIMARY KEY,
                     next INTEGER NOT NULL
                 );",
            )
            .map_err(wrap)?;
        Ok(Queue {
            connection,
            path: display,
            bounds,
            dropped: 0,
        })
    }

    fn wrap(&self, source: rusqlite::Error) -> QueueError {
        QueueError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Keeps one batch of `strap` (its last beat ended at `ended_at_ms`, relay clock) with the
    /// strap's next seq, then applies the bounds at `now_ms`. Returns the seq.
    pub fn push(
        &mut self,
        strap: &str,
        rr_ms: &[f64],
        ended_at_ms: i64,
        now_ms: i64,
    ) -> Result<u64, QueueError> {
        let rr = serde_json::to_string(rr_ms).unwrap_or_else(|_| "[]".to_owned());
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction()
            .map_err(|source| QueueError::Sqlite {
                path: path.clone(),
                source,
            })?;
        let seq: i64 = transaction
            .query_row(
                "SELECT next FROM next_seq WHERE strap = ?1",
                params![strap],
                |row| row.get(0),
            )
            .optional()
            .and_then(|found| {
                let seq = found.unwrap_or(0);
                transaction.execute(
                    "INSERT INTO next_seq (strap, next) VALUES (?1, ?2)
                     ON CONFLICT (strap) DO UPDATE SET next = excluded.next",
                    params![strap, seq + 1],
                )?;
                transaction.execute(
                    "INSERT INTO batches (strap, seq, rr, ended_at_ms, queued_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![strap, seq, rr, ended_at_ms, now_ms],
                )?;
                Ok(seq)
            })
            .and_then(|seq| transaction.commit().map(|()| seq))
            .map_err(|source| QueueError::Sqlite { path, source })?;
        self.apply_bounds(now_ms)?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    /// Drops the oldest batches beyond the bounds, with a warning.
    fn apply_bounds(&mut self, now_ms: i64) -> Result<(), QueueError> {
        let max_age_ms = i64::try_from(self.bounds.max_age.as_millis()).unwrap_or(i64::MAX);
        let too_old = self
            .connection
            .execute(
                "DELETE FROM batches WHERE queued_at_ms < ?1",
                params![now_ms.saturating_sub(max_age_ms)],
            )
            .map_err(|error| self.wrap(error))?;
        let count = self.batches()?;
        let mut too_many = 0;
        if count > self.bounds.max_batches {
            let over = count - self.bounds.max_batches;
            too_many = self
                .connection
                .execute(
                    "DELETE FROM batches WHERE id IN (SELECT id FROM batches ORDER BY id LIMIT ?1)",
                    params![i64::try_from(over).unwrap_or(i64::MAX)],
                )
                .map_err(|error| self.wrap(error))?;
        }
        let dropped = u64::try_from(too_old + too_many).unwrap_or(u64::MAX);
        if dropped > 0 {
            self.dropped += dropped;
            tracing::warn!(
                dropped,
                "the relay's queue is over its bounds (--queue-max-batches, --queue-max-age-mins): the oldest beats were dropped unsent; reconnect the relay to the hub"
            );
        }
        Ok(())
    }

    /// Batches waiting.
    pub fn batches(&self) -> Result<u64, QueueError> {
        self.connection
            .query_row("SELECT COUNT(*) FROM batches", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| u64::try_from(count).unwrap_or(0))
            .map_err(|error| self.wrap(error))
    }

    /// Up to `limit` batches after queue position `after`, oldest first.
    pub fn after(&self, after: i64, limit: usize) -> Result<Vec<Queued>, QueueError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, strap, seq, rr, ended_at_ms FROM batches WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(|error| self.wrap(error))?;
        let rows = statement
            .query_map(
                params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    let rr: String = row.get(3)?;
                    Ok(Queued {
                        id: row.get(0)?,
                        strap: row.get(1)?,
                        seq: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        rr_ms: serde_json::from_str(&rr).unwrap_or_default(),
                        ended_at_ms: row.get(4)?,
                    })
                },
            )
            .map_err(|error| self.wrap(error))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|error| self.wrap(error))
    }

    /// The hub is done with these batches (stored, or not wanted): one transaction.
    pub fn remove(&mut self, done: &[(String, u64)]) -> Result<(), QueueError> {
        if done.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let wrap = |source| QueueError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(wrap)?;
        {
            let mut statement = transaction
                .prepare_cached("DELETE FROM batches WHERE strap = ?1 AND seq = ?2")
                .map_err(wrap)?;
            for (strap, seq) in done {
                statement
                    .execute(params![strap, i64::try_from(*seq).unwrap_or(i64::MAX)])
                    .map_err(wrap)?;
            }
        }
        transaction.commit().map_err(wrap)
    }

    /// What the queue holds now, for the relay's output and the hub's console.
    pub fn state(&self, now_ms: i64) -> Result<RelayQueueState, QueueError> {
        let batches = self.batches()?;
        let oldest: Option<i64> = self
            .connection
            .query_row("SELECT MIN(queued_at_ms) FROM batches", [], |row| {
                row.get(0)
            })
            .map_err(|error| self.wrap(error))?;
        let oldest_age_ms = oldest.map(|at| u64::try_from(now_ms - at).unwrap_or(0));
        #[allow(clippy::cast_precision_loss)] // Counts and ages are far below 2^52.
        let near_full = batches as f64 >= WARN_SHARE * self.bounds.max_batches as f64
            || oldest_age_ms.is_some_and(|age| {
                age as f64 >= WARN_SHARE * self.bounds.max_age.as_millis() as f64
            });
        let warning = if self.dropped > 0 {
            Some(format!(
                "{} batches were dropped unsent because the queue was over its bounds; reconnect the relay to the hub",
                self.dropped
            ))
        } else if near_full {
            Some(
                "the queue is near its bounds (--queue-max-batches, --queue-max-age-mins): the oldest beats will be dropped unless the relay reaches the hub".to_owned(),
            )
        } else {
            None
        };
        Ok(RelayQueueState {
            batches,
            oldest_age_ms,
            dropped: self.dropped,
            warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> QueueBounds {
        QueueBounds {
            max_batches: 1000,
            max_age: Duration::from_secs(3600),
        }
    }

    #[test]
    fn seqs_continue_after_a_reopen_and_acked_batches_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut queue = Queue::open(dir.path(), bounds()).unwrap();
        assert_eq!(queue.push("a", &[1000.0], 1, 1).unwrap(), 0);
        assert_eq!(queue.push("a", &[990.0], 2, 2).unwrap(), 1);
        assert_eq!(queue.push("b", &[800.0], 2, 2).unwrap(), 0);
        queue.remove(&[("a".to_owned(), 0)]).unwrap();
        drop(queue);
        let mut queue = Queue::open(dir.path(), bounds()).unwrap();
        assert_eq!(queue.push("a", &[980.0], 3, 3).unwrap(), 2);
        let waiting: Vec<(String, u64)> = queue
            .after(0, 10)
            .unwrap()
            .into_iter()
            .map(|batch| (batch.strap, batch.seq))
            .collect();
        assert_eq!(
            waiting,
            [
                ("a".to_owned(), 1),
                ("b".to_owned(), 0),
                ("a".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn the_oldest_batches_go_over_the_bounds_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let mut queue = Queue::open(
            dir.path(),
            QueueBounds {
                max_batches: 2,
                max_age: Duration::from_secs(10),
            },
        )
        .unwrap();
        for at in 0..3 {
            queue.push("a", &[1000.0], at, at).unwrap();
        }
        let state = queue.state(3).unwrap();
        assert_eq!((state.batches, state.dropped), (2, 1));
        assert!(state.warning.unwrap().contains("dropped unsent"));
        // 10 s later everything queued before is too old.
        queue.push("a", &[1000.0], 20_000, 20_000).unwrap();
        assert_eq!(queue.state(20_000).unwrap().batches, 1);
    }

    #[test]
    fn a_batch_goes_to_the_hub_on_the_hubs_clock() {
        let batch = Queued {
            id: 1,
            strap: "a".to_owned(),
            seq: 4,
            rr_ms: vec![1000.0],
            ended_at_ms: 10_000,
        };
        assert_eq!(batch.to_wire(Some(250.5)).ended_at, Some(10_250.5));
        assert_eq!(batch.to_wire(None).ended_at, None);
    }
}
