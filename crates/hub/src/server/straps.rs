//! The facilitator's strap routes: list the hub-read straps, assign one to a wearer, release
//! it. The work is in [`crate::straps`]; this file only speaks HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{Strap, StrapAssignRequest, StrapList};

use synchub_session::ParticipantId;

use super::AppState;
use super::error::AppError;
use crate::engine_task::Input;
use crate::straps::AssignError;

/// `GET /api/straps`: with each strap's wearer's slot and the slots of those who claimed it.
pub async fn list(State(state): State<AppState>) -> Json<StrapList> {
    let view = state.engine.view.borrow().clone();
    let slot_of = |participant: &ParticipantId| {
        view.participants
            .iter()
            .find(|seen| seen.participant_id == *participant)
            .map(|seen| seen.slot)
    };
    Json(state.straps.list(
        |code| {
            let (participant, _) = view.strap_codes.iter().find(|(_, known)| known == code)?;
            slot_of(participant)
        },
        |code| {
            view.strap_claims
                .iter()
                .filter(|(claimed, _)| claimed == code)
                .filter_map(|(_, claimer)| slot_of(claimer))
                .collect()
        },
    ))
}

/// `DELETE /api/straps/{id}/claims/{slot}`: the participant in `slot` no longer receives the
/// strap wearer's feedback (and is told so).
pub async fn revoke_claim(
    State(state): State<AppState>,
    Path((id, slot)): Path<(String, u32)>,
) -> Result<StatusCode, AppError> {
    let code = state.straps.code_of_id(&id).ok_or_else(|| {
        AppError::api(
            ErrorCode::UnknownStrap,
            format!("no strap with id {id} has been seen; list the straps with GET /api/straps"),
        )
    })?;
    let revoked = state
        .engine
        .admin_input(|reply| Input::RevokeClaim { code, slot, reply })
        .await
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the engine task has stopped")))?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::api(
            ErrorCode::NotFound,
            format!("the participant in slot {slot} has not claimed strap {id}"),
        ))
    }
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
