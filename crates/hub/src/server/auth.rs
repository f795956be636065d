//! The facilitator's routes require `Authorization: Bearer <admin token>`, compared in constant
//! time so response timing says nothing about how much of a guess was right, and come from the
//! hub's own computer unless `--admin-remote` (see `admin`).

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use synchub_protocol::ErrorCode;

use super::AppState;
use super::error::AppError;
use super::guards::constant_time_eq;

pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let expected = state.admin.tokens.current();
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_str().as_bytes()) => {
            Ok(next.run(request).await)
        }
        Some(_) => Err(AppError::api(
            ErrorCode::Unauthorized,
            "the admin token is wrong",
        )),
        None => Err(AppError::api(
            ErrorCode::Unauthorized,
            "this route needs the header `Authorization: Bearer <admin token>`",
        )),
    }
}
