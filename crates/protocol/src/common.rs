//! Value types that appear in several events and bodies: phases, bands, intentions, devices,
//! error codes. Their JSON spellings are those of the original platform.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The phase of a session. `duration` and the phase lengths come from the schedule; the
/// original rolling session was preparation 30 s, active 12.5 min, integration 2 min.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// Settling in before the measured part.
    Preparation,
    /// The measured part of the session.
    Active,
    /// Winding down after the active part.
    Integration,
    /// Over; no more data is accepted for it.
    Complete,
}

/// The lowest score of the **medium** coherence band (`coherence.md` §2, the original
/// platform's threshold). The one copy: the hub's analysis, the projector's colours and, through
/// the `coherence_bands` JSON Schema, the web UI all read it from here.
pub const MEDIUM_COHERENCE_MIN_SCORE: f64 = 40.0;

/// The lowest score of the **high** coherence band (`coherence.md` §2); see
/// [`MEDIUM_COHERENCE_MIN_SCORE`].
pub const HIGH_COHERENCE_MIN_SCORE: f64 = 60.0;

/// The band thresholds as a document, so the JSON Schema (`coherence_bands.json`) carries them
/// as `const` values and clients that generate code from the schema get the numbers with the
/// types instead of writing them again.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoherenceBands {
    /// Scores at or above this and below `highMinScore` are **medium**; below it, **low**.
    #[schemars(extend("const" = MEDIUM_COHERENCE_MIN_SCORE))]
    pub medium_min_score: f64,
    /// Scores at or above this are **high**.
    #[schemars(extend("const" = HIGH_COHERENCE_MIN_SCORE))]
    pub high_min_score: f64,
}

impl CoherenceBands {
    /// The thresholds in force: [`MEDIUM_COHERENCE_MIN_SCORE`] and [`HIGH_COHERENCE_MIN_SCORE`].
    pub const CURRENT: CoherenceBands = CoherenceBands {
        medium_min_score: MEDIUM_COHERENCE_MIN_SCORE,
        high_min_score: HIGH_COHERENCE_MIN_SCORE,
    };
}

/// A coherence band: **low** `score < 40`, **medium** `40 ≤ score < 60`, **high** `score ≥ 60`.
//
// The numbers are MEDIUM_COHERENCE_MIN_SCORE and HIGH_COHERENCE_MIN_SCORE (this text is also the
// schema's description, where Rust links would not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoherencePhase {
    /// `score < 40`.
    Low,
    /// `40 ≤ score < 60`.
    Medium,
    /// `score ≥ 60`.
    High,
}

impl CoherencePhase {
    /// The band of a 0–100 coherence score. NaN is low: it is below no threshold, and a score
    /// that cannot be read must not look good.
    pub fn from_score(score: f64) -> Self {
        match score {
            s if s >= HIGH_COHERENCE_MIN_SCORE => CoherencePhase::High,
            s if s >= MEDIUM_COHERENCE_MIN_SCORE => CoherencePhase::Medium,
            _ => CoherencePhase::Low,
        }
    }
}

/// How a participant's score compares with the group average (original `personal_feedback`):
/// above the average helps lift the group, at or below it is supported by the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Contribution {
    /// `yourCoherence > groupAverage`.
    HelpingLift,
    /// `yourCoherence ≤ groupAverage`.
    BeingSupported,
}

impl Contribution {
    /// The original rule: strictly above the average is `helping_lift`.
    pub fn from_scores(your_coherence: f64, group_average: f64) -> Self {
        if your_coherence > group_average {
            Contribution::HelpingLift
        } else {
            Contribution::BeingSupported
        }
    }
}

/// How much to trust a participant's current score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalQuality {
    /// A full window of clean beats.
    Good,
    /// Too many beats were missing or corrected; reported but left out of group figures.
    Low,
    /// Fewer than 64 s of beats yet; a provisional score (or none, with coherence 0).
    WarmingUp,
}

/// The intention categories of the original platform. A category this hub does not know is
/// kept as `other`, because clients evolve faster than hubs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentionCategory {
    /// `physical_healing`
    PhysicalHealing,
    /// `emotional_release`
    EmotionalRelease,
    /// `anxiety`
    Anxiety,
    /// `abundance`
    Abundance,
    /// `energy`
    Energy,
    /// `grief`
    Grief,
    /// `other`, and every category this hub does not know.
    Other,
}

impl IntentionCategory {
    /// All categories, in the order the original clients list them.
    pub const ALL: [IntentionCategory; 7] = [
        IntentionCategory::PhysicalHealing,
        IntentionCategory::EmotionalRelease,
        IntentionCategory::Anxiety,
        IntentionCategory::Abundance,
        IntentionCategory::Energy,
        IntentionCategory::Grief,
        IntentionCategory::Other,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentionCategory::PhysicalHealing => "physical_healing",
            IntentionCategory::EmotionalRelease => "emotional_release",
            IntentionCategory::Anxiety => "anxiety",
            IntentionCategory::Abundance => "abundance",
            IntentionCategory::Energy => "energy",
            IntentionCategory::Grief => "grief",
            IntentionCategory::Other => "other",
        }
    }

    /// The category a client sent; unknown spellings become [`IntentionCategory::Other`].
    pub fn from_wire(text: &str) -> Self {
        IntentionCategory::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
            .unwrap_or(IntentionCategory::Other)
    }
}

