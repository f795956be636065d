//! Research and data rights: the original `GET /api/research/stats`, the facilitator's
//! `GET /api/research/export?format=json`, and a participant's own `GET /api/me/export` and
//! `DELETE /api/me` (authenticated by their resume token).
//!
//! The exported tables are the store's own rows, passed through as JSON: their columns are the
//! research export's (`data.md`), not part of this wire contract, so a table is any JSON value
//! here.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `stats` object of `GET /api/research/stats`; snake_case, as the original sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResearchStats {
    /// Sessions in the last 30 days.
    pub total_sessions: u64,
    /// Distinct (pseudonymised) participants in the last 30 days.
    pub total_users: u64,
    /// Mean group `averageCoherence` over all snapshots, 0–100.
    pub avg_group_coherence: f64,
    /// Highest group `peakCoherence`, 0–100.
    pub max_group_coherence: f64,
    /// Mean participant count over all snapshots.
    pub avg_participants: f64,
}

/// `GET /api/research/stats` (original shape `{success, stats}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResearchStatsBody {
    /// Always `true` on success (errors use `ApiErrorBody`).
    pub success: bool,
    /// The figures.
    pub stats: ResearchStats,
}

/// `GET /api/research/export?format=json` (facilitator): consented data only, every table in
/// one document. (`csv` and `parquet` download as a zip with one file per table.)
//
// The fields are in the order the hub has always written them (alphabetical), so the bytes on
// the wire do not change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResearchExportBody {
    /// The export's id, as recorded in the hub's export log.
    pub export_id: String,
    /// Distinct (pseudonymised) participants exported.
    pub participants: u64,
    /// Sessions exported.
    pub sessions: u64,
    /// Always `true` on success (errors use `ApiErrorBody`).
    pub success: bool,
    /// The rows of each table, by table name.
    pub tables: BTreeMap<String, Value>,
}

/// `GET /api/me/export` (the participant, `Authorization: Bearer <resumeToken>`): everything
/// the hub stored about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantExportBody {
    /// Always `true` on success.
    pub success: bool,
    /// The participant's rows of each table, by table name.
    pub tables: BTreeMap<String, Value>,
}

/// What `DELETE /api/me` erased, in rows.
//
// Alphabetical, as the hub has always written it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasedRows {
    /// RR interval rows (beats).
    pub beat_rows: u64,
    /// Coherence and HRV rows (`hrv_metrics`).
    pub metric_rows: u64,
    /// Pairwise synchrony rows the participant was one of the pair in.
    pub pair_rows: u64,
    /// Session memberships, one per session the participant joined.
    pub participant_rows: u64,
}

/// `DELETE /api/me` (the participant, `Authorization: Bearer <resumeToken>`): their data is
/// erased and a tombstone recorded, so the central database erases it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErasureBody {
    /// Rows erased, per kind.
    pub erased: ErasedRows,
    /// Always `true` on success.
    pub success: bool,
}
