//! The facilitator's relay routes: create a relay's token (with the command to run on the
//! relay's computer), list the relays with their straps and queues, revoke one. The work is in
//! [`crate::relays`]; this file only speaks HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{RelayCreateRequest, RelayCreated, RelayList};

use super::AppState;
use super::error::AppError;
use crate::relays::TokenError;

/// `POST /api/relays {name}` → 201 `{name, token, command}`.
pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<RelayCreated>), AppError> {
    let Json(body) =
        body.map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let request: RelayCreateRequest = serde_json::from_value(body).map_err(|error| {
        AppError::api(
            ErrorCode::InvalidPayload,
            format!("POST /api/relays: expected {{\"name\": \"back-row\"}}: {error}"),
        )
    })?;
    request
        .validate()
        .map_err(|message| AppError::api(ErrorCode::InvalidPayload, message))?;
    let now_ms = state.engine.clock.wall_ms();
    let token = state
        .straps
        .relays()
        .create(&request.name, now_ms)
        .map_err(refusal)?;
    let command = format!(
        "synchub relay --hub {} --token {token} --name {}",
        state.public_base_url, request.name
    );
    Ok((
        StatusCode::CREATED,
        Json(RelayCreated {
            name: request.name,
            token,
            command,
        }),
    ))
}

/// `GET /api/relays`.
pub async fn list(State(state): State<AppState>) -> Json<RelayList> {
    Json(state.straps.relays().list())
}

/// `DELETE /api/relays/{name}`: the token stops working and a connected relay is dropped.
pub async fn revoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    state.straps.relays().revoke(&name).map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}

fn refusal(error: TokenError) -> AppError {
    match error {
        TokenError::NameTaken(_) => AppError::api(ErrorCode::Conflict, error.to_string()),
        TokenError::UnknownRelay(_) => AppError::api(ErrorCode::NotFound, error.to_string()),
        TokenError::Write { .. } => AppError::Internal(error.into()),
    }
}
