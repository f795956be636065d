//! One writer of table files, for every export: the hub's research export and participant
//! export (`export.rs`) and the researcher's pull from the central database (`synchub-cloud`).
//! One table becomes one file: CSV with a header line, a JSON array of objects, or Parquet
//! (Snappy). Rows go in one value at a time, so a table of millions of rows never sits in memory;
//! Parquet buffers one record batch.
//!
//! How a value is written depends on the format alone, so both exports write the same text for
//! the same value: CSV leaves NULL empty and writes booleans `t`/`f`, PostgreSQL's text form,
//! which the central research export's files have always used; JSON writes non-finite reals as
//! `null` (JSON has no other form for them); Parquet columns are typed by [`FileKind`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::{Error, ExportFormat};

/// Rows per Parquet record batch.
const PARQUET_BATCH_ROWS: usize = 64 * 1024;

/// The type of a column in a file (Parquet's column type; CSV and JSON follow the values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Integer,
    Real,
    Text,
    Boolean,
}

/// One column of a table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileColumn {
    pub name: String,
    pub kind: FileKind,
}

impl FileColumn {
    pub fn new(name: impl Into<String>, kind: FileKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum FileValue<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Boolean(bool),
}

/// A table file being written: [`TableFile::push`] each value of a row in column order, then
/// [`TableFile::end_row`]; [`TableFile::finish`] completes the file.
pub struct TableFile {
    path: PathBuf,
    columns: Vec<FileColumn>,
    format: Format,
    /// Values pushed into the current row.
    filled: usize,
    rows: u64,
    /// Reused to format numbers for CSV.
    scratch: String,
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("path", &self.path)
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

enum Format {
    Csv(csv::Writer<fs::File>),
    Json {
        file: BufWriter<fs::File>,
        object: serde_json::Map<String, serde_json::Value>,
    },
    Parquet {
        writer: parquet::arrow::ArrowWriter<fs::File>,
        schema: Arc<Schema>,
        builders: Vec<ColumnBuilder>,
        buffered: usize,
    },
}

enum ColumnBuilder {
    Integer(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Boolean(BooleanBuilder),
}

impl TableFile {
    /// Creates (or truncates) `path` and writes what comes before the rows.
    pub fn create(
        path: &Path,
        format: ExportFormat,
        columns: Vec<FileColumn>,
    ) -> Result<Self, Error> {
        let file = fs::File::create(path).map_err(|source| io_error(path, source))?;
        let format = match format {
            ExportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(file);
                writer
                    .write_record(columns.iter().map(|column| &column.name))
                    .map_err(|error| file_error(path, error))?;
                Format::Csv(writer)
            }
            ExportFormat::Json => {
                let mut file = BufWriter::new(file);
                file.write_all(b"[")
                    .map_err(|source| io_error(path, source))?;
                Format::Json {
                    file,
                    object: serde_json::Map::new(),
                }
            }
            ExportFormat::Parquet => {
                let schema = Arc::new(Schema::new(
                    columns
                        .iter()
                        .map(|column| Field::new(&column.name, arrow_type(column.kind), true))
                        .collect::<Vec<_>>(),
                ));
                let properties = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer = parquet::arrow::ArrowWriter::try_new(
                    file,
                    Arc::clone(&schema),
                    Some(properties),
                )
                .map_err(|error| file_error(path, error))?;
                Format::Parquet {
                    writer,
                    schema,
                    builders: columns
                        .iter()
                        .map(|column| ColumnBuilder::new(column.kind))
                        .collect(),
                    buffered: 0,
                }
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            columns,
            format,
            filled: 0,
            rows: 0,
            scratch: String::new(),
        })
    }

    /// The next value of the current row.
    pub fn push(&mut self, value: FileValue<'_>) -> Result<(), Error> {
        let Some(column) = self.columns.get(self.filled) else {
            return Err(Error::Export(format!(
                "{}: a row has more values than the {} columns",
                self.path.display(),
                self.columns.len()
            )));
        };
        match &mut self.format {
            Format::Csv(writer) => {
                let field: &str = match &value {
                    FileValue::Null => "",
                    FileValue::Integer(number) => {
                        self.scratch.clear();
                        let _ = write!(self.scratch, "{number}");
                        &self.scratch
                    }
                    FileValue::Real(number) => {
                        self.scratch.clear();
                        let _ = write!(self.scratch, "{number}");
                        &self.scratch
                    }
                    FileValue::Text(text) => text,
                    FileValue::Boolean(flag) => {
                        if *flag {
                            "t"
                        } else {
                            "f"
                        }
                    }
                };
                writer
                    .write_field(field)
                    .map_err(|error| file_error(&self.path, error))?;
            }
            Format::Json { object, .. } => {
                let json = match value {
                    FileValue::Null => serde_json::Value::Null,
                    FileValue::Integer(number) => number.into(),
                    FileValue::Real(number) => serde_json::Number::from_f64(number)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number),
                    FileValue::Text(text) => text.into_owned().into(),
                    FileValue::Boolean(flag) => flag.into(),
                };
                object.insert(column.name.clone(), json);
            }
            Format::Parquet { builders, .. } => {
                builders[self.filled].append(value).map_err(|got| {
                    Error::Export(format!(
                        "{}: column {} holds {:?} values; got {got}",
                        self.path.display(),
                        column.name,
                        column.kind
                    ))
                })?;
            }
        }
        self.filled += 1;
        Ok(())
    }

