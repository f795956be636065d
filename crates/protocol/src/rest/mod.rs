//! Bodies of the hub's HTTP API: every request the hub validates and every reply it sends is a
//! type here, with its JSON Schema under `docs/protocol/schema/rest.*.json`. The public endpoints
//! keep the original platform's shapes (`GET /health`, `GET /api/sessions[/current|/{id}]`,
//! `GET /api/research/stats`); the facilitator's endpoints and the participant's data rights
//! are new.
//!
//! One file per part of the API: `sessions` (the session endpoints and the
//! schedule), `settings` (the hub, its central sync and the pacer), `room` (participants and
//! straps), `readers` (what reads the straps: the hub's Bluetooth adapters), `relays` (relays
//! and their tokens), `research` (statistics, exports and erasure), `report` (the
//! participant's own report). Everything is re-exported here, so a body is always
//! `synchub_protocol::rest::Name`.
//!
//! Two error shapes exist, on purpose:
//! - [`ApiErrorBody`] `{"error": {"code", "message"}}` for every new endpoint;
//! - [`LegacyErrorBody`] `{"error": "No active session found"}` for the 404s of the original
//!   session endpoints (`/api/sessions/current`, `/api/sessions/{id}`), whose existing clients
//!   read `error` as a string.

mod readers;
mod relays;
mod report;
mod research;
mod room;
mod sessions;
mod settings;

pub use readers::BluetoothAdapter;
pub use relays::{MAX_RELAY_NAME_BYTES, RelayCreateRequest, RelayCreated, RelayInfo, RelayList};
pub use report::{
    ChangeValues, ChangeWindow, ChangeWindowKind, CurvePoint, MissingChange, ParticipantChange,
    ParticipantReportBody, ReportPhase, RoomMedianPoint,
};
pub use research::{
    ErasedRows, ErasureBody, ParticipantExportBody, ResearchExportBody, ResearchStats,
    ResearchStatsBody,
};
pub use room::{
    ParticipantList, ParticipantSummary, Strap, StrapAssignRequest, StrapAssignment, StrapList,
    StrapState,
};
pub use sessions::{
    PhaseSecs, Schedule, ScheduleMode, SessionCommandBody, SessionInfo, SessionList,
};
pub use settings::{
    AdminTokenBody, HubInfo, PacerRequest, RoomCapacity, StoreFaultInfo, StoreFaultKind,
    StoreStatus, SyncSettingsRequest, SyncState, SyncStatus, SyncTableProgress,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::ErrorCode;
use crate::error::DecodeError;

/// `GET /health` (original shape, plus `problems`). HTTP 200 with `status: "ok"` while the
/// hub can do its job; HTTP 503 with `status: "unavailable"` and the reasons while it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `"ok"`, or `"unavailable"` when `problems` is not empty.
    pub status: String,
    /// Hub time, ms since the Unix epoch.
    pub timestamp: u64,
    /// Why the hub is unavailable; absent when it is healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<HealthProblem>,
}

/// One reason `/health` is red.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthProblem {
    pub code: HealthProblemCode,
    /// What is wrong, for people (`"the store cannot write: disk full (…)"`).
    pub message: String,
    /// What the facilitator can do about it.
    pub advice: String,
}

/// Stable names of what can make `/health` red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthProblemCode {
    /// The store's last write failed (`GET /api/hub`'s `store.fault` says why); new beats are
    /// refused with `store_unavailable` until it writes again.
    StoreCannotWrite,
    /// Free space on the data directory's disk is under the configured threshold.
    DiskNearlyFull,
    /// The engine task is gone; the hub exits so that it is restarted.
    EngineStopped,
    /// The hub held back more of its own records than its bound and dropped derived ones
    /// (scores, group snapshots); beats and session rows are never dropped.
    StoreBacklogFull,
    /// A code this build does not know (newer hub).
    #[serde(other)]
    Unknown,
}

/// `{"error": "…"}`: the original 404 body of `/api/sessions/current` and
/// `/api/sessions/{id}`, kept for their existing clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LegacyErrorBody {
    /// Human-readable message (`"No active session found"`, `"Session not found"`).
    pub error: String,
}

/// The `error` object of [`ApiErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiError {
    /// Stable code to switch on.
    pub code: ErrorCode,
    /// For people; never parse it.
    pub message: String,
}

/// `{"error": {"code", "message"}}`: the error body of every new endpoint, with status 400,
/// 401, 404, 409, 413 or 429 ([`ErrorCode::http_status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiError,
}

impl ApiErrorBody {
    /// An error body with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiErrorBody {
            error: ApiError {
                code,
                message: message.into(),
            },
        }
    }
}

impl From<&DecodeError> for ApiErrorBody {
    fn from(error: &DecodeError) -> Self {
        ApiErrorBody::new(error.code(), error.to_string())
    }
}
