//! Research export: the stored tables, restricted to who may be exported, as CSV, JSON or
//! Parquet files, plus each participant's RR series as a plain one-value-per-line text file
//! (the input Kubios and NeuroKit2 read).
//!
//! Who is in an export is decided once, by the `scope` CTE every query starts with: consented
//! participants of sessions in the time range (research), or one pseudonym (a participant's own
//! data). Sessions, group snapshots and synchrony rounds are exported for sessions with at least
//! one participant in scope; a synchrony pair only when both of its participants are in scope.
//! Internal row references never leave: rows carry session ids, participant ids and pseudonyms.

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::Error;

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

pub(crate) enum ExportScope {
    Research {
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    },
    Participant {
        pseudonym: String,
    },
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Real,
}

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// Selects `columns` in order; may use the `scope` (participant row ids) and `scoped_sessions`
    /// CTEs.
    select: &'static str,
}

/// The participant rows in scope. Parameters: ?1 research (0/1), ?2 from, ?3 to, ?4 pseudonym.
const SCOPE: &str = "WITH scope AS (SELECT p.id FROM session_participants p \
    JOIN sessions s ON s.id = p.session_ref WHERE \
    (?1 = 1 AND p.research_consent = 1 AND s.started_at_ms >= ?2 AND s.started_at_ms < ?3) \
    OR (?1 = 0 AND p.pseudonym = ?4)), \
    scoped_sessions AS (SELECT DISTINCT p.session_ref AS id FROM session_participants p \
    WHERE p.id IN (SELECT id FROM scope)) ";

use Kind::{Integer, Real, Text};