    /// Ends the current row, which must have a value for every column.
    pub fn end_row(&mut self) -> Result<(), Error> {
        if self.filled != self.columns.len() {
            return Err(Error::Export(format!(
                "{}: a row has {} values for {} columns",
                self.path.display(),
                self.filled,
                self.columns.len()
            )));
        }
        self.filled = 0;
        self.rows += 1;
        match &mut self.format {
            Format::Csv(writer) => writer
                .write_record(None::<&[u8]>)
                .map_err(|error| file_error(&self.path, error)),
            Format::Json { file, object } => {
                let separator: &[u8] = if self.rows == 1 { b"\n" } else { b",\n" };
                file.write_all(separator)
                    .map_err(|source| io_error(&self.path, source))?;
                serde_json::to_writer(&mut *file, object)
                    .map_err(|error| file_error(&self.path, error))?;
                object.clear();
                Ok(())
            }
            Format::Parquet {
                writer,
                schema,
                builders,
                buffered,
            } => {
                *buffered += 1;
                if *buffered >= PARQUET_BATCH_ROWS {
                    write_batch(&self.path, writer, schema, builders)?;
                    *buffered = 0;
                }
                Ok(())
            }
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file and returns the number of rows in it.
    pub fn finish(self) -> Result<u64, Error> {
        let Self {
            path, format, rows, ..
        } = self;
        match format {
            Format::Csv(mut writer) => writer.flush().map_err(|source| io_error(&path, source))?,
            Format::Json { mut file, .. } => file
                .write_all(b"\n]\n")
                .and_then(|()| file.flush())
                .map_err(|source| io_error(&path, source))?,
            Format::Parquet {
                mut writer,
                schema,
                mut builders,
                buffered,
            } => {
                if buffered > 0 {
                    write_batch(&path, &mut writer, &schema, &mut builders)?;
                }
                writer.close().map_err(|error| file_error(&path, error))?;
            }
        }
        Ok(rows)
    }
}

impl ColumnBuilder {
    fn new(kind: FileKind) -> Self {
        match kind {
            FileKind::Integer => Self::Integer(Int64Builder::new()),
            FileKind::Real => Self::Real(Float64Builder::new()),
            FileKind::Text => Self::Text(StringBuilder::new()),
            FileKind::Boolean => Self::Boolean(BooleanBuilder::new()),
        }
    }

    /// Appends `value`, converting where nothing is lost (an integer to a real, a number to
    /// text); gives back a description of a value that does not fit.
    fn append(&mut self, value: FileValue<'_>) -> Result<(), String> {
        match (self, value) {
            (Self::Integer(builder), FileValue::Null) => builder.append_null(),
            (Self::Real(builder), FileValue::Null) => builder.append_null(),
            (Self::Text(builder), FileValue::Null) => builder.append_null(),
            (Self::Boolean(builder), FileValue::Null) => builder.append_null(),
            (Self::Integer(builder), FileValue::Integer(number)) => builder.append_value(number),
            (Self::Real(builder), FileValue::Real(number)) => builder.append_value(number),
            (Self::Real(builder), FileValue::Integer(number)) => {
                builder.append_value(number as f64);
            }
            (Self::Text(builder), FileValue::Text(text)) => builder.append_value(text),
            (Self::Text(builder), FileValue::Integer(number)) => {
                builder.append_value(number.to_string());
            }
            (Self::Text(builder), FileValue::Real(number)) => {
                builder.append_value(number.to_string());
            }
            (Self::Boolean(builder), FileValue::Boolean(flag)) => builder.append_value(flag),
            (_, other) => return Err(format!("{other:?}")),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Integer(builder) => Arc::new(builder.finish()),
            Self::Real(builder) => Arc::new(builder.finish()),
            Self::Text(builder) => Arc::new(builder.finish()),
            Self::Boolean(builder) => Arc::new(builder.finish()),
        }
    }
}

fn arrow_type(kind: FileKind) -> DataType {
    match kind {
        FileKind::Integer => DataType::Int64,
        FileKind::Real => DataType::Float64,
        FileKind::Text => DataType::Utf8,
        FileKind::Boolean => DataType::Boolean,
    }
}

fn write_batch(
    path: &Path,
    writer: &mut parquet::arrow::ArrowWriter<fs::File>,
    schema: &Arc<Schema>,
    builders: &mut [ColumnBuilder],
) -> Result<(), Error> {
    let arrays = builders.iter_mut().map(ColumnBuilder::finish).collect();
    let batch = RecordBatch::try_new(Arc::clone(schema), arrays)
        .map_err(|error| file_error(path, error))?;
    writer
        .write(&batch)
        .map_err(|error| file_error(path, error))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Export(format!("{}: {error}", path.display()))
}
