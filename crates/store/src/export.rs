//! Research export: the stored tables, restricted to who may be exported, as CSV, JSON or
//! Parquet files, plus each participant's RR series as a plain one-value-per-line text file
//! (the input Kubios and NeuroKit2 read).
//!
//! Who is in an export is decided once, by the `scope` CTE every query starts with: consented
//! participants of sessions in the time range (research), one pseudonym in every session (the
//! facilitator answering a participant's request), or one participant of one session (what a
//! participant's own resume token reaches). Sessions, group snapshots and synchrony rounds are exported for sessions with at least
//! one participant in scope; a synchrony pair only when both of its participants are in scope.
//! Internal row references never leave: rows carry session ids, participant ids and pseudonyms.
//!
//! The tables, their columns and the joins to their owners come from the catalogue; the files
//! are written by [`TableFile`].

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use synchub_session::ids::{ParticipantId, SessionId};

use crate::Error;
use crate::catalogue::{self, Owner, Table, ValueKind};
use crate::table_file::{FileColumn, FileKind, FileValue, TableFile};

/// The file format of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One `<table>.csv` per table, with a header line.
    Csv,
    /// One `<table>.json` per table: an array of objects.
    Json,
    /// One `<table>.parquet` per table.
    Parquet,
}

impl ExportFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Parquet => "parquet",
        }
    }

    fn extension(self) -> &'static str {
        self.name()
    }
}

/// What to export and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Sessions that started at or after this instant (ms since the epoch); `None`: no bound.
    pub from_ms: Option<i64>,
    /// Sessions that started before this instant; `None`: no bound.
    pub to_ms: Option<i64>,
    pub format: ExportFormat,
    /// Created if missing.
    pub out_dir: PathBuf,
}

/// Reported while an export runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgress {
    pub table: &'static str,
    /// Rows of this table written so far.
    pub rows: u64,
    /// True on the last report of this table.
    pub table_done: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    pub export_id: uuid::Uuid,
    pub out_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Rows per table, in export order.
    pub table_rows: Vec<(&'static str, u64)>,
    pub sessions: u64,
    pub participants: u64,
    pub beat_rows: u64,
}

impl ExportReport {
    pub fn total_rows(&self) -> u64 {
        self.table_rows.iter().map(|(_, rows)| rows).sum()
    }

    pub fn rows_of(&self, table: &str) -> u64 {
        self.table_rows
            .iter()
            .find(|(name, _)| *name == table)
            .map_or(0, |(_, rows)| *rows)
    }
}

/// Who an export is about.
pub(crate) enum ExportScope {
    Research {
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    },
    /// Every session of one pseudonym (the facilitator's `synchub research`).
    Participant { pseudonym: String },
    /// One participant of one session: what a resume token proves, and no more.
    SessionParticipant {
        session_id: SessionId,
        participant_id: ParticipantId,
    },
}

/// The participant rows in scope. Parameters: ?1 scope (1 research, 0 a pseudonym, 2 one
/// participant of one session), ?2 from, ?3 to, ?4 pseudonym, ?5 session id, ?6 participant id.
const SCOPE: &str = "WITH scope AS (SELECT p.id FROM session_participants p \
    JOIN sessions s ON s.id = p.session_ref WHERE \
    (?1 = 1 AND p.research_consent = 1 AND s.started_at_ms >= ?2 AND s.started_at_ms < ?3) \
    OR (?1 = 0 AND p.pseudonym = ?4) \
    OR (?1 = 2 AND s.session_id = ?5 AND p.participant_id = ?6)), \
    scoped_sessions AS (SELECT DISTINCT p.session_ref AS id FROM session_participants p \
    WHERE p.id IN (SELECT id FROM scope)) ";

/// Progress is reported every this many rows.
const PROGRESS_EVERY_ROWS: u64 = 50_000;

