//! Bodies of the hub's HTTP API. The public endpoints keep the original platform's shapes
//! (`GET /health`, `GET /api/sessions[/current|/{id}]`, `GET /api/research/stats`); the
//! facilitator endpoints are new.
//!
//! Two error shapes exist, on purpose:
//! - [`ApiErrorBody`] `{"error": {"code", "message"}}` for every new endpoint;
//! - [`LegacyErrorBody`] `{"error": "No active session found"}` for the 404s of the original
//!   session endpoints (`/api/sessions/current`, `/api/sessions/{id}`), whose existing clients
//!   read `error` as a string.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{CoherencePhase, DeviceKind, ErrorCode, SessionPhase, SignalQuality};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::hub::{AudioTrack, GroupMetrics};
use crate::json::Fields;
use crate::limits::{MAX_PHASE_SECS, MAX_SLOT_MINUTES};

/// `GET /health` (original shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// Always `"ok"` when the hub answers.
    pub status: String,
    /// Hub time, ms since the Unix epoch.
    pub timestamp: u64,
}

/// One session as `GET /api/sessions/current`, `GET /api/sessions/{id}` and each element of
/// `GET /api/sessions` return it (original shape, plus `phaseEndsAt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// Start, ms since the Unix epoch.
    pub started_at: u64,
    /// Scheduled length, ms.
    pub duration: u64,
    /// Current phase.
    pub current_phase: SessionPhase,
    /// Participants joined now.
    pub participant_count: u32,
    /// Latest group figures.
    pub group_metrics: GroupMetrics,
    /// Audio track.
    pub audio_track: AudioTrack,
    /// When the current phase ends, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_ends_at: Option<u64>,
    /// A completed session's figures (as in `session_complete`): how long it really ran, its
    /// average and peak, the time in each band. Absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::hub::SessionSummary>,
}

/// `GET /api/sessions`: a bare JSON array, as the original returned it.
pub type SessionList = Vec<SessionInfo>;

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

/// How sessions are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleMode {
    /// A new session every `slotMinutes`, back to back (the original behaviour).
    Rolling,
    /// Sessions start only when the facilitator starts them.
    Manual,
}

/// Phase lengths in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseSecs {
    /// Preparation, s (original: 30).
    #[schemars(range(max = 14400))]
    pub preparation: u32,
    /// Active, s (original: 750); at least 1.
    #[schemars(range(min = 1, max = 14400))]
    pub active: u32,
    /// Integration, s (original: 120).
    #[schemars(range(max = 14400))]
    pub integration: u32,
}

impl PhaseSecs {
    /// Total length of the three phases, in seconds.
    pub fn total_secs(&self) -> u64 {
        u64::from(self.preparation) + u64::from(self.active) + u64::from(self.integration)
    }
}

/// `PUT /api/schedule` body, and the `schedule` part of [`HubInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Rolling or manual.
    pub mode: ScheduleMode,
    /// Length of a rolling slot in minutes, `1..=240` (original: 15). The phases must fit in it.
    #[schemars(range(min = 1, max = 240))]
    pub slot_minutes: u32,
    /// Phase lengths, s.
    pub phases: PhaseSecs,
}

impl Schedule {
    /// The original platform's schedule: rolling 15-minute slots, 30 s / 12.5 min / 2 min.
    pub const ORIGINAL: Schedule = Schedule {
        mode: ScheduleMode::Rolling,
        slot_minutes: 15,
        phases: PhaseSecs {
            preparation: 30,
            active: 750,
            integration: 120,
        },
    };

    /// Validates a `PUT /api/schedule` body: types are strict, every phase at most 4 h, the
    /// active phase at least 1 s, and the phases fit in the slot.
    pub fn decode(body: &Value) -> Result<Schedule, DecodeError> {
        const EVENT: &str = "PUT /api/schedule";
        let fields = Fields::of_data(EVENT, body, false)?;
        let mode_value = fields.required("mode")?;
        let mode = match fields.string("mode", mode_value, 16)? {
            "rolling" => ScheduleMode::Rolling,
            "manual" => ScheduleMode::Manual,
            _ => {
                return Err(fields.error(
                    "mode",
                    DecodeErrorKind::InvalidValue {
                        allowed: "\"rolling\" or \"manual\"",
                    },
                ));
            }
        };
        let slot_value = fields.required("slotMinutes")?;
        let slot_minutes = bounded_u32(
            &fields,
            "slotMinutes",
            slot_value,
            1,
            MAX_SLOT_MINUTES,
            "1..=240",
        )?;
        let phases_value = fields.required("phases")?;
        let phase_fields = fields.nested("phases", phases_value)?;
        let phase = |key: &str, min: u32, allowed: &'static str| {
            let value = phase_fields.required(key)?;
            bounded_u32(&phase_fields, key, value, min, MAX_PHASE_SECS, allowed)
        };
        let phases = PhaseSecs {
            preparation: phase("preparation", 0, "0..=14400")?,
            active: phase("active", 1, "1..=14400")?,
            integration: phase("integration", 0, "0..=14400")?,
        };
        if phases.total_secs() > u64::from(slot_minutes) * 60 {
            return Err(fields.error(
                "phases",
                DecodeErrorKind::OutOfRange {
                    allowed: "preparation + active + integration <= slotMinutes × 60",
                },
            ));
        }
        Ok(Schedule {
            mode,
            slot_minutes,
            phases,
        })
    }
}

