//! `synchub store check` and `synchub store recover`: what to do with a damaged database
//! (a disk that failed, a copy cut short) instead of a hub that only refuses to start.
//!
//! [`check`] runs SQLite's `PRAGMA integrity_check` on a read-only connection. [`recover`]
//! moves the damaged file (and its `-wal`/`-shm`) aside, never deleting it, creates a fresh
//! database with the current schema, and copies every row that can still be read, table by
//! table in the schema's order (parents before children), each copy in a transaction of its
//! own. A table that cannot be read in one
//! pass is read in rowid ranges that halve around the damage, so only the unreadable rows are
//! lost; rows whose parent was lost are then removed (`PRAGMA foreign_key_check`), so the new
//! database is consistent. SQLite's own recovery extension is not part of the bundled build,
//! hence this row-level salvage.
//!
//! Both run with the hub stopped: `recover` is a writer, and the single-writer rule holds.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::{DataDir, Error, schema};

/// Lines of `PRAGMA integrity_check` kept in a report.
const MAX_PROBLEMS: usize = 20;

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub database: PathBuf,
    /// `PRAGMA integrity_check` said `ok`.
    pub ok: bool,
    /// What SQLite found (at most 20 lines), or why the file could not be read at all.
    pub problems: Vec<String>,
}

/// What [`recover`] kept of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSalvage {
    pub table: String,
    /// Rows copied into the new database.
    pub rows_kept: u64,
    /// Rows that could not be read, or whose parent row was lost.
    pub rows_lost: u64,
}

/// The outcome of [`recover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverReport {
    /// Where the damaged database now is (with `-wal`/`-shm` beside it when they existed).
    pub moved_to: PathBuf,
    pub tables: Vec<TableSalvage>,
}

/// Checks the database in `data_dir` without changing it.
pub fn check(data_dir: &DataDir) -> Result<CheckReport, Error> {
    let database = data_dir.database_path();
    if !database.exists() {
        return Err(Error::Io {
            path: database,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database here"),
        });
    }
    let problems = match integrity_problems(&database) {
        Ok(problems) => problems,
        Err(error) => vec![format!("SQLite could not finish the check: {error}")],
    };
    Ok(CheckReport {
        ok: problems.is_empty(),
        problems,
        database,
    })
}

fn integrity_problems(database: &Path) -> Result<Vec<String>, Error> {
    let connection = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut statement = connection.prepare(&format!("PRAGMA integrity_check({MAX_PROBLEMS})"))?;
    let lines = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if lines == ["ok"] { Vec::new() } else { lines })
}

/// Moves the database in `data_dir` aside and builds a new one from what can be read.
pub fn recover(data_dir: &DataDir, now_ms: i64) -> Result<RecoverReport, Error> {
    let database = data_dir.database_path();
    let moved_to = database.with_extension(format!("sqlite3.damaged-{now_ms}"));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", database.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{suffix}", moved_to.display()));
            std::fs::rename(&from, &to).map_err(|source| Error::Io { path: from, source })?;
        }
    }
    let fresh = schema::open_for_writing(&database)?;
    // Orphans are removed below, after every table is copied. Each copy runs in its own
    // (autocommit) transaction: after SQLite meets a damaged page, reads of that file fail
    // until the reading transaction ends, so one long transaction would lose every table after
    // the first damaged one. Durability is restored at the end.
    fresh.pragma_update(None, "foreign_keys", false)?;
    fresh.pragma_update(None, "synchronous", "OFF")?;
    let damaged = moved_to.display().to_string();
    fresh.execute("ATTACH DATABASE ?1 AS damaged", [&damaged])?;
    let tables = tables_in_order(&fresh)?;
    let mut salvage = Vec::new();
    for table in tables {
        let Some(columns) = shared_columns(&fresh, &table) else {
            continue;
        };
        let (kept, lost) = copy_table(&fresh, &table, &columns);
        salvage.push(TableSalvage {
            table,
            rows_kept: kept,
            rows_lost: lost,
        });
    }
    fresh.execute("DETACH DATABASE damaged", [])?;
    remove_orphans(&fresh, &mut salvage)?;
    fresh.pragma_update(None, "foreign_keys", true)?;
    fresh.pragma_update(None, "synchronous", "FULL")?;
    fresh.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(RecoverReport {
        moved_to,
        tables: salvage,
    })
}

