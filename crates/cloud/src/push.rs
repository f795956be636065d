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
//! heard of it, only means the next push re-reads the watermark and goes on. A database that
//! stops answering is a cut too: every call has a deadline (`deadline`), so the attempt fails
//! within [`SyncOptions::timeout`] and says so. The local
//! `sync_state` table is never written here: the store's writer thread is the only writer of the
//! hub's database, and the central watermark is the authority anyway.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::pin_mut;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;

use crate::Error;
use crate::deadline::{self, DEFAULT_TIMEOUT, within};
use crate::local::{LocalSource, Value};
use crate::schema::{self, Timescale};
use crate::tables::{TABLES, TableSpec};

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
    /// How long any one call to the central database may take (each statement, each row of a
    /// `COPY`, the commit), and the server's `statement_timeout` and
    /// `idle_in_transaction_session_timeout`. Default [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl SyncOptions {
    pub fn new(database_url: impl Into<String>, database_path: impl Into<PathBuf>) -> Self {
        Self {
            database_url: database_url.into(),
            database_path: database_path.into(),
            batch_rows: DEFAULT_BATCH_ROWS,
            timeout: DEFAULT_TIMEOUT,
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
    let limit = options.timeout;
    let local = LocalSource::open(&options.database_path)?;
    let (hub_id, hub_created_at_ms) = local.hub().await?;
    let (mut client, _connection) = within(
        limit,
        || "connecting".to_owned(),
        crate::connect::connect_guarded(&options.database_url),
    )
    .await?;
    let backend = deadline::limit_session(&client, limit).await?;
    let outcome = push_on(
        &mut client,
        &local,
        hub_id,
        hub_created_at_ms,
        options,
        progress,
    )
    .await;
    if let Err(Error::Timeout { .. }) = &outcome {
        // The server may hold this session's transaction (and the watermark row's lock) for a
        // while yet: ask it to let go, so the next attempt need not wait behind it.
        deadline::abandon(options.database_url.clone(), backend, limit);
    }
    let (timescale, tables, counts) = outcome?;
    Ok(SyncReport {
        hub_id,
        timescale,
        tables,
        counts,
        elapsed: started.elapsed(),
    })
}

/// The push on an open, time-limited session: schema, hub, every table, the count check.
async fn push_on(
    client: &mut Client,
    local: &LocalSource,
    hub_id: uuid::Uuid,
    hub_created_at_ms: i64,
    options: &SyncOptions,
    progress: &mut (dyn FnMut(&TableProgress) + Send),
) -> Result<(Timescale, Vec<TableProgress>, Vec<TableCount>), Error> {
    let limit = options.timeout;
    let timescale = within(
        limit,
        || "migrating the central schema".to_owned(),
        schema::migrate(client),
    )
    .await?;
    register_hub(client, hub_id, hub_created_at_ms, limit).await?;

    let mut tables = Vec::with_capacity(TABLES.len());
    for spec in TABLES.iter() {
        tables.push(push_table(client, local, hub_id, spec, options, progress).await?);
    }
    let counts = verify_counts(client, local, hub_id, limit).await?;
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
    Ok((timescale, tables, counts))
}

/// Counts eligible rows locally and this hub's rows centrally, up to each central watermark,
/// without sending anything. `push` ends with this; `GET /api/hub` can show `pending`.
pub async fn verify(options: &SyncOptions) -> Result<Vec<TableCount>, Error> {
    let limit = options.timeout;
    let local = LocalSource::open(&options.database_path)?;
    let (hub_id, _) = local.hub().await?;
    let (client, _connection) = within(
        limit,
        || "connecting".to_owned(),
        crate::connect::connect_guarded(&options.database_url),
    )
    .await?;
    deadline::limit_session(&client, limit).await?;
    verify_counts(&client, &local, hub_id, limit).await
}

async fn register_hub(
    client: &Client,
    hub_id: uuid::Uuid,
    created_at_ms: i64,
    limit: Duration,
) -> Result<(), Error> {
    within(
        limit,
        || "registering the hub".to_owned(),
        client.execute(
            "INSERT INTO hubs (hub_id, created_at_ms) VALUES ($1, $2) \
             ON CONFLICT (hub_id) DO UPDATE SET last_sync_at = now()",
            &[&hub_id, &created_at_ms],
        ),
    )
    .await?;
    let names: Vec<&str> = TABLES.iter().map(|spec| spec.name).collect();
    within(
        limit,
        || "registering the hub's tables".to_owned(),
        client.execute(
            "INSERT INTO hub_sync_state (hub_id, table_name) SELECT $1, unnest($2::text[]) \
             ON CONFLICT DO NOTHING",
            &[&hub_id, &names],
        ),
    )
    .await?;
    Ok(())
}

async fn push_table(
    client: &mut Client,
    local: &LocalSource,
    hub_id: uuid::Uuid,
    spec: &'static TableSpec,
    options: &SyncOptions,
    progress: &mut (dyn FnMut(&TableProgress) + Send),
) -> Result<TableProgress, Error> {
    let started = Instant::now();
    let limit = options.timeout;
    let table = spec.name;
    let horizon = local.horizon(spec).await?;
    let types = spec.types();
    let mut report = TableProgress {
        table,
        rows: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        done: false,
    };
    loop {
        let transaction = within(
            limit,
            || format!("opening a transaction for {table}"),
            client.transaction(),
        )
        .await?;
        let watermark: i64 = within(
            limit,
            || format!("reading the watermark of {table}"),
            transaction.query_one(
                "SELECT watermark FROM hub_sync_state WHERE hub_id = $1 AND table_name = $2 \
                 FOR UPDATE",
                &[&hub_id, &table],
            ),
        )
        .await?
        .get(0);
        if watermark >= horizon {
            within(
                limit,
                || format!("committing {table}"),
                transaction.commit(),
            )
            .await?;
            break;
        }
        let batch = local
            .read(spec, watermark, horizon, options.batch_rows)
            .await?;
        within(
            limit,
            || format!("creating the staging table of {table}"),
            transaction.batch_execute(&spec.create_staging),
        )
        .await?;
        let sink = within(
            limit,
            || format!("starting the COPY of {table}"),
            transaction.copy_in(&spec.copy_in),
        )
        .await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        let width = spec.columns.len();
        let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(width);
        for values in batch.values.chunks(width) {
            row.clear();
            row.extend(values.iter().map(Value::as_sql));
            within(
                limit,
                || format!("sending rows of {table}"),
                writer.as_mut().write(&row),
            )
            .await?;
        }
        within(
            limit,
            || format!("finishing the COPY of {table}"),
            writer.finish(),
        )
        .await?;
        within(
            limit,
            || format!("inserting the rows of {table}"),
            transaction.execute(&spec.insert, &[&hub_id]),
        )
        .await?;
        for statement in &spec.after_insert {
            within(
                limit,
                || format!("applying erasures to {table}"),
                transaction.execute(statement, &[&hub_id]),
            )
            .await?;
        }
        within(
            limit,
            || format!("moving the watermark of {table}"),
            transaction.execute(
                "UPDATE hub_sync_state SET watermark = $3, updated_at = now() \
                 WHERE hub_id = $1 AND table_name = $2",
                &[&hub_id, &table, &batch.upper],
            ),
        )
        .await?;
        within(
            limit,
            || format!("committing {table}"),
            transaction.commit(),
        )
        .await?;
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
    limit: Duration,
) -> Result<Vec<TableCount>, Error> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for spec in TABLES.iter() {
        let table = spec.name;
        let watermark: i64 = within(
            limit,
            || format!("reading the watermark of {table}"),
            client.query_opt(
                "SELECT watermark FROM hub_sync_state WHERE hub_id = $1 AND table_name = $2",
                &[&hub_id, &table],
            ),
        )
        .await?
        .map_or(0, |row| row.get(0));
        let central: i64 = within(
            limit,
            || format!("counting the central rows of {table}"),
            client.query_one(
                &format!("SELECT count(*) FROM {table} WHERE hub_id = $1"),
                &[&hub_id],
            ),
        )
        .await?
        .get(0);
        let (local_rows, all_rows) = local.count(spec, watermark).await?;
        counts.push(TableCount {
            table,
            local: local_rows,
            central: u64::try_from(central).unwrap_or(0),
            pending: all_rows.saturating_sub(local_rows),
            watermark,
        });
    }
    Ok(counts)
}
