//! The push's local side: the hub's SQLite file read-only, from blocking tasks, in windows of
//! rows after a watermark, as the values of binary `COPY`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio_postgres::types::ToSql;

use crate::Error;
use crate::tables::{Kind, TableSpec};

/// One staging value. Borrowed as `&dyn ToSql` for binary `COPY`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

impl Value {
    pub(crate) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Int(value) => value,
            Self::Float(value) => value,
            Self::Text(value) => value,
        }
    }

    /// Its size in the binary `COPY` stream: a 4-byte length, then the value.
    fn copy_bytes(&self) -> u64 {
        4 + match self {
            Self::Int(Some(_)) | Self::Float(Some(_)) => 8,
            Self::Text(Some(text)) => text.len() as u64,
            Self::Int(None) | Self::Float(None) | Self::Text(None) => 0,
        }
    }
}

/// One window of local rows, flattened row after row.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) values: Vec<Value>,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    /// The watermark once this batch is central.
    pub(crate) upper: i64,
}

/// The hub's SQLite database, read-only, used from blocking tasks so that the async runtime never
/// waits on SQLite.
#[derive(Debug, Clone)]
pub(crate) struct LocalSource {
    connection: Arc<Mutex<Connection>>,
}

impl LocalSource {
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        if !path.exists() {
            return Err(Error::LocalStore(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // WAL: reading never blocks the hub's writer; wait for a checkpoint rather than fail.
        connection.busy_timeout(Duration::from_secs(10))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let connection = connection
                .lock()
                .map_err(|_| Error::LocalStore("a local read panicked".to_owned()))?;
            work(&connection)
        })
        .await?
    }

    pub(crate) async fn hub(&self) -> Result<(uuid::Uuid, i64), Error> {
        self.run(|connection| {
            let row: Option<(String, i64)> = connection
                .query_row(
                    "SELECT hub_id, created_at_ms FROM hub ORDER BY id LIMIT 1",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let (hub_id, created_at_ms) =
                row.ok_or_else(|| Error::LocalStore("the store has no hub row".to_owned()))?;
            let hub_id = hub_id
                .parse()
                .map_err(|_| Error::LocalStore(format!("malformed hub id {hub_id:?}")))?;
            Ok((hub_id, created_at_ms))
        })
        .await
    }

    /// The highest id that may be pushed now: below the first row of a running session.
    pub(crate) async fn horizon(&self, spec: &'static TableSpec) -> Result<i64, Error> {
        self.run(move |connection| {
            let max_id: Option<i64> =
                connection.query_row(&format!("SELECT max(id) FROM {}", spec.name), [], |row| {
                    row.get(0)
                })?;
            let running: Option<i64> = match &spec.running_min_id {
                Some(sql) => connection.query_row(sql, [], |row| row.get(0))?,
                None => None,
            };
            Ok(running.map_or(max_id.unwrap_or(0), |first_running| first_running - 1))
        })
        .await
    }

    /// The eligible rows of `(watermark, upper]`, where `upper` is at most `horizon` and spans at
    /// most `batch_rows` ids starting at the first id after the watermark (ids left by deleted
    /// rows are skipped, not read).
    pub(crate) async fn read(
        &self,
        spec: &'static TableSpec,
        watermark: i64,
        horizon: i64,
        batch_rows: usize,
    ) -> Result<Batch, Error> {
        let span = i64::try_from(batch_rows.max(1)).unwrap_or(i64::MAX);
        self.run(move |connection| {
            let first: Option<i64> = connection.query_row(
                &format!("SELECT min(id) FROM {} WHERE id > ?1", spec.name),
                [watermark],
                |row| row.get(0),
            )?;
            let upper = match first {
                Some(first) if first <= horizon => horizon.min(first.saturating_add(span - 1)),
                _ => horizon,
            };
            let mut statement = connection.prepare_cached(&spec.local_select)?;
            let mut rows = statement.query([watermark, upper])?;
            let mut batch = Batch {
                values: Vec::new(),
                rows: 0,
                bytes: 0,
                upper,
            };
            while let Some(row) = rows.next()? {
                for (index, (_, kind)) in spec.columns.iter().enumerate() {
                    let value = match kind {
                        Kind::Int => Value::Int(row.get(index)?),
                        Kind::Float => Value::Float(row.get(index)?),
                        Kind::Text => Value::Text(row.get(index)?),
                    };
                    batch.bytes += value.copy_bytes();
                    batch.values.push(value);
                }
                batch.bytes += 2;
                batch.rows += 1;
            }
            Ok(batch)
        })
        .await
    }

    /// (eligible rows with id <= watermark, all eligible rows).
    pub(crate) async fn count(
        &self,
        spec: &'static TableSpec,
        watermark: i64,
    ) -> Result<(u64, u64), Error> {
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(&spec.local_count)?;
            let below: i64 = statement.query_row([watermark], |row| row.get(0))?;
            let all: i64 = statement.query_row([i64::MAX], |row| row.get(0))?;
            Ok((
                u64::try_from(below).unwrap_or(0),
                u64::try_from(all).unwrap_or(0),
            ))
        })
        .await
    }
}