impl fmt::Display for IntentionCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A participant's intention. The `note` is private: the hub never stores it and never sends
/// it on.
//
// `Debug` prints only the note's length, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Intention {
    /// The category (unknown ones arrive as `other`).
    pub category: IntentionCategory,
    /// A private free-text note, at most 500 bytes; `""` is none. Never stored, never sent on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub note: Option<String>,
}

impl fmt::Debug for Intention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intention")
            .field("category", &self.category)
            .field(
                "note",
                &self
                    .note
                    .as_ref()
                    .map(|note| format!("<private, {} bytes>", note.len())),
            )
            .finish()
    }
}

/// What clients may send as an intention: the web client's object or the iOS client's bare
/// category string (`""` for none). Exists for the JSON Schema; decoding is in `client`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only its schema is used.
pub(crate) enum IntentionWire {
    /// Web client: `{"category": "grief", "note": "…"}`.
    Object(Intention),
    /// iOS client: `"grief"`, or `""` for none; at most 64 bytes. Unknown categories are kept
    /// as `other`.
    Category(String),
}

/// What `set_intention` accepts: either intention shape, or `null` to clear it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only its schema is used.
pub(crate) enum IntentionUpdateWire {
    /// The new intention, in either shape (`""` clears it).
    Intention(IntentionWire),
    /// `null` clears the intention.
    Clear(()),
}

/// Research consent given at join. Absent consent means no research use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Consent {
    /// Whether this participant's pseudonymised data may be used for research.
    pub research: bool,
}

/// What kind of client a participant joins from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// An iPhone app.
    Ios,
    /// An Android app.
    Android,
    /// The browser join page.
    Web,
    /// A chest strap read by the hub over Bluetooth LE.
    Ble,
    /// The participant simulator.
    Sim,
    /// A kind this hub does not know (kept rather than refused, like intention categories).
    Other,
}

impl DeviceKind {
    /// The kind a client sent; unknown spellings become [`DeviceKind::Other`].
    pub fn from_wire(text: &str) -> Self {
        match text {
            "ios" => DeviceKind::Ios,
            "android" => DeviceKind::Android,
            "web" => DeviceKind::Web,
            "ble" => DeviceKind::Ble,
            "sim" => DeviceKind::Sim,
            _ => DeviceKind::Other,
        }
    }
}

/// The device a participant joins from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Device {
    /// The kind of client.
    pub kind: DeviceKind,
    /// Model name (`"iPhone15,2"`, `"Polar H10"`), at most 64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub model: Option<String>,
}

/// Stable error codes, for the `error` event and for REST error bodies. Clients switch on the
/// code, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The handshake's `roomCode` is missing or wrong; the hub disconnects afterwards.
    BadRoomCode,
    /// A frame or payload broke the contract; the message names the event and field.
    InvalidPayload,
    /// The connection (or, for room codes, the IP address) sends faster than allowed.
    RateLimited,
    /// There is no session to join right now (manual schedule, between sessions).
    NoActiveSession,
    /// The room is at its participant limit.
    SessionFull,
    /// A frame (or request body) over 64 KiB.
    TooLarge,
    /// `rr_intervals` whose beats are more than 5 minutes old or more than 5 s in the future.
    StaleBeats,
    /// An event name the hub does not know.
    UnknownEvent,
    /// An event that needs `join_session` first.
    NotJoined,
    /// An event this connection may not send (a display sends only `time_sync`).
    NotAllowed,
    /// `claim_strap` with a code no strap in the room shows.
    UnknownStrap,
    /// REST: missing or wrong admin token (HTTP 401).
    Unauthorized,
    /// REST: no such resource (HTTP 404).
    NotFound,
    /// REST: the request conflicts with the current state, e.g. advancing an ended session
    /// (HTTP 409).
    Conflict,
    /// The hub cannot store right now (disk full, read-only, locked): `rr_intervals` was not
    /// taken. Keep the batch and resend it, like any batch without `rr_ack`; the hub recovers
    /// by itself. REST: HTTP 503.
    StoreUnavailable,
    /// The hub failed; details are in its log, not in the message.
    Internal,
    /// A code this build does not know (newer hub). Never sent by this hub.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRoomCode => "bad_room_code",
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NoActiveSession => "no_active_session",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::StaleBeats => "stale_beats",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::UnknownStrap => "unknown_strap",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The HTTP status a REST response with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRoomCode | ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound | ErrorCode::NoActiveSession | ErrorCode::UnknownStrap => 404,
            ErrorCode::Conflict | ErrorCode::SessionFull | ErrorCode::NotJoined => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::NotAllowed => 403,
            ErrorCode::InvalidPayload | ErrorCode::StaleBeats | ErrorCode::UnknownEvent => 400,
            ErrorCode::StoreUnavailable => 503,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes a whole `f64` as a JSON integer (`1732630509870`, not `1732630509870.0`), so a
/// value a client sent is echoed in the form it was sent; fractions are written as they are.
pub(crate) fn serialize_number_as_sent<S: serde::Serializer>(
    x: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    const MAX_EXACT: f64 = crate::limits::MAX_SAFE_INTEGER as f64;
    if x.fract() == 0.0 && (0.0..=MAX_EXACT).contains(x) {
        // Whole and inside 0..=2^53-1, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return serializer.serialize_u64(*x as u64);
    }
    serializer.serialize_f64(*x)
}
