//! The researcher's pull: consented, pseudonymised data from the `research.*` views, as CSV or
//! Parquet files plus a manifest.
//!
//! Everything is read in one `REPEATABLE READ` read-only transaction, so the counts in the
//! manifest describe exactly the rows in the files even while hubs keep pushing. Only the views
//! are read: they are the documented research interface and hold consented participants only.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use futures_util::{StreamExt, pin_mut};
use parquet::arrow::ArrowWriter;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres::{IsolationLevel, Row, Transaction};

use crate::Error;

/// The exported views, in the order of the files.
pub const RESEARCH_VIEWS: &[&str] = &[
    "sessions",
    "participants",
    "rr_intervals",
    "hrv_metrics",
    "group_coherence",
    "synchronization_pairs",
];

/// Rows per Parquet record batch.
const PARQUET_BATCH_ROWS: usize = 65_536;

/// File format of a research export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResearchFormat {
    Csv,
    Parquet,
}

impl ResearchFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

/// What to export. Sessions are selected by their start time, `[from_ms, to_ms)`.
#[derive(Debug, Clone)]
pub struct ResearchExportRequest {
    pub database_url: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub hub_id: Option<uuid::Uuid>,
    pub session_id: Option<uuid::Uuid>,
    pub format: ResearchFormat,
    pub out_dir: PathBuf,
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedFile {
    /// The `research.*` view it came from.
    pub view: String,
    /// File name inside the output directory.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// The manifest, also written as `manifest.json` next to the files.
#[derive(Debug, Clone, Serialize)]
pub struct ResearchExportReport {
    pub export_id: uuid::Uuid,
    pub created_at_ms: i64,
    /// The database, without its password.
    pub database: String,
    pub format: ResearchFormat,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub hub_id: Option<uuid::Uuid>,
    pub session_id: Option<uuid::Uuid>,
    /// Time columns are ISO 8601 text in UTC; ids are text.
    pub notes: &'static str,
    pub files: Vec<ExportedFile>,
    #[serde(skip)]
    pub out_dir: PathBuf,
}

impl ResearchExportReport {
    pub fn rows(&self, view: &str) -> Option<u64> {
        self.files
            .iter()
            .find(|file| file.view == view)
            .map(|file| file.rows)
    }
}

/// Exports the selected sessions from every `research.*` view into `request.out_dir` (created if
/// missing) and writes `manifest.json`.
pub async fn research_export(
    request: &ResearchExportRequest,
) -> Result<ResearchExportReport, Error> {
    std::fs::create_dir_all(&request.out_dir).map_err(|source| Error::Io {
        path: request.out_dir.clone(),
        source,
    })?;
    let mut client = crate::connect(&request.database_url).await?;
    client.batch_execute("SET TIME ZONE 'UTC'").await?;
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let filter = session_filter(request);
    let mut files = Vec::with_capacity(RESEARCH_VIEWS.len());
    for view in RESEARCH_VIEWS {
        let select = select_for(&transaction, view, &filter).await?;
        let file = format!("{view}.{}", request.format.extension());
        let path = request.out_dir.join(&file);
        let rows = match request.format {
            ResearchFormat::Csv => write_csv(&transaction, &select, &path).await?,
            ResearchFormat::Parquet => write_parquet(&transaction, &select, &path).await?,
        };
        let (bytes, sha256) = checksum(&path)?;
        files.push(ExportedFile {
            view: format!("research.{view}"),
            file,
            rows,
            bytes,
            sha256,
        });
    }
    transaction.commit().await?;
    let report = ResearchExportReport {
        export_id: uuid::Uuid::now_v7(),
        created_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(0)),
        database: crate::redacted_url(&request.database_url),
        format: request.format,
        from_ms: request.from_ms,
        to_ms: request.to_ms,
        hub_id: request.hub_id,
        session_id: request.session_id,
        notes: "consented participants only, from the research.* views; sessions selected by \
                start time in [from_ms, to_ms); times are ISO 8601 UTC text, ids are text",
        files,
        out_dir: request.out_dir.clone(),
    };
    let manifest = request.out_dir.join("manifest.json");
    let json =
        serde_json::to_vec_pretty(&report).map_err(|error| Error::Export(error.to_string()))?;
    std::fs::write(&manifest, json).map_err(|source| Error::Io {
        path: manifest,
        source,
    })?;
    Ok(report)
}

/// The sessions an export covers, as SQL over `research.sessions s`. Built from numbers and
/// UUIDs formatted here (never from text typed by someone), so it is inlined as literals: `COPY`
/// takes no parameters.
fn session_filter(request: &ResearchExportRequest) -> String {
    let mut conditions = vec![
        format!("s.started_at_ms >= {}", request.from_ms.unwrap_or(i64::MIN)),
        format!("s.started_at_ms < {}", request.to_ms.unwrap_or(i64::MAX)),
    ];
    if let Some(hub_id) = request.hub_id {
        conditions.push(format!("s.hub_id = '{}'::uuid", hub_id.hyphenated()));
    }
    if let Some(session_id) = request.session_id {
        conditions.push(format!(
            "s.session_id = '{}'::uuid",
            session_id.hyphenated()
        ));
    }
    conditions.join(" AND ")
}

/// The view's columns with ids and times turned to text, for the selected sessions.
struct Select {
    sql: String,
    columns: Vec<(String, Type)>,
}

async fn select_for(
    transaction: &Transaction<'_>,
    view: &str,
    filter: &str,
) -> Result<Select, Error> {
    let probe = transaction
        .prepare(&format!("SELECT * FROM research.{view}"))
        .await?;
    let mut expressions = Vec::new();
    let mut columns = Vec::new();
    for column in probe.columns() {
        let name = column.name();
        let (expression, exported_type) = match *column.type_() {
            Type::UUID => (format!("v.{name}::text"), Type::TEXT),
            Type::TIMESTAMPTZ => (format!("to_json(v.{name}) #>> '{{}}'"), Type::TEXT),
            Type::INT2 | Type::INT4 => (format!("v.{name}::int8"), Type::INT8),
            Type::FLOAT4 | Type::NUMERIC => (format!("v.{name}::float8"), Type::FLOAT8),
            ref other => (format!("v.{name}"), other.clone()),
        };
        expressions.push(format!("{expression} AS {name}"));
        columns.push((name.to_owned(), exported_type));
    }
    let sql = format!(
        "SELECT {} FROM research.{view} v WHERE v.session_id IN \
         (SELECT s.session_id FROM research.sessions s WHERE {filter}) ORDER BY 1, 2",
        expressions.join(", ")
    );
    Ok(Select { sql, columns })
}

async fn write_csv(
    transaction: &Transaction<'_>,
    select: &Select,
    path: &Path,
) -> Result<u64, Error> {
    // The snapshot is shared by the count and the COPY (REPEATABLE READ), so they agree.
    let rows: i64 = transaction
        .query_one(&format!("SELECT count(*) FROM ({}) x", select.sql), &[])
        .await?
        .get(0);
    let stream = transaction
        .copy_out(&format!(
            "COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)",
            select.sql
        ))
        .await?;
    pin_mut!(stream);
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = BufWriter::new(File::create(path).map_err(io_error)?);
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?).map_err(io_error)?;
    }
    file.flush().map_err(io_error)?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

