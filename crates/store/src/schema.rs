//! Opening the database: pragmas and migrations.
//!
//! The schema is plain SQL under `migrations/sqlite/` at the repository root, embedded at build
//! time and applied by `refinery` when the store opens, so a hub upgraded in place migrates its
//! own database. Every connection gets the same pragmas: WAL (readers never block the writer),
//! foreign keys on (erasure relies on `ON DELETE CASCADE`), and a busy timeout so that a second
//! process (the CLI export while a hub runs) waits for the lock instead of failing.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::Error;

mod embedded {
    refinery::embed_migrations!("../../migrations/sqlite");
}

/// How long a reader waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the writer waits for another process's write lock before it reports the store as
/// locked and retries the transaction: short, so the facilitator hears of a second program
/// holding the database within seconds, and the engine's queue does not grow behind one wait.
pub(crate) const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens (creating if needed) the database for writing and brings its schema up to date.
/// Applying migrations is idempotent: already applied ones are skipped.
pub(crate) fn open_for_writing(path: &Path) -> Result<Connection, Error> {
    let mut connection = Connection::open(path)?;
    configure_writer(&connection)?;
    // Start-up may wait the readers' longer time for a lock; the running writer waits less.
    connection.busy_timeout(BUSY_TIMEOUT)?;
    embedded::migrations::runner().run(&mut connection)?;
    connection.busy_timeout(WRITER_BUSY_TIMEOUT)?;
    Ok(connection)
}

/// Opens the already migrated database for writing, as the writer does after a write failure
/// (it closes its files meanwhile, so a disk can be remounted or replaced).
pub(crate) fn reopen_for_writing(path: &Path) -> Result<Connection, Error> {
    // Without CREATE: a data directory that went away must not come back as an empty database.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure_writer(&connection)?;
    Ok(connection)
}

fn configure_writer(connection: &Connection) -> Result<(), Error> {
    configure(connection)?;
    connection.busy_timeout(WRITER_BUSY_TIMEOUT)?;
    // An acknowledged beat must survive a power cut, not only a crash of the process: with
    // `synchronous=FULL` each commit fsyncs the WAL. The writer commits a few dozen times a
    // second at most, so this costs little (see benches/ingest.rs); `NORMAL` would survive a
    // process crash but could lose the last commits on power loss after `rr_ack` was sent.
    connection.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Opens the database read-only (it must exist and be migrated).
pub(crate) fn open_for_reading(path: &Path) -> Result<Connection, Error> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "foreign_keys", true)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), Error> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Unsupported(
            "the database does not accept WAL journaling",
        ));
    }
    connection.pragma_update(None, "foreign_keys", true)?;
    // Checkpoint policy: SQLite checkpoints (PASSIVE, in the committing writer) once the WAL
    // passes 1000 pages (~4 MiB), and truncates a WAL that grew past 64 MiB during a burst back
    // to that size afterwards, so the file does not keep its peak size for ever.
    connection.pragma_update(None, "wal_autocheckpoint", 1000)?;
    connection.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// The names of the migrations applied to the database at `path`, oldest first.
pub fn applied_migrations(path: &Path) -> Result<Vec<String>, Error> {
    let connection = open_for_reading(path)?;
    let mut statement =
        connection.prepare("SELECT name FROM refinery_schema_history ORDER BY version")?;
    let names = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}
