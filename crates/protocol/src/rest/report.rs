//! The participant's own report: `GET /api/me/report` with their resume token. Their coherence
//! curve against the room's median, the phases, and their change from baseline beside the
//! room's — nothing of any other participant. Figures follow the session report
//! (`docs/report.md`): the same 5 s grid, counting rule and baseline/end windows.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::SessionPhase;

/// `GET /api/me/report` (the participant, `Authorization: Bearer <resumeToken>`): how their
/// session went, for their join page. Works while the session runs and for 24 hours after it
/// ended (`availableUntil`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantReportBody {
    /// Session id.
    pub session_id: String,
    /// Start, ms since the Unix epoch (hub time). Every `*Secs` below counts from here.
    pub started_at: u64,
    /// End, ms since the Unix epoch; `null` while the session runs.
    pub ended_at: Option<u64>,
    /// Until when (ms since the Unix epoch) the resume token opens this report; `null` while
    /// the session runs.
    pub available_until: Option<u64>,
    /// The phases as they happened.
    pub phases: Vec<ReportPhase>,
    /// `false` when the hub had no coherence score of the participant's (a browser without a
    /// strap): `yourCurve` is empty and `change.yours` is `null`; the room's curve is still
    /// there.
    pub had_heart_data: bool,
    /// The participant's own scores (low-quality ones left out), oldest first.
    pub your_curve: Vec<CurvePoint>,
    /// The room's median coherence every 5 s.
    pub room_median: Vec<RoomMedianPoint>,
    /// The room's median (and its change) is given only where at least this many people make
    /// it up, so that nobody's own score can be worked out from it.
    pub min_room_participants: u32,
    /// Change from baseline.
    pub change: ParticipantChange,
}

/// A phase as it happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportPhase {
    pub phase: SessionPhase,
    /// Start, seconds since the session started.
    pub start_secs: f64,
    /// End, seconds since the session started.
    pub end_secs: f64,
}

/// One of the participant's coherence scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    /// Seconds since the session started.
    pub at_secs: f64,
    /// Coherence, 0–100.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub coherence: f64,
}

/// The room at one point of the 5 s grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomMedianPoint {
    /// Seconds since the session started.
    pub at_secs: f64,
    /// Participants with a fresh, counting score at this point.
    pub counted: u32,
    /// Their median coherence; `null` when fewer than `minRoomParticipants` were counted.
    pub median: Option<f64>,
}

/// The participant's change from baseline, beside the room's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantChange {
    /// The baseline window; `null` (with `end`) when the session had no active phase.
    pub baseline: Option<ChangeWindow>,
    /// The end window.
    pub end: Option<ChangeWindow>,
    /// The participant's mean coherence in both windows; `null` when they were not compared.
    pub yours: Option<ChangeValues>,
    /// Why they were not compared although they had heart data; `null` otherwise.
    pub yours_missing: Option<MissingChange>,
    /// The median of the compared participants' changes; `null` when fewer than
    /// `minRoomParticipants` were compared.
    pub room_median_change: Option<f64>,
    /// How many participants were compared.
    pub room_compared: u32,
}

/// A window of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeWindow {
    pub kind: ChangeWindowKind,
    /// Seconds since the session started.
    pub start_secs: f64,
    pub end_secs: f64,
}

/// Which part of the session a window is (the session report's `change.windows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeWindowKind {
    /// Baseline: the preparation phase (it lasted at least 2 minutes).
    Preparation,
    /// Baseline: the first 2 minutes of the active phase.
    FirstTwoMinutesOfActive,
    /// End: the last 5 minutes of the active phase.
    LastFiveMinutesOfActive,
    /// End: the whole active phase (it lasted less than 5 minutes).
    WholeActive,
    /// End: the active phase after a baseline taken from it.
    ActiveAfterBaseline,
}

/// Mean coherence in the baseline and end windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeValues {
    pub baseline: f64,
    pub end: f64,
    /// `end − baseline`.
    pub change: f64,
}

/// Why a participant with heart data was not compared: fewer than 30 s of scores in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingChange {
    TooLittleBaselineData,
    TooLittleEndData,
    TooLittleDataInBoth,
}
