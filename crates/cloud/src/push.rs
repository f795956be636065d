//! Push: the hub's consented rows to the central database, resumable at any point.
//!
//! Per table, in dependency order, and per batch, one central transaction:
//!
//! 1. read this hub's watermark from `hub_sync_state` with `FOR UPDATE` (two pushes of the same
//!    hub queue behind each other instead of interleaving);
//! 2. read the local rows with `watermark < id <= upper` that may leave the hub (consent);
//! 3. binary `COPY` them into a temporary staging table;
//! 4. `INSERT … SELECT … ON CONFLICT DO NOTHING` into the central table (plus the erasure deletes
//!    for tombstones);
//! 5. set the watermark to `upper`; commit.
//!
//! A cut anywhere before the commit leaves nothing behind; a cut after it, before the client
//! heard of it, only means the next push re-reads the watermark and goes on. The local
//! `sync_state` table is never written here: the store's writer thread is the only writer of the
//! hub's database, and the central watermark is the authority anyway.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::pin_mut;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;

use crate::Error;
use crate::schema::{self, Timescale};
use crate::tables::{Kind, TABLES, TableSpec};

/// Rows per batch (and per central transaction) unless told otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 50_000;

/// What to push where.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// `postgres://…` (libpq syntax; `sslmode=require` for a remote database).
    pub database_url: String,
    /// The hub's SQLite file (`DataDir::database_path`). Opened read-only.
    pub database_path: PathBuf,
    /// Rows per batch and central transaction.
    pub batch_rows: usize,
}

impl SyncOptions {
    pub fn new(database_url: impl Into<String>, database_path: impl Into<PathBuf>) -> Self {
        Self {
            database_url: database_url.into(),
            database_path: database_path.into(),
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// Progress of one table, reported after each committed batch and once when the table is done.
#[derive(Debug, Clone, PartialEq)]
pub struct TableProgress {
    pub table: &'static str,
    /// Rows sent so far in this push.
    pub rows: u64,
    /// Bytes of binary `COPY` payload sent so far in this push.
    pub bytes: u64,
    pub elapsed: Duration,
    /// True on the table's last report.
    pub done: bool,
}

impl TableProgress {
    pub fn rows_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        }
    }
}

/// Local and central row counts of one table for this hub, up to the central watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    /// Rows below the watermark that may leave the hub.
    pub local: u64,
    /// This hub's rows in the central table.
    pub central: u64,
    /// Eligible local rows above the watermark: a running session's, or newer than this push.
    pub pending: u64,
    pub watermark: i64,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub hub_id: uuid::Uuid,
    pub timescale: Timescale,
    /// The last progress report of each table.
    pub tables: Vec<TableProgress>,
    /// The final verification, one entry per table (all agree, or the push returned an error).
    pub counts: Vec<TableCount>,
    pub elapsed: Duration,
}

impl SyncReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|table| table.bytes).sum()
    }

    pub fn pending_rows(&self) -> u64 {
        self.counts.iter().map(|count| count.pending).sum()
    }
}

/// Pushes every table once: migrates the central schema if needed, sends all settled rows after
/// the central watermarks, then verifies that local and central counts agree for this hub.
/// `progress` is called after every batch (the CLI prints it to stderr).
///
/// Fails with [`Error::Verification`] when a count disagrees; every other error leaves the
/// central database consistent and the next push resumes where this one stopped.
pub async fn push(
    options: &SyncOptions,
    progress: &mut (dyn FnMut(&TableProgress) + Send),
) -> Result<SyncReport, Error> {
    let started = Instant::now();
    let local = LocalSource::open(&options.database_path)?;
    let (hub_id, hub_created_at_ms) = local.hub().await?;
    let mut client = crate::connect(&options.database_url).await?;
    let timescale = schema::migrate(&mut client).await?;
    register_hub(&client, hub_id, hub_created_at_ms).await?;

    let mut tables = Vec::with_capacity(TABLES.len());
    for spec in TABLES.iter() {
        tables.push(
            push_table(
                &mut client,
                &local,
                hub_id,
                spec,
                options.batch_rows,
                progress,
            )
            .await?,
        );
    }
    let counts = verify_counts(&client, &local, hub_id).await?;
    let disagreeing: Vec<String> = counts
        .iter()
        .filter(|count| count.local != count.central)
        .map(|count| {
            format!(
                "{}: {} local, {} central",
                count.table, count.local, count.central
            )
        })
        .collect();
    if !disagreeing.is_empty() {
        return Err(Error::Verification(disagreeing.join("; ")));
    }
    Ok(SyncReport {
        hub_id,
        timescale,
        tables,
        counts,
        elapsed: started.elapsed(),
    })
}

