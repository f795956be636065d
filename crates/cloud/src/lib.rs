//! Sync Hub's central database: pushing a hub's consented sessions to PostgreSQL (TimescaleDB
//! when available) and pulling research data out of it.
//!
//! # Roles
//!
//! - [`push`]: one sync of a hub's local store (read-only SQLite connection) to the central
//!   database: per table, in dependency order, batches of rows after the central watermark go
//!   through binary `COPY` into a staging table and `INSERT … ON CONFLICT DO NOTHING`, and the
//!   watermark advances in the same transaction. Ends with a count check. [`watch`] repeats it
//!   with backoff for the hub's background sync. The tables and every statement about them come
//!   from the store's catalogue (`synchub_store::catalogue`).
//! - [`migrate`]: the central schema from `migrations/postgres/`, then the guarded TimescaleDB
//!   step (see the `schema` module).
//! - [`research_export`]: the researcher's pull from the `research.*` views (the session
//!   summaries of `research.session_summary` among them), as CSV, JSON or Parquet (written by
//!   the store's `TableFile`, like the hub's own export) with a `manifest.json` of counts and
//!   checksums.
//!
//! # Why `tokio-postgres`
//!
//! `sqlx` cannot share a dependency graph with `rusqlite`: both link SQLite (`links = "sqlite3"`
//! through `libsqlite3-sys`) and Cargo allows only one such crate per build, at one version,
//! even when the SQLite side of `sqlx` is unused. `tokio-postgres` has no such conflict, speaks
//! binary `COPY` (the fast path for a million beats) and is what `refinery` drives for the
//! migrations. TLS goes through `tokio-postgres-rustls` (rustls with the `ring` provider; the
//! Mozilla roots, the operating system's store or an `sslrootcert=` file): no OpenSSL. The
//! `tls` module reads libpq's `sslmode`/`sslrootcert` and refuses plain text to another
//! computer unless the URL says `sslmode=disable`.
//!
//! # Invariants
//!
//! - **Only consented participants' rows leave the hub.** Sessions, phases, group snapshots and
//!   synchrony rounds carry no personal data; participants, beats and metrics travel only when the
//!   participant consented to research, synchrony pairs only when both did.
//! - **No gaps, no duplicates.** Rows are keyed centrally by (hub id, local id); the watermark
//!   moves only in the transaction that stored the rows below it.
//! - **A running session stays on the hub** until it ends (its rows still change).
//! - **The hub's database is only read.** Erasure tombstones are read from `erasures` and applied
//!   centrally; nothing here writes SQLite.
//!
//! # Example
//!
//! ```no_run
//! # async fn sync() -> Result<(), synchub_cloud::Error> {
//! let data_dir = synchub_store::DataDir::new("/var/lib/synchub");
//! let options = synchub_cloud::SyncOptions::new(
//!     "postgres://sync@db.example.org/synchub?sslmode=require",
//!     data_dir.database_path(),
//! );
//! let report = synchub_cloud::push(&options, &mut |table| {
//!     tracing::info!(table = table.table, rows = table.rows, "pushed");
//! })
//! .await?;
//! assert!(report.counts.iter().all(|count| count.local == count.central));
//! # Ok(())
//! # }
//! ```

mod connect;
mod deadline;
mod export;
mod local;
mod push;
mod schema;
mod tables;
mod tls;
mod watch;

pub use connect::{connect, redacted_url};
pub use deadline::DEFAULT_TIMEOUT;
pub use export::{
    ExportedFile, RESEARCH_VIEWS, ResearchExportReport, ResearchExportRequest, ResearchFormat,
    research_export,
};
pub use push::{
    DEFAULT_BATCH_ROWS, SyncOptions, SyncReport, TableCount, TableProgress, push, verify,
};
pub use schema::{Timescale, migrate};
pub use tables::table_names;
pub use tls::{SslMode, TlsError, check_database_url};
pub use watch::{SyncStatus, watch};

use std::path::PathBuf;

/// Everything that can go wrong while syncing or exporting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid database URL: {source}")]
    DatabaseUrl { source: tokio_postgres::Error },
    #[error("central database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migrating the central database: {0}")]
    Migration(#[from] refinery::Error),
    /// TLS to the central database was not possible; the message says what to change.
    #[error(transparent)]
    CentralTls(#[from] TlsError),
    #[error("reading the local store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("local store: {0}")]
    LocalStore(String),
    #[error("a local read was cancelled: {0}")]
    Blocking(#[from] tokio::task::JoinError),
    #[error("local and central counts disagree after sync: {0}")]
    Verification(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing an export file (the store's table-file writer); names the file.
    #[error(transparent)]
    ExportFile(#[from] synchub_store::Error),
    #[error("writing the export: {0}")]
    Export(String),
    /// A call to the central database ran out of time (client side, or the server's own
    /// `statement_timeout`): the database or the network stopped answering.
    #[error(
        "the central database did not answer within {limit:?} while {what}; nothing of this attempt was kept, and the next one resumes where the last committed batch ended"
    )]
    Timeout {
        what: String,
        limit: std::time::Duration,
    },
}