fn bounded_u32(
    fields: &Fields<'_>,
    key: &str,
    value: &Value,
    min: u32,
    max: u32,
    allowed: &'static str,
) -> Result<u32, DecodeError> {
    let n = fields.unsigned_integer(key, value)?;
    u32::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| fields.error(key, DecodeErrorKind::OutOfRange { allowed }))
}

/// State of the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    /// Whether the store accepts writes.
    pub ok: bool,
    /// Records waiting for the writer thread.
    pub queue_depth: u64,
    /// Size of the database file, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// State of the push to the central database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// No central database configured.
    Disabled,
    /// Configured, never run.
    Never,
    /// Not running now; the last run succeeded.
    Idle,
    /// Running now.
    Running,
    /// The last run failed (`lastError` says why).
    Failed,
}

/// Central sync status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// What the sync is doing.
    pub state: SyncState,
    /// End of the last successful sync, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<u64>,
    /// Rows stored locally and not yet in the central database.
    pub unsynced_rows: u64,
    /// Why the last run failed (no credentials or hosts in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The central database, without its password; absent when none is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Seconds between background syncs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_secs: Option<u64>,
    /// Per-table progress of the run under way, or of the last run.
    #[serde(default)]
    pub tables: Vec<SyncTableProgress>,
}

/// One table's progress in a central sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncTableProgress {
    /// Table name, e.g. `rr_intervals`.
    pub table: String,
    /// Rows sent so far in this run.
    pub rows: u64,
    /// The table is done for this run.
    pub done: bool,
}

/// `PUT /api/sync` (facilitator): where stored sessions are synced. `databaseUrl: null` turns
/// the background sync off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettingsRequest {
    /// `postgres://user:password@host:port/database` (`?sslmode=require` for a remote one);
    /// `null` turns the sync off.
    pub database_url: Option<String>,
    /// Seconds between background syncs, `10..=86400` (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 86400))]
    pub every_secs: Option<u64>,
}

impl SyncSettingsRequest {
    /// Validates a `PUT /api/sync` body (the URL's syntax is the hub's to check).
    pub fn decode(body: &Value) -> Result<SyncSettingsRequest, DecodeError> {
        let fields = Fields::of_data("PUT /api/sync", body, false)?;
        if !body
            .as_object()
            .is_some_and(|map| map.contains_key("databaseUrl"))
        {
            return Err(fields.error("databaseUrl", DecodeErrorKind::MissingField));
        }
        let database_url = match fields.optional("databaseUrl") {
            None => None,
            Some(value) => {
                let url = fields.string("databaseUrl", value, 2048)?.trim();
                if url.is_empty() {
                    None
                } else {
                    Some(url.to_owned())
                }
            }
        };
        let every_secs = match fields.optional("everySecs") {
            None => None,
            Some(value) => {
                let secs = fields.unsigned_integer("everySecs", value)?;
                if !(10..=86_400).contains(&secs) {
                    return Err(fields.error(
                        "everySecs",
                        DecodeErrorKind::OutOfRange {
                            allowed: "10..=86400",
                        },
                    ));
                }
                Some(secs)
            }
        };
        Ok(SyncSettingsRequest {
            database_url,
            every_secs,
        })
    }
}

/// `GET /api/hub` (facilitator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HubInfo {
    /// The room's name.
    pub name: String,
    /// Hub version (semver).
    pub version: String,
    /// The room code participants must give; absent when none is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_code: Option<String>,
    /// `http://<lan-ip>:<port>/join?room=<code>`, shown as a QR code.
    pub join_url: String,
    /// The schedule in force.
    pub schedule: Schedule,
    /// Local store.
    pub store: StoreStatus,
    /// Central sync.
    pub sync: SyncStatus,
}

/// One participant of the current room, anonymised (no ids, no names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantSummary {
    /// Stable position in the room for this session (0-based), as in `room_snapshot`.
    pub slot: u32,
    /// Where the data comes from.
    pub source: DeviceKind,
    /// Whether the participant's connection (or strap) is up; resumable for 60 s when not.
    pub connected: bool,
    /// Latest score, 0–100; absent before the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coherence: Option<f64>,
    /// Band of `coherence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CoherencePhase>,
    /// Signal quality; absent for score-only participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<SignalQuality>,
    /// Battery of a hub-read strap, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub strap_battery: Option<u8>,
    /// The short code shown next to a hub-read strap, for `claim_strap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strap_code: Option<String>,
}