const TABLES: &[Table] = &[
    Table {
        name: "sessions",
        columns: &[
            ("session_id", Text),
            ("mode", Text),
            ("slot_start_ms", Integer),
            ("started_at_ms", Integer),
            ("ended_at_ms", Integer),
            ("preparation_secs", Integer),
            ("active_secs", Integer),
            ("integration_secs", Integer),
            ("planned_end_ms", Integer),
            ("duration_ms", Integer),
            ("participant_count", Integer),
            ("average_coherence", Real),
            ("peak_coherence", Real),
            ("secs_low", Real),
            ("secs_medium", Real),
            ("secs_high", Real),
            ("average_synchrony", Real),
        ],
        select: "SELECT s.session_id, s.mode, s.slot_start_ms, s.started_at_ms, s.ended_at_ms, \
            s.preparation_secs, s.active_secs, s.integration_secs, s.planned_end_ms, \
            s.duration_ms, s.participant_count, s.average_coherence, s.peak_coherence, \
            s.secs_low, s.secs_medium, s.secs_high, s.average_synchrony FROM sessions s \
            WHERE s.id IN (SELECT id FROM scoped_sessions) ORDER BY s.started_at_ms, s.id",
    },
    Table {
        name: "session_participants",
        columns: &[
            ("session_id", Text),
            ("participant_id", Text),
            ("pseudonym", Text),
            ("intention", Text),
            ("research_consent", Integer),
            ("device", Text),
            ("joined_at_ms", Integer),
            ("left_at_ms", Integer),
            ("peak_coherence", Real),
            ("high_coherence_secs", Real),
        ],
        select: "SELECT s.session_id, p.participant_id, p.pseudonym, p.intention, \
            p.research_consent, p.device, p.joined_at_ms, p.left_at_ms, p.peak_coherence, \
            p.high_coherence_secs FROM session_participants p \
            JOIN sessions s ON s.id = p.session_ref \
            WHERE p.id IN (SELECT id FROM scope) ORDER BY s.started_at_ms, p.id",
    },
    Table {
        name: "rr_intervals",
        columns: &[
            ("session_id", Text),
            ("participant_id", Text),
            ("pseudonym", Text),
            ("batch_seq", Integer),
            ("time_ms", Real),
            ("rr_ms", Real),
            ("artifact", Integer),
        ],
        select: "SELECT s.session_id, p.participant_id, p.pseudonym, r.batch_seq, r.time_ms, \
            r.rr_ms, r.artifact FROM rr_intervals r \
            JOIN session_participants p ON p.id = r.participant_ref \
            JOIN sessions s ON s.id = p.session_ref \
            WHERE r.participant_ref IN (SELECT id FROM scope) \
            ORDER BY r.participant_ref, r.time_ms, r.id",
    },
    Table {
        name: "hrv_metrics",
        columns: &[
            ("session_id", Text),
            ("participant_id", Text),
            ("pseudonym", Text),
            ("at_ms", Integer),
            ("source", Text),
            ("algorithm", Text),
            ("score", Real),
            ("ratio", Real),
            ("peak_hz", Real),
            ("breaths_per_min", Real),
            ("hr_bpm", Real),
            ("mean_rr_ms", Real),
            ("sdnn_ms", Real),
            ("rmssd_ms", Real),
            ("artifact_fraction", Real),
            ("quality", Text),
        ],
        select: "SELECT s.session_id, p.participant_id, p.pseudonym, m.at_ms, m.source, \
            m.algorithm, m.score, m.ratio, m.peak_hz, m.breaths_per_min, m.hr_bpm, m.mean_rr_ms, \
            m.sdnn_ms, m.rmssd_ms, m.artifact_fraction, m.quality FROM hrv_metrics m \
            JOIN session_participants p ON p.id = m.participant_ref \
            JOIN sessions s ON s.id = p.session_ref \
            WHERE m.participant_ref IN (SELECT id FROM scope) \
            ORDER BY m.participant_ref, m.at_ms, m.id",
    },
    Table {
        name: "group_coherence_snapshots",
        columns: &[
            ("session_id", Text),
            ("at_ms", Integer),
            ("phase", Text),
            ("participant_count", Integer),
            ("active_count", Integer),
            ("average_coherence", Real),
            ("median_coherence", Real),
            ("std_coherence", Real),
            ("peak_coherence", Real),
            ("coherence_phase", Text),
            ("distribution_low", Integer),
            ("distribution_medium", Integer),
            ("distribution_high", Integer),
            ("synchrony_index", Real),
        ],
        select: "SELECT s.session_id, g.at_ms, g.phase, g.participant_count, g.active_count, \
            g.average_coherence, g.median_coherence, g.std_coherence, g.peak_coherence, \
            g.coherence_phase, g.distribution_low, g.distribution_medium, g.distribution_high, \
            g.synchrony_index FROM group_coherence_snapshots g \
            JOIN sessions s ON s.id = g.session_ref \
            WHERE g.session_ref IN (SELECT id FROM scoped_sessions) ORDER BY g.session_ref, g.at_ms, g.id",
    },
    Table {
        name: "synchrony_rounds",
        columns: &[
            ("session_id", Text),
            ("at_ms", Integer),
            ("participants", Integer),
            ("synchrony_index", Real),
            ("surrogate_index", Real),
            ("mean_strength", Real),
            ("surrogate_mean_strength", Real),
            ("pairs_sampled", Integer),
        ],
        select: "SELECT s.session_id, y.at_ms, y.participants, y.synchrony_index, \
            y.surrogate_index, y.mean_strength, y.surrogate_mean_strength, y.pairs_sampled \
            FROM synchrony_rounds y JOIN sessions s ON s.id = y.session_ref \
            WHERE y.session_ref IN (SELECT id FROM scoped_sessions) ORDER BY y.session_ref, y.at_ms, y.id",
    },
    Table {
        name: "synchronization_pairs",
        columns: &[
            ("session_id", Text),
            ("at_ms", Integer),
            ("pseudonym_a", Text),
            ("pseudonym_b", Text),
            ("correlation", Real),
            ("plv", Real),
            ("strength", Real),
        ],
        select: "SELECT s.session_id, y.at_ms, a.pseudonym, b.pseudonym, x.correlation, x.plv, \
            x.strength FROM synchronization_pairs x \
            JOIN synchrony_rounds y ON y.id = x.round_ref JOIN sessions s ON s.id = y.session_ref \
            JOIN session_participants a ON a.id = x.participant_a_ref \
            JOIN session_participants b ON b.id = x.participant_b_ref \
            WHERE x.participant_a_ref IN (SELECT id FROM scope) \
            AND x.participant_b_ref IN (SELECT id FROM scope) ORDER BY x.round_ref, x.id",
    },
];