async fn write_parquet(
    transaction: &Transaction<'_>,
    select: &Select,
    path: &Path,
) -> Result<u64, Error> {
    let fields: Vec<Field> = select
        .columns
        .iter()
        .map(|(name, column_type)| Field::new(name, arrow_type(column_type), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), None)?;
    let stream = transaction
        .query_raw(&select.sql, std::iter::empty::<i64>())
        .await?;
    pin_mut!(stream);
    let mut rows = Vec::with_capacity(PARQUET_BATCH_ROWS);
    let mut total = 0_u64;
    while let Some(row) = stream.next().await {
        rows.push(row?);
        if rows.len() == PARQUET_BATCH_ROWS {
            writer.write(&record_batch(&schema, &select.columns, &rows)?)?;
            total += rows.len() as u64;
            rows.clear();
        }
    }
    if !rows.is_empty() || total == 0 {
        writer.write(&record_batch(&schema, &select.columns, &rows)?)?;
        total += rows.len() as u64;
    }
    writer.close()?;
    Ok(total)
}

fn arrow_type(column_type: &Type) -> DataType {
    match *column_type {
        Type::INT8 => DataType::Int64,
        Type::FLOAT8 => DataType::Float64,
        Type::BOOL => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

fn record_batch(
    schema: &Arc<Schema>,
    columns: &[(String, Type)],
    rows: &[Row],
) -> Result<RecordBatch, Error> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (index, (_, column_type)) in columns.iter().enumerate() {
        let array: ArrayRef = match arrow_type(column_type) {
            DataType::Int64 => {
                let mut builder = Int64Builder::with_capacity(rows.len());
                for row in rows {
                    builder.append_option(row.try_get::<_, Option<i64>>(index)?);
                }
                Arc::new(builder.finish())
            }
            DataType::Float64 => {
                let mut builder = Float64Builder::with_capacity(rows.len());
                for row in rows {
                    builder.append_option(row.try_get::<_, Option<f64>>(index)?);
                }
                Arc::new(builder.finish())
            }
            DataType::Boolean => {
                let mut builder = BooleanBuilder::with_capacity(rows.len());
                for row in rows {
                    builder.append_option(row.try_get::<_, Option<bool>>(index)?);
                }
                Arc::new(builder.finish())
            }
            _ => {
                let mut builder = StringBuilder::new();
                for row in rows {
                    builder.append_option(row.try_get::<_, Option<String>>(index)?);
                }
                Arc::new(builder.finish())
            }
        };
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

fn checksum(path: &Path) -> Result<(u64, String), Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 1 << 16];
    let mut bytes = 0_u64;
    loop {
        let read = file.read(&mut buffer).map_err(io_error)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}
