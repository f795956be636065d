//! Events from phones, browsers, simulators and displays to the hub, and their validation.
//!
//! Outside data cannot bypass validation: the payload types have no `Deserialize`, so the only
//! way from JSON to a [`ClientEvent`] is [`ClientEvent::decode`] (or the frame decoders
//! [`decode_ws_frame`] and [`decode_ws_frame_bytes`]). Code that builds events itself (the
//! simulator) is trusted.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::common::{
    Consent, Device, DeviceKind, Intention, IntentionCategory, IntentionUpdateWire, IntentionWire,
};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::handshake::{HELLO_EVENT, Handshake};
use crate::json::Fields;
use crate::limits::{
    MAX_CATEGORY_BYTES, MAX_CHANT_ID_BYTES, MAX_COHERENCE, MAX_EVENT_NAME_BYTES, MAX_MODEL_BYTES,
    MAX_NOTE_BYTES, MAX_RR_MS, MAX_RR_PER_MESSAGE, MAX_STRAP_CODE_BYTES,
};

/// `join_session`: join the room's current session.
///
/// The original web client sends `{intention?: {category, note?}, chantId?}`, the original iOS
/// client `{intention: "grief"}` (`""` for none); both decode to the same value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinSession {
    /// The participant's intention; absent, `null` and `""` all mean none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<IntentionWire>")]
    pub intention: Option<Intention>,
    /// The chant the client plays (original field); at most 64 bytes, `""` is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub chant_id: Option<String>,
    /// Research consent; absent means no research use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    /// The device the participant joins from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}

impl JoinSession {
    /// Whether the participant consented to research use (absent consent is no).
    pub fn research_consented(&self) -> bool {
        self.consent.is_some_and(|consent| consent.research)
    }
}

/// `update_coherence`: a client-computed coherence score (the original protocol).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct UpdateCoherence {
    /// Score on the original 0–100 scale.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub coherence: f64,
}

/// `rr_intervals`: a batch of beat-to-beat intervals; the hub computes the score.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RrIntervals {
    /// RR intervals in milliseconds, oldest first, each in `(0, 60000]`, 1 to 300 of them.
    #[schemars(length(min = 1, max = 300), inner(range(min = 0.0, max = 60000.0)))]
    pub rr: Vec<f64>,
    /// When the last beat ended, in ms since the Unix epoch on the client's clock corrected by
    /// the `time_sync` offset; absent means "at arrival". Fractions are truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 9007199254740991_u64))]
    pub ended_at: Option<u64>,
    /// Batch sequence number; with it the hub answers `rr_ack {seq}` once the beats are durably
    /// stored, and drops a repeated seq.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 9007199254740991_u64))]
    pub seq: Option<u64>,
}

/// `set_intention`: change the intention after joining.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SetIntention {
    /// The new intention; `null` or `""` clears it. The field itself is required.
    #[schemars(with = "IntentionUpdateWire", required)]
    pub intention: Option<Intention>,
}

/// `claim_strap`: take over the participant of a hub-read chest strap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimStrap {
    /// The short code shown next to the strap in the console, 1 to 16 bytes.
    #[schemars(length(min = 1, max = 16))]
    pub strap_code: String,
}

/// `time_sync` from a client: the hub answers `time_sync {clientTime, hubTime}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeSyncRequest {
    /// The client's clock when it sent the request, in ms (any finite number ≥ 0; echoed back
    /// unchanged, fractions included).
    #[schemars(range(min = 0.0))]
    #[serde(serialize_with = "crate::common::serialize_number_as_sent")]
    pub client_time: f64,
}

/// Every event a client may send, decoded and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `hello` (plain WebSocket only): the handshake fields, as the first message.
    Hello(Handshake),
    /// `join_session`
    JoinSession(JoinSession),
    /// `update_coherence`
    UpdateCoherence(UpdateCoherence),
    /// `rr_intervals`
    RrIntervals(RrIntervals),
    /// `set_intention`
    SetIntention(SetIntention),
    /// `claim_strap`
    ClaimStrap(ClaimStrap),
    /// `leave_session` (no data; `null` or `{}` also accepted)
    LeaveSession,
    /// `time_sync`
    TimeSync(TimeSyncRequest),
}

impl ClientEvent {
    /// Every client event name, in protocol order.
    pub const NAMES: [&'static str; 8] = [
        HELLO_EVENT,
        "join_session",
        "update_coherence",
        "rr_intervals",
        "set_intention",
        "claim_strap",
        "leave_session",
        "time_sync",
    ];