/// Progress is reported every this many rows.
const PROGRESS_EVERY_ROWS: u64 = 50_000;
/// Rows per Parquet record batch.
const PARQUET_BATCH_ROWS: usize = 64 * 1024;

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
    let (research, from_ms, to_ms, pseudonym) = match scope {
        ExportScope::Research { from_ms, to_ms } => (
            1,
            from_ms.unwrap_or(i64::MIN),
            to_ms.unwrap_or(i64::MAX),
            String::new(),
        ),
        ExportScope::Participant { pseudonym } => (0, i64::MIN, i64::MAX, pseudonym.clone()),
    };
    let parameters = rusqlite::params![research, from_ms, to_ms, pseudonym];
    let mut report = ExportReport {
        export_id: uuid::Uuid::now_v7(),
        out_dir: out_dir.to_path_buf(),
        files: Vec::new(),
        table_rows: Vec::new(),
        sessions: 0,
        participants: 0,
        beat_rows: 0,
    };
    for table in TABLES {
        let path = out_dir.join(format!("{}.{}", table.name, format.extension()));
        let mut sink = Sink::create(format, &path, table)?;
        let mut statement = connection.prepare(&format!("{SCOPE}{}", table.select))?;
        let mut rows = statement.query(parameters)?;
        let mut count = 0_u64;
        while let Some(row) = rows.next()? {
            sink.row(row, table)?;
            count += 1;
            if count.is_multiple_of(PROGRESS_EVERY_ROWS) {
                progress(&ExportProgress {
                    table: table.name,
                    rows: count,
                    table_done: false,
                });
            }
        }
        sink.finish()?;
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
    let mut statement = connection.prepare(&format!(
        "{SCOPE}SELECT s.session_id, p.pseudonym, r.rr_ms FROM rr_intervals r \
         JOIN session_participants p ON p.id = r.participant_ref \
         JOIN sessions s ON s.id = p.session_ref \
         WHERE r.participant_ref IN (SELECT id FROM scope) \
         ORDER BY r.participant_ref, r.time_ms, r.id"
    ))?;
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

enum Sink {
    Csv(csv::Writer<fs::File>, PathBuf),
    Json {
        file: BufWriter<fs::File>,
        path: PathBuf,
        first: bool,
    },
    Parquet {
        writer: parquet::arrow::ArrowWriter<fs::File>,
        schema: Arc<Schema>,
        columns: Vec<ColumnBuilder>,
        buffered: usize,
    },
}

enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Real(Float64Builder),
}