/// Counts eligible rows locally and this hub's rows centrally, up to each central watermark,
/// without sending anything. `push` ends with this; `GET /api/hub` can show `pending`.
pub async fn verify(options: &SyncOptions) -> Result<Vec<TableCount>, Error> {
    let local = LocalSource::open(&options.database_path)?;
    let (hub_id, _) = local.hub().await?;
    let client = crate::connect(&options.database_url).await?;
    verify_counts(&client, &local, hub_id).await
}

async fn register_hub(
    client: &Client,
    hub_id: uuid::Uuid,
    created_at_ms: i64,
) -> Result<(), Error> {
    client
        .execute(
            "INSERT INTO hubs (hub_id, created_at_ms) VALUES ($1, $2) \
             ON CONFLICT (hub_id) DO UPDATE SET last_sync_at = now()",
            &[&hub_id, &created_at_ms],
        )
        .await?;
    let names: Vec<&str> = TABLES.iter().map(|spec| spec.name).collect();
    client
        .execute(
            "INSERT INTO hub_sync_state (hub_id, table_name) SELECT $1, unnest($2::text[]) \
             ON CONFLICT DO NOTHING",
            &[&hub_id, &names],
        )
        .await?;
    Ok(())
}

async fn push_table(
    client: &mut Client,
    local: &LocalSource,
    hub_id: uuid::Uuid,
    spec: &'static TableSpec,
    batch_rows: usize,
    progress: &mut (dyn FnMut(&TableProgress) + Send),
) -> Result<TableProgress, Error> {
    let started = Instant::now();
    let horizon = local.horizon(spec).await?;
    let types = spec.types();
    let mut report = TableProgress {
        table: spec.name,
        rows: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        done: false,
    };
    loop {
        let transaction = client.transaction().await?;
        let watermark: i64 = transaction
            .query_one(
                "SELECT watermark FROM hub_sync_state WHERE hub_id = $1 AND table_name = $2 \
                 FOR UPDATE",
                &[&hub_id, &spec.name],
            )
            .await?
            .get(0);
        if watermark >= horizon {
            transaction.commit().await?;
            break;
        }
        let batch = local.read(spec, watermark, horizon, batch_rows).await?;
        transaction.batch_execute(&spec.create_staging).await?;
        let sink = transaction.copy_in(&spec.copy_in).await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        let width = spec.columns.len();
        let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(width);
        for values in batch.values.chunks(width) {
            row.clear();
            row.extend(values.iter().map(Value::as_sql));
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;
        transaction.execute(&spec.insert, &[&hub_id]).await?;
        for statement in &spec.after_insert {
            transaction.execute(statement, &[&hub_id]).await?;
        }
        transaction
            .execute(
                "UPDATE hub_sync_state SET watermark = $3, updated_at = now() \
                 WHERE hub_id = $1 AND table_name = $2",
                &[&hub_id, &spec.name, &batch.upper],
            )
            .await?;
        transaction.commit().await?;
        report.rows += batch.rows;
        report.bytes += batch.bytes;
        report.elapsed = started.elapsed();
        progress(&report);
    }
    report.elapsed = started.elapsed();
    report.done = true;
    progress(&report);
    Ok(report)
}

async fn verify_counts(
    client: &Client,
    local: &LocalSource,
    hub_id: uuid::Uuid,
) -> Result<Vec<TableCount>, Error> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for spec in TABLES.iter() {
        let watermark: i64 = client
            .query_opt(
                "SELECT watermark FROM hub_sync_state WHERE hub_id = $1 AND table_name = $2",
                &[&hub_id, &spec.name],
            )
            .await?
            .map_or(0, |row| row.get(0));
        let central: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {} WHERE hub_id = $1", spec.name),
                &[&hub_id],
            )
            .await?
            .get(0);
        let (local_rows, all_rows) = local.count(spec, watermark).await?;
        counts.push(TableCount {
            table: spec.name,
            local: local_rows,
            central: u64::try_from(central).unwrap_or(0),
            pending: all_rows.saturating_sub(local_rows),
            watermark,
        });
    }
    Ok(counts)
}

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

/// One staging value. Borrowed as `&dyn ToSql` for binary `COPY`.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
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
struct Batch {
    values: Vec<Value>,
    rows: u64,
    bytes: u64,
    /// The watermark once this batch is central.
    upper: i64,
}

/// The hub's SQLite database, read-only, used from blocking tasks so that the async runtime never
/// waits on SQLite.
#[derive(Debug, Clone)]
struct LocalSource {
    connection: Arc<Mutex<Connection>>,
}

impl LocalSource {
    fn open(path: &Path) -> Result<Self, Error> {
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

    async fn hub(&self) -> Result<(uuid::Uuid, i64), Error> {
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
    async fn horizon(&self, spec: &'static TableSpec) -> Result<i64, Error> {
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
    async fn read(
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
    async fn count(&self, spec: &'static TableSpec, watermark: i64) -> Result<(u64, u64), Error> {
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