    /// The wire name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::Hello(_) => HELLO_EVENT,
            ClientEvent::JoinSession(_) => "join_session",
            ClientEvent::UpdateCoherence(_) => "update_coherence",
            ClientEvent::RrIntervals(_) => "rr_intervals",
            ClientEvent::SetIntention(_) => "set_intention",
            ClientEvent::ClaimStrap(_) => "claim_strap",
            ClientEvent::LeaveSession => "leave_session",
            ClientEvent::TimeSync(_) => "time_sync",
        }
    }

    /// Decodes and validates event `name` with payload `data`. For Socket.IO, `data` is the
    /// event's first argument, or `Value::Null` when it has none.
    pub fn decode(name: &str, data: &Value) -> Result<ClientEvent, DecodeError> {
        match name {
            HELLO_EVENT => Handshake::from_auth(data).map(ClientEvent::Hello),
            "join_session" => decode_join_session(&Fields::of_data(name, data, true)?)
                .map(ClientEvent::JoinSession),
            "update_coherence" => {
                let fields = Fields::of_data(name, data, false)?;
                let value = fields.required("coherence")?;
                let coherence =
                    fields.number_in("coherence", value, 0.0, false, MAX_COHERENCE, "0..=100")?;
                Ok(ClientEvent::UpdateCoherence(UpdateCoherence { coherence }))
            }
            "rr_intervals" => decode_rr_intervals(&Fields::of_data(name, data, false)?)
                .map(ClientEvent::RrIntervals),
            "set_intention" => {
                let fields = Fields::of_data(name, data, false)?;
                // Present-but-null clears the intention; an absent field is a mistake.
                if !fields_has_key(data, "intention") {
                    return Err(fields.error("intention", DecodeErrorKind::MissingField));
                }
                let intention = decode_intention(&fields)?;
                Ok(ClientEvent::SetIntention(SetIntention { intention }))
            }
            "claim_strap" => {
                let fields = Fields::of_data(name, data, false)?;
                let value = fields.required("strapCode")?;
                let strap_code = fields.string("strapCode", value, MAX_STRAP_CODE_BYTES)?;
                if strap_code.is_empty() {
                    return Err(fields.error("strapCode", DecodeErrorKind::Empty));
                }
                Ok(ClientEvent::ClaimStrap(ClaimStrap {
                    strap_code: strap_code.to_owned(),
                }))
            }
            "leave_session" => {
                Fields::of_data(name, data, true)?;
                Ok(ClientEvent::LeaveSession)
            }
            "time_sync" => {
                let fields = Fields::of_data(name, data, false)?;
                let value = fields.required("clientTime")?;
                let client_time =
                    fields.number_in("clientTime", value, 0.0, false, f64::MAX, "a number >= 0")?;
                Ok(ClientEvent::TimeSync(TimeSyncRequest { client_time }))
            }
            _ => {
                // Echo a bounded prefix of the name only: it is attacker-chosen text.
                let shown: String = name.chars().take(MAX_EVENT_NAME_BYTES).collect();
                Err(DecodeError::new(
                    Some(&shown),
                    None,
                    DecodeErrorKind::UnknownEvent,
                ))
            }
        }
    }

    /// Decodes event `name` whose payload is raw JSON text (`""` means no payload).
    pub fn decode_json(name: &str, data_json: &str) -> Result<ClientEvent, DecodeError> {
        let data = if data_json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(data_json).map_err(|error| {
                let shown: String = name.chars().take(MAX_EVENT_NAME_BYTES).collect();
                DecodeError::new(Some(&shown), None, crate::envelope::json_error_kind(&error))
            })?
        };
        ClientEvent::decode(name, &data)
    }

    /// The event's payload as JSON, or `None` for events without data (`leave_session`).
    pub fn data(&self) -> Option<Value> {
        match self {
            ClientEvent::Hello(handshake) => Some(to_value(handshake)),
            ClientEvent::JoinSession(join) => Some(to_value(join)),
            ClientEvent::UpdateCoherence(update) => Some(to_value(update)),
            ClientEvent::RrIntervals(batch) => Some(to_value(batch)),
            ClientEvent::SetIntention(set) => Some(to_value(set)),
            ClientEvent::ClaimStrap(claim) => Some(to_value(claim)),
            ClientEvent::LeaveSession => None,
            ClientEvent::TimeSync(request) => Some(to_value(request)),
        }
    }

    /// The plain-WebSocket text frame `{"event": NAME, "data": …}` (no `data` for
    /// `leave_session`, exactly as the original iOS client writes it).
    pub fn to_frame(&self) -> String {
        crate::envelope::frame_from_parts(self.name(), self.data())
    }

    /// Event name and first argument for a Socket.IO `emit` (`None`: emit without arguments).
    pub fn to_socketio(&self) -> (&'static str, Option<Value>) {
        (self.name(), self.data())
    }
}

/// Decodes and validates one text frame from a client on `/ws`.
///
/// A frame without `data` (the original iOS `leave_session`) has a `null` payload. Keys other
/// than `event` and `data` are ignored.
pub fn decode_ws_frame(text: &str) -> Result<ClientEvent, DecodeError> {
    let (name, data) = crate::envelope::split_frame(text)?;
    ClientEvent::decode(&name, &data)
}

