//! Who is in the room: the anonymised participant list and the hub-read chest straps
//! (`GET /api/participants`, `GET /api/straps`, `POST|DELETE /api/straps/{id}/assign`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{JoinSession, decode_join_fields};
use crate::common::{CoherencePhase, DeviceKind, SignalQuality};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::json::Fields;
use crate::rest::BluetoothAdapter;

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
    /// The connection dropped; the hub is reconnecting with backoff. Also a strap that no
    /// adapter hears any more (`connectionProblem` says so).
    Reconnecting,
    /// Heard, but every Bluetooth adapter that hears it has all its connections in use:
    /// `connectionProblem` says which and what to do (add an adapter or a relay).
    NoFreeConnection,
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

/// One strap of `GET /api/straps`; also the answer to `POST /api/straps/{id}/assign`, with
/// `assigned` set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strap {
    /// Stable id (the Bluetooth address on Linux), used in `/api/straps/{id}/assign`.
    pub id: String,
    /// Short code shown in the console and typed by a participant in `claim_strap`; derived
    /// with the hub's secret (a Bluetooth scan does not reveal it) and unique in the room.
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
    /// The Bluetooth adapter the strap's connection goes through (or is being attempted
    /// through), e.g. "hci0"; one of `adapters` in `GET /api/straps`. Absent while it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// Why the strap cannot be connected and what to do about it (plug in another adapter, or
    /// read it with a relay near it); absent while nothing stands in its way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_problem: Option<String>,
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
    /// The slots (as shown in the room) of the participants who claimed the strap with
    /// `claim_strap` and receive its wearer's feedback; the facilitator can revoke each claim
    /// (`DELETE /api/straps/{id}/claims/{slot}`). Absent when nobody claimed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed_by: Vec<u32>,
    /// The relay (`synchub relay`) that reads this strap, by the name it was given in
    /// `POST /api/relays`; absent for a strap the hub reads itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
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
    /// The Bluetooth adapters the hub reads straps through, by id, including those that went
    /// away while it ran (`present: false`); empty without Bluetooth.
    pub adapters: Vec<BluetoothAdapter>,
    /// What to do when straps are heard but cannot all be connected, or no adapter is left;
    /// absent when there is nothing to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
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
    pub join: JoinSession,
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
        let join = decode_join_fields(&fields)?;
        Ok(StrapAssignRequest { label, join })
    }
}
