//! A participant's own data rights (data.md): `GET /api/me/export` returns what the hub stored
//! about them in their session, `DELETE /api/me` erases it and records a tombstone scoped to
//! that session for central sync. Authenticated by the participant's own resume token
//! (`Authorization: Bearer <resumeToken>`), valid while their session runs.
//!
//! The token proves only that its holder joined *this* session as *this* participant: user ids
//! are not secret (the original clients send stable, guessable ones), so the pseudonym is no
//! proof of who someone is, and the routes never reach other sessions that share it. Rights over
//! older sessions go through the facilitator (`synchub research`, by pseudonym).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{ErasedRows, ErasureBody, ParticipantExportBody};
use synchub_session::{ResumeToken, TokenOwner};
use synchub_store::ExportFormat;
use tokio::sync::oneshot;

use super::AppState;
use super::error::AppError;
use super::export_files::{in_private_temp_dir, read_json_tables};
use crate::engine_task::Input;

pub(super) fn presented_token(headers: &HeaderMap) -> Result<ResumeToken, AppError> {
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

/// The participant (of this session) that `token` was issued to, leaving the session first when
/// `leave`.
async fn owner_of(
    state: &AppState,
    token: ResumeToken,
    leave: bool,
) -> Result<TokenOwner, AppError> {
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
    let owner = owner_of(&state, token, false).await?;
    let store = state.store.clone();
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<ParticipantExportBody> {
        in_private_temp_dir(|out| {
            let report = store.export_session_participant(
                owner.session_id,
                owner.participant_id,
                ExportFormat::Json,
                out,
                &mut |_| {},
            )?;
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
    let owner = owner_of(&state, token, true).await?;
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        store.erase_session_participant(owner.session_id, owner.participant_id)
    })
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
