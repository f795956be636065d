//! The researcher's pull: consented, pseudonymised data from the `research.*` views, as CSV, JSON
//! or Parquet files plus a manifest.
//!
//! Everything is read in one `REPEATABLE READ` read-only transaction, so the counts in the
//! manifest describe exactly the rows in the files even while hubs keep pushing. Only the views
//! are read: they are the documented research interface and hold consented participants only.
//! The files are written by the store's `TableFile`, the writer of the hub's own research export,
//! so a value reads the same in both.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, pin_mut};
use serde::Serialize;
use sha2::{Digest, Sha256};
use synchub_store::{ExportFormat, FileColumn, FileKind, FileValue, TableFile};
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
    "session_summary",
];

/// File format of a research export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResearchFormat {
    Csv,
    /// One JSON array of objects per view.
    Json,
    Parquet,
}

impl ResearchFormat {
    /// The store's file writer writes both formats.
    fn file_format(self) -> ExportFormat {
        match self {
            Self::Csv => ExportFormat::Csv,
            Self::Json => ExportFormat::Json,
            Self::Parquet => ExportFormat::Parquet,
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
        let format = request.format.file_format();
        let file = format!("{view}.{}", format.name());
        let path = request.out_dir.join(&file);
        let rows = write_view(&transaction, &select, &path, format).await?;
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
    columns: Vec<FileColumn>,
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
        let (expression, kind) = match *column.type_() {
            Type::TIMESTAMPTZ => (format!("to_json(v.{name}) #>> '{{}}'"), FileKind::Text),
            Type::INT2 | Type::INT4 | Type::INT8 => (format!("v.{name}::int8"), FileKind::Integer),
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => {
                (format!("v.{name}::float8"), FileKind::Real)
            }
            Type::BOOL => (format!("v.{name}"), FileKind::Boolean),
            // Ids (uuid) and anything else: their text form.
            _ => (format!("v.{name}::text"), FileKind::Text),
        };
        expressions.push(format!("{expression} AS {name}"));
        columns.push(FileColumn::new(name, kind));
    }
    let sql = format!(
        "SELECT {} FROM research.{view} v WHERE v.session_id IN \
         (SELECT s.session_id FROM research.sessions s WHERE {filter}) ORDER BY 1, 2",
        expressions.join(", ")
    );
    Ok(Select { sql, columns })
}

/// Streams the selected rows into a new file at `path` (the store's table-file writer, shared
/// with the hub's own export); returns how many rows it wrote.
async fn write_view(
    transaction: &Transaction<'_>,
    select: &Select,
    path: &Path,
    format: ExportFormat,
) -> Result<u64, Error> {
    let mut file = TableFile::create(path, format, select.columns.clone())?;
    let stream = transaction
        .query_raw(&select.sql, std::iter::empty::<i64>())
        .await?;
    pin_mut!(stream);
    while let Some(row) = stream.next().await {
        let row = row?;
        for (index, column) in select.columns.iter().enumerate() {
            file.push(file_value(&row, index, column.kind)?)?;
        }
        file.end_row()?;
    }
    Ok(file.finish()?)
}

/// Column `index` of `row`, of the kind [`select_for`] cast it to.
fn file_value(row: &Row, index: usize, kind: FileKind) -> Result<FileValue<'_>, Error> {
    Ok(match kind {
        FileKind::Integer => row
            .try_get::<_, Option<i64>>(index)?
            .map_or(FileValue::Null, FileValue::Integer),
        FileKind::Real => row
            .try_get::<_, Option<f64>>(index)?
            .map_or(FileValue::Null, FileValue::Real),
        FileKind::Boolean => row
            .try_get::<_, Option<bool>>(index)?
            .map_or(FileValue::Null, FileValue::Boolean),
        FileKind::Text => row
            .try_get::<_, Option<&str>>(index)?
            .map_or(FileValue::Null, |text| FileValue::Text(text.into())),
    })
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