/// `GET /api/participants` (facilitator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantList {
    /// Everyone in the room, ordered by slot.
    pub participants: Vec<ParticipantSummary>,
}

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
    /// Always `true` on success (errors use [`ApiErrorBody`]).
    pub success: bool,
    /// The figures.
    pub stats: ResearchStats,
}

/// `PUT /api/pacer` (facilitator): the room's breathing pace. Answered with the new `pacer`
/// body, which every client also receives as a `pacer` event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PacerRequest {
    /// Breaths per minute, `1..=30` (6 is the classic resonance pace).
    #[schemars(range(min = 1.0, max = 30.0))]
    pub breaths_per_min: f64,
    /// Fraction of each breath spent inhaling, `0.1..=0.9`; absent keeps the current ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 0.9))]
    pub inhale_ratio: Option<f64>,
}

impl PacerRequest {
    /// Validates a `PUT /api/pacer` body.
    pub fn decode(body: &Value) -> Result<PacerRequest, DecodeError> {
        let fields = Fields::of_data("PUT /api/pacer", body, false)?;
        let value = fields.required("breathsPerMin")?;
        let breaths_per_min =
            fields.number_in("breathsPerMin", value, 1.0, false, 30.0, "1..=30")?;
        let inhale_ratio = match fields.optional("inhaleRatio") {
            None => None,
            Some(value) => {
                Some(fields.number_in("inhaleRatio", value, 0.1, false, 0.9, "0.1..=0.9")?)
            }
        };
        Ok(PacerRequest {
            breaths_per_min,
            inhale_ratio,
        })
    }
}

/// What a hub-read strap is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrapState {
    /// Seen advertising; not connected (yet).
    Discovered,
    /// Connected and sending heartbeats with skin contact (or contact not reported).
    Connected,
    /// Connected, but the strap reports no skin contact: its beats are not used.
    NoContact,
    /// The connection dropped; the hub is reconnecting with backoff.
    Reconnecting,
}

/// The participant a strap is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapAssignment {
    /// The facilitator's label for the wearer (kept in the hub's memory only, never stored).
    pub label: String,
    /// The participant's slot in the current session, once joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
}

/// One strap of `GET /api/straps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strap {
    /// Stable id (the Bluetooth address on Linux), used in `/api/straps/{id}/assign`.
    pub id: String,
    /// Short code shown in the console and typed by a participant in `claim_strap`.
    pub code: String,
    /// Advertised name, e.g. "Polar H10 A1B2C3D4".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Device Information model number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Device Information manufacturer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    pub state: StrapState,
    /// Signal strength, dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i16>,
    /// Battery, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub battery_pct: Option<u8>,
    /// Battery at or below 15 %.
    pub battery_low: bool,
    /// Latest heart rate the strap reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate_bpm: Option<u16>,
    /// Set for optical sensors whose RR intervals are smoothed: their coherence is not
    /// comparable with a chest strap's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothed_rr_warning: Option<String>,
    /// Whom the strap is assigned to; absent when free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<StrapAssignment>,
}

/// `GET /api/straps` (facilitator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapList {
    /// Whether the hub reads straps: false when started without `--ble` or when the
    /// computer has no usable Bluetooth.
    pub available: bool,
    /// Why straps are not available (the Bluetooth stack's own error, or how to enable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Discovered and assigned straps, by code.
    pub straps: Vec<Strap>,
}

/// `POST /api/straps/{id}/assign` (facilitator): who wears the strap. `intention` and
/// `consent` mean what they mean in `join_session`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapAssignRequest {
    /// A label for the facilitator (a first name, a seat number); at most 64 bytes.
    #[schemars(length(min = 1, max = 64))]
    pub label: String,
    #[serde(flatten)]
    pub join: crate::client::JoinSession,
}

impl StrapAssignRequest {
    /// Validates a `POST /api/straps/{id}/assign` body.
    pub fn decode(body: &Value) -> Result<StrapAssignRequest, DecodeError> {
        const EVENT: &str = "POST /api/straps/{id}/assign";
        let fields = Fields::of_data(EVENT, body, false)?;
        let value = fields.required("label")?;
        let label = fields.string("label", value, 64)?.trim().to_owned();
        if label.is_empty() {
            return Err(fields.error(
                "label",
                DecodeErrorKind::InvalidValue {
                    allowed: "a label that is not blank",
                },
            ));
        }
        let join = crate::client::decode_join_fields(&fields)?;
        Ok(StrapAssignRequest { label, join })
    }
}
