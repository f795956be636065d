//! One error type for every HTTP handler, turned into the two JSON shapes of protocol.md:
//! `{"error": {"code", "message"}}` for the new endpoints and `{"error": "…"}` for the 404s of
//! the original session endpoints. Internal failures are logged here, once, and reach the
//! client as a bare `internal` code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{ApiErrorBody, LegacyErrorBody};

#[derive(Debug)]
pub enum AppError {
    /// A new endpoint's error, with its stable code.
    Api { code: ErrorCode, message: String },
    /// The original session endpoints' 404 body.
    LegacyNotFound(&'static str),
    /// Something failed inside the hub; details go to the log only.
    Internal(anyhow::Error),
}

impl AppError {
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Api {
            code,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        AppError::Internal(error)
    }
}

impl From<synchub_store::Error> for AppError {
    fn from(error: synchub_store::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Api { code, message } => {
                let status = StatusCode::from_u16(code.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, Json(ApiErrorBody::new(code, message))).into_response()
            }
            AppError::LegacyNotFound(message) => (
                StatusCode::NOT_FOUND,
                Json(LegacyErrorBody {
                    error: message.to_owned(),
                }),
            )
                .into_response(),
            AppError::Internal(error) => {
                tracing::error!("request failed: {error:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(ApiErrorBody::new(
                        ErrorCode::Internal,
                        "the hub failed; see its log",
                    )),
                )
                    .into_response()
            }
        }
    }
}
