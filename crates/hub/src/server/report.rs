//! `GET /api/sessions/{id}/report[?format=html|json]` (behind the admin token): a session's
//! report as the page or its JSON twin (`docs/report.md`), built from the store off the async
//! threads. The store's writer is flushed first, so a session that just ended is reported
//! with its last rows.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synchub_protocol::ErrorCode;

use super::AppState;
use super::error::AppError;
use crate::report::{ReportFormat, Which};

/// The report page is self-contained: no script, no request of its own; inline CSS and SVG.
const REPORT_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

pub async fn session_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query
        .map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let format = match query.format.as_deref() {
        None | Some("html") => ReportFormat::Html,
        Some("json") => ReportFormat::Json,
        Some(other) => {
            return Err(AppError::api(
                ErrorCode::InvalidPayload,
                format!("format: `{other}` is not a report format; use html or json"),
            ));
        }
    };
    let not_found = || AppError::api(ErrorCode::NotFound, format!("no session {id} on this hub"));
    let Ok(Which::Id(session_id)) = id.parse::<Which>() else {
        return Err(not_found());
    };
    let store = state.store.clone();
    let room_name = Some(state.room().name);
    // Outer error: flushing the store failed; inner: the report could not be made.
    let built = tokio::task::spawn_blocking(move || {
        store.flush()?;
        Ok::<_, synchub_store::Error>(crate::report::build(
            store.database_path(),
            Which::Id(session_id),
            room_name,
        ))
    })
    .await
    .map_err(|error| AppError::Internal(anyhow::anyhow!("report task: {error}")))??;
    let (session_id, report) = match built {
        Ok(built) => built,
        Err(error) if error.is_unknown_session() => return Err(not_found()),
        Err(error) => return Err(AppError::Internal(error.into())),
    };
    let body = format.render(&report);
    let file_name = crate::report::file_name(&report, session_id, format);
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{file_name}\""))
        .map_err(|error| AppError::Internal(error.into()))?;
    let content_type = match format {
        ReportFormat::Html => "text/html; charset=utf-8",
        ReportFormat::Json => "application/json",
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(REPORT_CONTENT_SECURITY_POLICY),
            ),
        ],
        body,
    )
        .into_response())
}