/// The new database's tables in creation order (parents first), without SQLite's own and the
/// migration history (the fresh database has its own).
fn tables_in_order(connection: &Connection) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history' ORDER BY rowid",
    )?;
    let names = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// The columns `table` has in both databases; `None` when the damaged one lacks the table or
/// its schema cannot be read.
fn shared_columns(connection: &Connection, table: &str) -> Option<Vec<String>> {
    let columns = |schema: &str| -> Option<Vec<String>> {
        let mut statement = connection
            .prepare(&format!("PRAGMA {schema}.table_info(\"{table}\")"))
            .ok()?;
        statement
            .query_map([], |row| row.get::<_, String>(1))
            .ok()?
            .collect::<Result<Vec<_>, _>>()
            .ok()
    };
    let fresh = columns("main")?;
    let old = columns("damaged")?;
    let shared: Vec<String> = fresh.into_iter().filter(|c| old.contains(c)).collect();
    (!shared.is_empty()).then_some(shared)
}

/// Copies what can be read of `table`; (rows kept, rows lost).
fn copy_table(connection: &Connection, table: &str, columns: &[String]) -> (u64, u64) {
    let list = columns
        .iter()
        .map(|column| format!("\"{column}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let copy = format!(
        "INSERT OR IGNORE INTO main.\"{table}\" ({list}) SELECT {list} FROM damaged.\"{table}\""
    );
    // One statement is atomic: a copy that meets a damaged page inserts nothing.
    let run = |sql: &str| -> Result<u64, rusqlite::Error> {
        connection.execute(sql, []).map(|rows| rows as u64)
    };
    if let Ok(rows) = run(&copy) {
        return (rows, 0);
    }
    // The table is damaged somewhere: copy it in rowid ranges, halving the ranges that fail.
    let highest: i64 = connection
        .query_row(
            "SELECT seq FROM damaged.sqlite_sequence WHERE name = ?1",
            [table],
            |row| row.get(0),
        )
        .or_else(|_| {
            connection.query_row(
                &format!("SELECT max(rowid) FROM damaged.\"{table}\""),
                [],
                |row| row.get(0),
            )
        })
        .unwrap_or(0);
    let mut kept = 0;
    let mut lost = 0;
    let mut ranges = vec![(1_i64, highest.max(1))];
    while let Some((low, high)) = ranges.pop() {
        let sql = format!("{copy} WHERE rowid BETWEEN {low} AND {high}");
        match run(&sql) {
            Ok(rows) => kept += rows,
            Err(_) if low == high => lost += 1,
            Err(_) => {
                let middle = low + (high - low) / 2;
                ranges.push((middle + 1, high));
                ranges.push((low, middle));
            }
        }
    }
    (kept, lost)
}

/// Deletes rows whose parent row was lost, until none is left; counted as lost.
fn remove_orphans(connection: &Connection, salvage: &mut [TableSalvage]) -> Result<(), Error> {
    loop {
        let mut statement = connection.prepare("PRAGMA main.foreign_key_check")?;
        let orphans = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if orphans.is_empty() {
            return Ok(());
        }
        for (table, rowid) in orphans {
            connection.execute(
                &format!("DELETE FROM main.\"{table}\" WHERE rowid = ?1"),
                [rowid],
            )?;
            if let Some(entry) = salvage.iter_mut().find(|entry| entry.table == table) {
                entry.rows_kept = entry.rows_kept.saturating_sub(1);
                entry.rows_lost += 1;
            }
        }
    }
}
