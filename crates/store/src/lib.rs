//! Sync Hub's local store: the SQLite database that makes a session survive a crash and that
//! research data is made of.
//!
//! # Roles
//!
//! - [`DataDir`]: where the database and the hub's secrets live (hub id, [`OrgSecret`] for
//!   pseudonyms, [`AdminToken`]).
//! - [`Store::open`]: applies the SQL migrations under `migrations/sqlite/`, finds the session a
//!   crash interrupted ([`Store::recovered`], whose `restored` field is the engine's
//!   `RestoredSession`, ready for `Engine::restore`) and starts the writer thread.
//! - [`WriterHandle`]: feeds the engine's [`Record`]s to the writer thread; `try_send` reports a
//!   full queue instead of dropping. After each commit a [`CommitReport`] lists the durable beat
//!   batches, which the hub turns into `rr_ack`.
//! - [`StoreHealth`]: whether the writer can write right now and why not (disk full,
//!   read-only, locked, I/O error), for the hub's health, console and metrics.
//! - [`Reader`]: read-only queries for the API on its own connection (WAL: readers never block
//!   the writer).
//! - [`Store::export`] / [`Store::export_participant`]: research export (CSV, JSON, Parquet and
//!   plain RR files) and a participant's own data; [`Store::erase_participant`]: the right to
//!   erasure, with a tombstone for central sync.
//! - [`Store::save_session_report`]: a session's report (built by `synchub-report` from its
//!   consented participants) kept in `session_reports` for central sync and the export;
//!   [`Reader::sessions_without_report`] says which ended sessions still need one.
//! - [`repair`]: `synchub store check|recover`: the integrity check, and a new database from
//!   what a damaged one still holds (the damaged file is moved aside, never deleted).
//! - [`catalogue`]: every table the export writes or central sync pushes, with its columns, key,
//!   owner and consent rule; the export and `synchub-cloud` build their statements from it.
//! - [`TableFile`]: the one writer of CSV, JSON and Parquet table files, used by the export here
//!   and by `synchub-cloud`'s research export.
//! - [`private_files`]: secrets and settings written whole or not at all (temporary file,
//!   fsync, rename) and readable by the owner only; the data directory 0700 and the database
//!   files 0600 whatever they were before.
//!
//! # Invariants
//!
//! - **The only writer is the writer thread.** Every write, maintenance included, travels
//!   through its channel; nothing else holds a writable connection while the store is open.
//! - **No raw ids reach disk.** The store receives people only as pseudonyms
//!   (`OrgSecret::pseudonym`, computed by the hub before the engine sees anyone); no table has
//!   a column for a user id, a name, a note or an address, and the store logs no pseudonyms.
//! - **A write failure loses nothing.** The writer keeps a failed transaction's records and
//!   replays them, in order, until a commit succeeds (`writer/retry.rs`).
//! - **An acknowledged beat is on disk.** A batch appears in [`CommitReport::durable`] only after
//!   its transaction committed with `synchronous=FULL`; a batch is stored whole or not at all.
//! - Row ids only grow (`AUTOINCREMENT`), so central sync can use them as watermarks.
//!
//! # Example
//!
//! ```
//! use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
//! use synchub_session::record::{
//!     BeatBatch, DeviceKind, ParticipantRow, Record, ScheduleMode, SessionRow, StoredBeat,
//! };
//! use synchub_store::{DataDir, Store, WriterConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let data_dir = DataDir::new(dir.path());
//! let secret = data_dir.org_secret()?;
//! let store = Store::open(&data_dir, WriterConfig::default())?;
//! assert!(store.recovered().is_none());
//!
//! let session_id = SessionId(uuid::Uuid::now_v7());
//! let participant_id = ParticipantId(uuid::Uuid::now_v7());
//! let writer = store.writer();
//! writer.try_send(Record::SessionOpened(SessionRow {
//!     session_id,
//!     mode: ScheduleMode::Manual,
//!     slot_start_ms: None,
//!     started_at_ms: 1_700_000_000_000,
//!     preparation_secs: 60,
//!     active_secs: 600,
//!     integration_secs: 120,
//!     planned_end_ms: 1_700_000_780_000,
//! }))?;
//! writer.try_send(Record::ParticipantJoined(ParticipantRow {
//!     session_id,
//!     participant_id,
//!     pseudonym: secret.pseudonym("user-42"),
//!     intention: None,
//!     research_consent: true,
//!     device: DeviceKind::Ble,
//!     joined_at_ms: 1_700_000_001_000,
//!     resume_token: ResumeToken([7; 16]),
//! }))?;
//! writer.try_send(Record::Beats(BeatBatch {
//!     session_id,
//!     participant_id,
//!     seq: Some(1),
//!     beats: vec![StoredBeat { time_ms: 1_700_000_002_000.0, rr_ms: 850.0, artifact: false }],
//! }))?;
//!
//! // Once committed, the batch is reported durable: the hub sends `rr_ack` for seq 1.
//! let durable: Vec<_> = store.commits().iter().flat_map(|report| report.durable).take(1).collect();
//! assert_eq!(durable[0].seq, 1);
//! assert_eq!(store.reader()?.participants(session_id)?.len(), 1);
//! store.shutdown()?;
//! # Ok(())
//! # }
//! ```

pub mod catalogue;
mod codes;
mod data_dir;
mod disk;
mod export;
mod health;
pub mod private_files;
mod reader;
mod recovery;
pub mod repair;
mod report_token;
mod schema;
mod session_reports;
mod store;
mod table_file;
mod writer;

pub use data_dir::{AdminToken, DATA_DIR_ENV, DataDir, ORG_SECRET_ENV, OrgSecret};
pub use disk::{DiskSpace, disk_space};
pub use export::{ExportFormat, ExportProgress, ExportReport, ExportRequest};
pub use health::{StoreFault, StoreFaultKind, StoreHealth, StoreStatus};
pub use reader::{
    ParticipantOverview, PhaseSpan, Reader, ResearchStats, SessionDetail, SessionOverview,
};
pub use recovery::RecoveredSession;
pub use report_token::REPORT_TOKEN_LIFETIME_MS;
pub use schema::applied_migrations;
pub use session_reports::{ChangeSummary, SavedReport, SessionReportRow};
pub use store::Store;
pub use table_file::{FileColumn, FileKind, FileValue, TableFile};
pub use writer::{
    CommitReport, DurableBatch, ErasureReport, STOP_GRACE, SendError, WriterConfig, WriterHandle,
};

/// The engine's records, re-exported so callers name one crate.
pub use synchub_session::record::Record;

use std::path::PathBuf;

use synchub_session::ids::{ParticipantId, SessionId};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migrating the database: {0}")]
    Migration(#[from] refinery::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {what}", path.display())]
    Corrupt { path: PathBuf, what: &'static str },
    #[error("a stored row is malformed: {0}")]
    CorruptRow(&'static str),
    #[error("the organisation secret must be 64 hex characters")]
    InvalidOrgSecret,
    #[error("no home directory to put the default data directory in; pass --data-dir")]
    NoHomeDirectory,
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("unknown session {0}")]
    UnknownSession(SessionId),
    #[error("unknown participant {0}")]
    UnknownParticipant(ParticipantId),
    #[error("the store's writer has stopped")]
    WriterStopped,
    #[error("writing the export: {0}")]
    Export(String),
}

impl Error {
    /// The database file is damaged (`synchub store check` / `recover`).
    pub fn is_corrupt(&self) -> bool {
        health::storage_fault(self) == Some(StoreFaultKind::Corrupt)
    }
}