/// The query of `table`'s rows in scope, selecting `select` (over `t`, its owner's aliases and
/// its session `s`), in export order.
fn query_in_scope(table: &Table, select: &str) -> String {
    // A session is its own session; every other exported row joins its session as `s`.
    let session_join = match table.owner.session_id_expression() {
        Some(session) if table.owner != Owner::Session => {
            format!(" JOIN sessions s ON s.id = {session}")
        }
        _ => String::new(),
    };
    // A row with personal data is in scope when every participant it describes is; any other
    // row when its session has a participant in scope.
    let participants = table.owner.consenting_participants();
    let in_scope = if participants.is_empty() {
        let session = table.owner.session_id_expression().unwrap_or_default();
        format!("{session} IN (SELECT id FROM scoped_sessions)")
    } else {
        participants
            .iter()
            .map(|(participant, _)| format!("{participant} IN (SELECT id FROM scope)"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    format!(
        "{SCOPE}SELECT {select} FROM {} t{}{session_join} WHERE {in_scope} ORDER BY {}",
        table.name,
        table.owner.joins(),
        table.export_order.unwrap_or("t.id"),
    )
}

/// The exported columns of `table`: the owner's identity, then its own exported columns.
fn exported_columns(table: &Table) -> Vec<(&'static str, String, ValueKind)> {
    let identity = table
        .owner
        .identity()
        .iter()
        .map(|column| (column.name, column.expression.to_owned(), column.kind));
    let own = table
        .columns
        .iter()
        .filter(|column| column.exported)
        .map(|column| (column.name, format!("t.{}", column.name), column.kind));
    identity.chain(own).collect()
}

/// Booleans stay 0/1 as they are stored; ids are text.
fn file_kind(kind: ValueKind) -> FileKind {
    match kind {
        ValueKind::Integer | ValueKind::Boolean => FileKind::Integer,
        ValueKind::Real => FileKind::Real,
        ValueKind::Text | ValueKind::Uuid | ValueKind::Bytes => FileKind::Text,
    }
}

fn file_value(value: ValueRef<'_>) -> FileValue<'_> {
    match value {
        ValueRef::Null => FileValue::Null,
        ValueRef::Integer(number) => FileValue::Integer(number),
        ValueRef::Real(number) => FileValue::Real(number),
        ValueRef::Text(text) | ValueRef::Blob(text) => {
            FileValue::Text(String::from_utf8_lossy(text))
        }
    }
}

pub(crate) fn run(
    connection: &Connection,
    scope: &ExportScope,
    format: ExportFormat,
    out_dir: &Path,
    progress: &mut dyn FnMut(&ExportProgress),
) -> Result<ExportReport, Error> {
    fs::create_dir_all(out_dir).map_err(|source| io_error(out_dir, source))?;
    // One read transaction: every table of the export sees the same snapshot.
    connection.execute_batch("BEGIN")?;
    let result = run_in_snapshot(connection, scope, format, out_dir, progress);
    // Ending a read transaction cannot lose anything.
    let _ = connection.execute_batch("COMMIT");
    result
}

fn run_in_snapshot(
    connection: &Connection,
    scope: &ExportScope,
    format: ExportFormat,
    out_dir: &Path,
    progress: &mut dyn FnMut(&ExportProgress),
) -> Result<ExportReport, Error> {
    let (kind, from_ms, to_ms, pseudonym) = match scope {
        ExportScope::Research { from_ms, to_ms } => (
            1,
            from_ms.unwrap_or(i64::MIN),
            to_ms.unwrap_or(i64::MAX),
            String::new(),
        ),
        ExportScope::Participant { pseudonym } => (0, i64::MIN, i64::MAX, pseudonym.clone()),
        ExportScope::SessionParticipant { .. } => (2, i64::MIN, i64::MAX, String::new()),
    };
    let (session_id, participant_id) = match scope {
        ExportScope::SessionParticipant {
            session_id,
            participant_id,
        } => (session_id.0.to_string(), participant_id.0.to_string()),
        _ => (String::new(), String::new()),
    };
    let parameters = rusqlite::params![kind, from_ms, to_ms, pseudonym, session_id, participant_id];
    let mut report = ExportReport {
        export_id: uuid::Uuid::now_v7(),
        out_dir: out_dir.to_path_buf(),
        files: Vec::new(),
        table_rows: Vec::new(),
        sessions: 0,
        participants: 0,
        beat_rows: 0,
    };
    for table in catalogue::TABLES.iter().filter(|table| table.is_exported()) {
        let columns = exported_columns(table);
        let path = out_dir.join(format!("{}.{}", table.name, format.extension()));
        let mut file = TableFile::create(
            &path,
            format,
            columns
                .iter()
                .map(|(name, _, kind)| FileColumn::new(*name, file_kind(*kind)))
                .collect(),
        )?;
        let select: Vec<&str> = columns
            .iter()
            .map(|(_, expression, _)| expression.as_str())
            .collect();
        let mut statement = connection.prepare(&query_in_scope(table, &select.join(", ")))?;
        let mut rows = statement.query(parameters)?;
        while let Some(row) = rows.next()? {
            for index in 0..columns.len() {
                file.push(file_value(row.get_ref(index)?))?;
            }
            file.end_row()?;
            if file.rows().is_multiple_of(PROGRESS_EVERY_ROWS) {
                progress(&ExportProgress {
                    table: table.name,
                    rows: file.rows(),
                    table_done: false,
                });
            }
        }
        let count = file.finish()?;
        progress(&ExportProgress {
            table: table.name,
            rows: count,
            table_done: true,
        });
        report.files.push(path);
        report.table_rows.push((table.name, count));
    }
    report.sessions = report.rows_of("sessions");
    report.participants = report.rows_of("session_participants");
    report.beat_rows = report.rows_of("rr_intervals");
    write_plain_rr(connection, parameters, out_dir, &mut report)?;
    Ok(report)
}

/// `rr/<session_id>/<pseudonym>.txt`: one RR interval in milliseconds per line, in beat order.
fn write_plain_rr(
    connection: &Connection,
    parameters: &[&dyn rusqlite::ToSql],
    out_dir: &Path,
    report: &mut ExportReport,
) -> Result<(), Error> {
    let beats = catalogue::table("rr_intervals").ok_or(Error::Unsupported(
        "the catalogue has no rr_intervals table",
    ))?;
    let mut statement =
        connection.prepare(&query_in_scope(beats, "s.session_id, p.pseudonym, t.rr_ms"))?;
    let mut rows = statement.query(parameters)?;
    let mut current: Option<((String, String), BufWriter<fs::File>, PathBuf)> = None;
    while let Some(row) = rows.next()? {
        let key: (String, String) = (row.get(0)?, row.get(1)?);
        let rr_ms: f64 = row.get(2)?;
        if current.as_ref().is_none_or(|(open, _, _)| *open != key) {
            if let Some((_, mut file, path)) = current.take() {
                file.flush().map_err(|source| io_error(&path, source))?;
            }
            let dir = out_dir.join("rr").join(&key.0);
            fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
            let path = dir.join(format!("{}.txt", key.1));
            let file = fs::File::create(&path).map_err(|source| io_error(&path, source))?;
            report.files.push(path.clone());
            current = Some((key, BufWriter::new(file), path));
        }
        if let Some((_, file, path)) = current.as_mut() {
            writeln!(file, "{rr_ms}").map_err(|source| io_error(path, source))?;
        }
    }
    if let Some((_, mut file, path)) = current {
        file.flush().map_err(|source| io_error(&path, source))?;
    }
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