impl Sink {
    fn create(format: ExportFormat, path: &Path, table: &Table) -> Result<Self, Error> {
        let file = fs::File::create(path).map_err(|source| io_error(path, source))?;
        match format {
            ExportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(file);
                writer
                    .write_record(table.columns.iter().map(|(name, _)| *name))
                    .map_err(|error| Error::Export(error.to_string()))?;
                Ok(Self::Csv(writer, path.to_path_buf()))
            }
            ExportFormat::Json => {
                let mut file = BufWriter::new(file);
                file.write_all(b"[")
                    .map_err(|source| io_error(path, source))?;
                Ok(Self::Json {
                    file,
                    path: path.to_path_buf(),
                    first: true,
                })
            }
            ExportFormat::Parquet => {
                let schema = Arc::new(Schema::new(
                    table
                        .columns
                        .iter()
                        .map(|(name, kind)| {
                            let data_type = match kind {
                                Text => DataType::Utf8,
                                Integer => DataType::Int64,
                                Real => DataType::Float64,
                            };
                            Field::new(*name, data_type, true)
                        })
                        .collect::<Vec<_>>(),
                ));
                let properties = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer =
                    parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties))
                        .map_err(|error| Error::Export(error.to_string()))?;
                Ok(Self::Parquet {
                    writer,
                    schema,
                    columns: builders(table),
                    buffered: 0,
                })
            }
        }
    }

    fn row(&mut self, row: &rusqlite::Row<'_>, table: &Table) -> Result<(), Error> {
        match self {
            Self::Csv(writer, _) => {
                let mut fields = Vec::with_capacity(table.columns.len());
                for index in 0..table.columns.len() {
                    fields.push(match row.get_ref(index)? {
                        ValueRef::Null => String::new(),
                        ValueRef::Integer(value) => value.to_string(),
                        ValueRef::Real(value) => value.to_string(),
                        ValueRef::Text(text) | ValueRef::Blob(text) => {
                            String::from_utf8_lossy(text).into_owned()
                        }
                    });
                }
                writer
                    .write_record(&fields)
                    .map_err(|error| Error::Export(error.to_string()))
            }
            Self::Json { file, path, first } => {
                let mut object = serde_json::Map::with_capacity(table.columns.len());
                for (index, (name, _)) in table.columns.iter().enumerate() {
                    let value = match row.get_ref(index)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(value) => value.into(),
                        // Non-finite reals have no JSON form; they become null.
                        ValueRef::Real(value) => serde_json::Number::from_f64(value)
                            .map_or(serde_json::Value::Null, serde_json::Value::Number),
                        ValueRef::Text(text) | ValueRef::Blob(text) => {
                            String::from_utf8_lossy(text).into_owned().into()
                        }
                    };
                    object.insert((*name).to_owned(), value);
                }
                let separator: &[u8] = if *first { b"\n" } else { b",\n" };
                *first = false;
                file.write_all(separator)
                    .map_err(|source| io_error(path, source))?;
                serde_json::to_writer(&mut *file, &object)
                    .map_err(|error| Error::Export(error.to_string()))
            }
            Self::Parquet {
                writer,
                schema,
                columns,
                buffered,
            } => {
                for (index, column) in columns.iter_mut().enumerate() {
                    let value = row.get_ref(index)?;
                    match column {
                        ColumnBuilder::Text(builder) => match value {
                            ValueRef::Text(text) | ValueRef::Blob(text) => {
                                builder.append_value(String::from_utf8_lossy(text));
                            }
                            ValueRef::Null => builder.append_null(),
                            ValueRef::Integer(value) => builder.append_value(value.to_string()),
                            ValueRef::Real(value) => builder.append_value(value.to_string()),
                        },
                        ColumnBuilder::Integer(builder) => {
                            builder.append_option(
                                value
                                    .as_i64_or_null()
                                    .map_err(|error| Error::Export(error.to_string()))?,
                            );
                        }
                        ColumnBuilder::Real(builder) => match value {
                            ValueRef::Integer(value) => builder.append_value(value as f64),
                            other => builder.append_option(
                                other
                                    .as_f64_or_null()
                                    .map_err(|error| Error::Export(error.to_string()))?,
                            ),
                        },
                    }
                }
                *buffered += 1;
                if *buffered >= PARQUET_BATCH_ROWS {
                    flush_parquet(writer, schema, columns)?;
                    *buffered = 0;
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self {
            Self::Csv(mut writer, path) => writer.flush().map_err(|source| io_error(&path, source)),
            Self::Json { mut file, path, .. } => file
                .write_all(b"\n]\n")
                .and_then(|()| file.flush())
                .map_err(|source| io_error(&path, source)),
            Self::Parquet {
                mut writer,
                schema,
                mut columns,
                buffered,
            } => {
                if buffered > 0 {
                    flush_parquet(&mut writer, &schema, &mut columns)?;
                }
                writer
                    .close()
                    .map(|_| ())
                    .map_err(|error| Error::Export(error.to_string()))
            }
        }
    }
}

fn builders(table: &Table) -> Vec<ColumnBuilder> {
    table
        .columns
        .iter()
        .map(|(_, kind)| match kind {
            Text => ColumnBuilder::Text(StringBuilder::new()),
            Integer => ColumnBuilder::Integer(Int64Builder::new()),
            Real => ColumnBuilder::Real(Float64Builder::new()),
        })
        .collect()
}

fn flush_parquet(
    writer: &mut parquet::arrow::ArrowWriter<fs::File>,
    schema: &Arc<Schema>,
    columns: &mut [ColumnBuilder],
) -> Result<(), Error> {
    let arrays: Vec<ArrayRef> = columns
        .iter_mut()
        .map(|column| -> ArrayRef {
            match column {
                ColumnBuilder::Text(builder) => Arc::new(builder.finish()),
                ColumnBuilder::Integer(builder) => Arc::new(builder.finish()),
                ColumnBuilder::Real(builder) => Arc::new(builder.finish()),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|error| Error::Export(error.to_string()))?;
    writer
        .write(&batch)
        .map_err(|error| Error::Export(error.to_string()))
}