/// Like [`decode_ws_frame`], for a binary frame or raw bytes: the size is checked before the
/// bytes are read as UTF-8.
pub fn decode_ws_frame_bytes(bytes: &[u8]) -> Result<ClientEvent, DecodeError> {
    crate::envelope::check_size(bytes.len())?;
    let text =
        std::str::from_utf8(bytes).map_err(|_| DecodeError::frame(DecodeErrorKind::InvalidUtf8))?;
    decode_ws_frame(text)
}

/// Our payloads hold only strings, finite numbers and string-keyed maps, so serialising them
/// cannot fail; `Null` would only appear if that ever stopped being true.
fn to_value<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

fn fields_has_key(data: &Value, key: &str) -> bool {
    data.as_object().is_some_and(|map| map.contains_key(key))
}

/// The fields of `join_session`, read from any object (a strap assignment carries them too).
pub(crate) fn decode_join_fields(fields: &Fields<'_>) -> Result<JoinSession, DecodeError> {
    decode_join_session(fields)
}

fn decode_join_session(fields: &Fields<'_>) -> Result<JoinSession, DecodeError> {
    let intention = decode_intention(fields)?;
    let chant_id = fields.optional_non_empty_string("chantId", MAX_CHANT_ID_BYTES)?;
    let consent = match fields.optional("consent") {
        None => None,
        Some(value) => {
            let consent = fields.nested("consent", value)?;
            let research = match consent.optional("research") {
                None => false,
                Some(value) => consent.boolean("research", value)?,
            };
            Some(Consent { research })
        }
    };
    let device = match fields.optional("device") {
        None => None,
        Some(value) => {
            let device = fields.nested("device", value)?;
            let kind_value = device.required("kind")?;
            let kind = DeviceKind::from_wire(device.string("kind", kind_value, 32)?);
            let model = device.optional_non_empty_string("model", MAX_MODEL_BYTES)?;
            Some(Device { kind, model })
        }
    };
    Ok(JoinSession {
        intention,
        chant_id,
        consent,
        device,
    })
}

/// The `intention` field in either shape: object (web) or bare category string (iOS).
fn decode_intention(fields: &Fields<'_>) -> Result<Option<Intention>, DecodeError> {
    let Some(value) = fields.optional("intention") else {
        return Ok(None);
    };
    match value {
        Value::String(_) => {
            let category = fields.string("intention", value, MAX_CATEGORY_BYTES)?;
            Ok((!category.is_empty()).then(|| Intention {
                category: IntentionCategory::from_wire(category),
                note: None,
            }))
        }
        Value::Object(_) => {
            let intention = fields.nested("intention", value)?;
            let category_value = intention.required("category")?;
            let category = intention.string("category", category_value, MAX_CATEGORY_BYTES)?;
            if category.is_empty() {
                return Err(intention.error("category", DecodeErrorKind::Empty));
            }
            let note = intention.optional_non_empty_string("note", MAX_NOTE_BYTES)?;
            Ok(Some(Intention {
                category: IntentionCategory::from_wire(category),
                note,
            }))
        }
        other => Err(fields.error(
            "intention",
            DecodeErrorKind::WrongType {
                expected: "an object or a string",
                found: crate::json::type_name(other),
            },
        )),
    }
}

fn decode_rr_intervals(fields: &Fields<'_>) -> Result<RrIntervals, DecodeError> {
    let rr_value = fields.required("rr")?;
    let values = fields.array("rr", rr_value)?;
    if values.len() > MAX_RR_PER_MESSAGE {
        return Err(fields.error(
            "rr",
            DecodeErrorKind::TooManyRr {
                count: values.len(),
                max: MAX_RR_PER_MESSAGE,
            },
        ));
    }
    if values.is_empty() {
        return Err(fields.error("rr", DecodeErrorKind::Empty));
    }
    let mut rr = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        // The fast path accepts a beat without building its field path; the full check runs
        // (and names `rr[i]`) only for a beat the fast path did not accept.
        let rr_ms = match value.as_f64() {
            Some(rr_ms) if rr_ms > 0.0 && rr_ms <= MAX_RR_MS => rr_ms,
            _ => fields.number_in(
                &format!("rr[{index}]"),
                value,
                0.0,
                true,
                MAX_RR_MS,
                "0<..=60000",
            )?,
        };
        rr.push(rr_ms);
    }
    let ended_at = match fields.optional("endedAt") {
        None => None,
        Some(value) => Some(fields.time_ms("endedAt", value)?),
    };
    let seq = match fields.optional("seq") {
        None => None,
        Some(value) => Some(fields.unsigned_integer("seq", value)?),
    };
    Ok(RrIntervals { rr, ended_at, seq })
}
