//! A participant's own data rights (data.md): `GET /api/me/export` returns everything the hub
//! stored about them, `DELETE /api/me` erases it and records a tombstone for central sync.
//! Authenticated by the participant's own resume token (`Authorization: Bearer <resumeToken>`),
//! valid while their session runs; after that, the facilitator exports or erases by pseudonym
//! with `synchub research`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{ErasedRows, ErasureBody, ParticipantExportBody};
use synchub_session::ResumeToken;
use synchub_store::ExportFormat;
use tokio::sync::oneshot;

use super::AppState;
use super::error::AppError;
use super::export_files::{in_private_temp_dir, read_json_tables};
use crate::engine_task::Input;

fn presented_token(headers: &HeaderMap) -> Result<ResumeToken, AppError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| ResumeToken::from_hex(token.trim()))
        .ok_or_else(|| {
            AppError::api(
                ErrorCode::Unauthorized,
                "this route needs the header `Authorization: Bearer <resumeToken>`",
            )
        })
}

/// The pseudonym of the participant holding `token` (leaving the session first when `leave`).
async fn pseudonym_of(
    state: &AppState,
    token: ResumeToken,
    leave: bool,
) -> Result<String, AppError> {
    let (reply, answer) = oneshot::channel();
    state
        .engine
        .inputs
        .send(Input::WhoseToken {
            token,
            leave,
            reply,
        })
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the engine task has stopped")))?;
    answer
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the engine task has stopped")))?
        .ok_or_else(|| {
            AppError::api(
                ErrorCode::Unauthorized,
                "unknown or expired resume token (tokens are valid while their session runs)",
            )
        })
}

pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ParticipantExportBody>, AppError> {
    let token = presented_token(&headers)?;
    let pseudonym = pseudonym_of(&state, token, false).await?;
    let store = state.store.clone();
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<ParticipantExportBody> {
        in_private_temp_dir(|out| {
            let report =
                store.export_participant(&pseudonym, ExportFormat::Json, out, &mut |_| {})?;
            Ok(ParticipantExportBody {
                success: true,
                tables: read_json_tables(&report)?,
            })
        })
    })
    .await
    .map_err(|error| AppError::Internal(anyhow::anyhow!("export task: {error}")))??;
    Ok(Json(body))
}

pub async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ErasureBody>, AppError> {
    let token = presented_token(&headers)?;
    let pseudonym = pseudonym_of(&state, token, true).await?;
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || store.erase_participant(&pseudonym))
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("erasure task: {error}")))??;
    Ok(Json(ErasureBody {
        erased: ErasedRows {
            beat_rows: report.beat_rows,
            metric_rows: report.metric_rows,
            pair_rows: report.pair_rows,
            participant_rows: report.participant_rows,
        },
        success: true,
    }))
}
