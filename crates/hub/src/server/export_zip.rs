//! CSV and Parquet research exports as one download: the store writes one file per table, the
//! hub packs them into a zip in an anonymous temporary file and streams that file, so an
//! export of many sessions never sits in memory.

use std::io::{Seek, SeekFrom};

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use synchub_store::{ExportFormat, ExportRequest};
use tokio_util::io::ReaderStream;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::AppState;
use super::error::AppError;
use super::export_files::in_private_temp_dir;

/// Exports `request` (CSV or Parquet) and answers with the zip of its tables.
pub async fn download(state: &AppState, mut request: ExportRequest) -> Result<Response, AppError> {
    let store = state.store.clone();
    let extension = match request.format {
        ExportFormat::Csv => "csv",
        ExportFormat::Parquet => "parquet",
        ExportFormat::Json => "json",
    };
    let (file, export_id) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // The zip is an anonymous file; the tables' directory goes when the zip is made.
        in_private_temp_dir(|dir| {
            request.out_dir = dir.to_path_buf();
            let report = store.export(&request, &mut |_| {})?;
            Ok((zip_files(&report.files)?, report.export_id))
        })
    })
    .await
    .map_err(|error| AppError::Internal(anyhow::anyhow!("export task: {error}")))??;

    let length = file.metadata().map(|metadata| metadata.len()).ok();
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let disposition =
        format!("attachment; filename=\"synchub-research-{export_id}-{extension}.zip\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

/// Packs `files` (stored, uncompressed: Parquet is compressed already and CSV opens anywhere)
/// into an anonymous temporary file, rewound to its start. The file disappears when closed.
fn zip_files(files: &[std::path::PathBuf]) -> anyhow::Result<std::fs::File> {
    let mut writer = zip::ZipWriter::new(tempfile::tempfile()?);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    for path in files {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| anyhow::anyhow!("export file without a name: {}", path.display()))?;
        writer.start_file(name, options)?;
        std::io::copy(&mut std::fs::File::open(path)?, &mut writer)?;
    }
    let mut file = writer.finish()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}
