//! The facilitator's strap routes: list the hub-read straps, assign one to a wearer, release
//! it. The work is in [`crate::straps`]; this file only speaks HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{Strap, StrapAssignRequest, StrapList};

use super::AppState;
use super::error::AppError;
use crate::straps::AssignError;

/// `GET /api/straps`.
pub async fn list(State(state): State<AppState>) -> Json<StrapList> {
    let view = state.engine.view.borrow().clone();
    Json(state.straps.list(|code| {
        let (participant, _) = view.strap_codes.iter().find(|(_, known)| known == code)?;
        view.participants
            .iter()
            .find(|seen| seen.participant_id == *participant)
            .map(|seen| seen.slot)
    }))
}

/// `POST /api/straps/{id}/assign {label, intention?, consent?}`.
pub async fn assign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Strap>, AppError> {
    let Json(body) =
        body.map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let request = StrapAssignRequest::decode(&body)
        .map_err(|error| AppError::api(error.code(), error.to_string()))?;
    let conn = state.next_conn_id();
    state
        .straps
        .assign(&id, request, conn, &state.org_secret, &state.engine)
        .await
        .map(Json)
        .map_err(refusal)
}

/// `DELETE /api/straps/{id}/assign`.
pub async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state
        .straps
        .release(&id, &state.engine)
        .await
        .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}

fn refusal(error: AssignError) -> AppError {
    let code = match error {
        AssignError::UnknownStrap(_) => ErrorCode::UnknownStrap,
        AssignError::NotAssigned(_) => ErrorCode::NotFound,
        AssignError::Unavailable(_) | AssignError::AlreadyAssigned(_) | AssignError::Stopping => {
            ErrorCode::Conflict
        }
    };
    AppError::api(code, error.to_string())
}
