//! The session endpoints: the original `GET /api/sessions[/current|/{id}]` shapes, the
//! facilitator's start, advance and end commands, and the schedule that decides when sessions
//! run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::SessionPhase;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::hub::{AudioTrack, GroupMetrics, SessionSummary};
use crate::json::Fields;
use crate::limits::{MAX_PHASE_SECS, MAX_SLOT_MINUTES};

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
    pub summary: Option<SessionSummary>,
}

/// `GET /api/sessions`: a bare JSON array, as the original returned it.
pub type SessionList = Vec<SessionInfo>;

/// The answer to the facilitator's session commands: `POST /api/sessions` (status 201),
/// `POST /api/sessions/{id}/advance` and `POST /api/sessions/{id}/end`. The session's full
/// state follows in `phase_changed` and `GET /api/sessions/{id}`.
//
// The fields are in the order the hub has always written them (alphabetical), so the bytes on
// the wire do not change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCommandBody {
    /// The phase the session is in now: `preparation` after a start, `complete` after an end.
    pub phase: SessionPhase,
    /// The session.
    pub session_id: String,
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

/// `PUT /api/schedule` body, and the `schedule` part of `HubInfo` (`GET /api/hub`).
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
