//! Events from the hub to clients. The original platform's events keep every original field
//! with its original name and JSON type; new fields are additions, never renames.
//!
//! These types also deserialize, for the hub's own clients (simulator, projector), which trust
//! the hub and so decode with plain serde.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{CoherencePhase, Contribution, ErrorCode, SessionPhase, SignalQuality};
use crate::error::{DecodeError, DecodeErrorKind};

/// Counts of fresh participants per coherence band (original field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CoherenceDistribution {
    /// Participants with `score < 40`.
    pub low: u32,
    /// Participants with `40 ≤ score < 60`.
    pub medium: u32,
    /// Participants with `score ≥ 60`.
    pub high: u32,
}

/// The group's coherence, computed once per second (original `groupMetrics` plus additions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMetrics {
    /// The session these figures belong to (original).
    pub session_id: String,
    /// When they were computed, ms since the Unix epoch (original).
    pub timestamp: u64,
    /// Everyone joined, fresh or not (original).
    pub participant_count: u32,
    /// Mean score of fresh, good-quality participants, 0–100 (original).
    pub average_coherence: f64,
    /// Highest `averageCoherence` so far in this session, 0–100 (original).
    pub peak_coherence: f64,
    /// Band of `averageCoherence` (original).
    pub coherence_phase: CoherencePhase,
    /// Fresh participants per band (original).
    pub coherence_distribution: CoherenceDistribution,
    /// Median score of fresh participants, 0–100.
    pub median_coherence: f64,
    /// Standard deviation of fresh participants' scores.
    pub std_coherence: f64,
    /// Participants whose score is fresh (≤ 15 s old) and not low quality.
    pub active_count: u32,
    /// Group heart-rhythm synchrony in `0..=1` (Kuramoto order parameter); absent until at
    /// least two participants have hub-side beats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchrony_index: Option<f64>,
    /// The chance level of `synchronyIndex` in `0..=1`: the same round's index computed on
    /// circularly shifted (surrogate) series, which keep each heart's rhythm but break any
    /// shared timing. Synchrony means something only above it. Sent with `synchronyIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchrony_baseline: Option<f64>,
}

/// The session's audio track (original field; the hub keeps it for old clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AudioTrack {
    /// Track id, e.g. `om-chant-432hz`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Length in ms (the original set it to the session duration).
    pub duration: u64,
}

/// `session_joined`: the reply to `join_session` (or to a resuming handshake).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionJoined {
    /// Session id (original).
    pub session_id: String,
    /// Session start, ms since the Unix epoch (original).
    pub started_at: u64,
    /// Session length in ms, 900000 for the original 15-minute slot (original).
    pub duration: u64,
    /// Phase at the time of joining (original).
    pub current_phase: SessionPhase,
    /// Participants joined, including this one (original).
    pub participant_count: u32,
    /// Latest group figures (original).
    pub group_metrics: GroupMetrics,
    /// Audio track (original).
    pub audio_track: AudioTrack,
    /// This participant's id, assigned by the hub; the same after a resume.
    pub participant_id: String,
    /// Secret to resume as this participant within 60 s of a dropped connection. Keep it
    /// private: it also authenticates `GET /api/me/export` and `DELETE /api/me`.
    pub resume_token: String,
    /// When the current phase ends, ms since the Unix epoch.
    pub phase_ends_at: u64,
    /// The room's name, as shown on the projector.
    pub room_name: String,
}

/// `participant_update`: the number of participants changed (original).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantUpdate {
    /// Participants joined now.
    pub participant_count: u32,
}

/// `group_metrics_update`: the group figures, broadcast at 1 Hz (original event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMetricsUpdate {
    /// The figures.
    pub group_metrics: GroupMetrics,
}

/// `personal_feedback`: one participant's own figures, every 5 s and after each
/// `update_coherence` (original fields plus additions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalFeedback {
    /// The participant's score, 0–100 (original).
    pub your_coherence: f64,
    /// The group's `averageCoherence`, 0–100 (original).
    pub group_average: f64,
    /// `helping_lift` when strictly above the group average (original).
    pub contribution: Contribution,
    /// Band of `yourCoherence`.
    pub phase: CoherencePhase,
    /// HeartMath coherence ratio, `score / (100 − score)`, unsquared; absent for
    /// score-only participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coherence_ratio: Option<f64>,
    /// Mean heart rate over the window, beats per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate: Option<f64>,
    /// Breathing rate that drives the rhythm (`60 × peak frequency`), breaths per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaths_per_min: Option<f64>,
    /// How far to trust the score; absent for score-only participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<SignalQuality>,
}

/// `phase_changed`: the session moved to another phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseChanged {
    /// The session.
    pub session_id: String,
    /// The phase that just began.
    pub phase: SessionPhase,
    /// When it began, ms since the Unix epoch.
    pub started_at: u64,
    /// When it is scheduled to end, ms since the Unix epoch (for `complete`, equal to
    /// `startedAt`).
    pub ends_at: u64,
}

/// Milliseconds the group average spent in each coherence band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TimeInPhase {
    /// ms with the group average below 40.
    pub low: u64,
    /// ms with the group average in 40–60.
    pub medium: u64,
    /// ms with the group average at 60 or above.
    pub high: u64,
}

/// The figures of a finished session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    /// Session start, ms since the Unix epoch.
    pub started_at: u64,
    /// Session end, ms since the Unix epoch.
    pub ended_at: u64,
    /// How long it ran, ms (`endedAt − startedAt`; shorter than scheduled when ended early).
    pub duration: u64,
    /// Distinct participants who joined at any time.
    pub participant_count: u32,
    /// Mean of the group's `averageCoherence` over the active phase, 0–100.
    pub average_coherence: f64,
    /// Highest group `averageCoherence`, 0–100.
    pub peak_coherence: f64,
    /// Time the group average spent in each band, ms.
    pub time_in_phase: TimeInPhase,
}

/// `session_complete`: the session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionComplete {
    /// The session.
    pub session_id: String,
    /// Its figures.
    pub summary: SessionSummary,
}

/// `rr_ack`: the beats of batch `seq` are durably stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RrAck {
    /// The `seq` of the acknowledged `rr_intervals`.
    pub seq: u64,
}

/// `pacer`: the room's shared breathing pacer. Breath phase at hub time `hubNow` is
/// `((hubNow − epochHubTime) × breathsPerMin / 60000) mod 1`; inhale while it is below
/// `inhaleRatio`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pacer {
    /// Breaths per minute (6 is the classic resonance pace).
    pub breaths_per_min: f64,
    /// Fraction of each breath spent inhaling, in `(0, 1)`.
    pub inhale_ratio: f64,
    /// Hub time (ms since the Unix epoch) at which a breath began.
    pub epoch_hub_time: u64,
}

impl Pacer {
    /// Breath phase in `[0, 1)` at hub time `hub_now_ms`: 0 is the start of an inhale.
    pub fn breath_phase(&self, hub_now_ms: u64) -> f64 {
        // Signed difference: a client whose offset estimate is slightly off may ask about a
        // moment just before the epoch.
        #[allow(clippy::cast_precision_loss)]
        let elapsed_ms = hub_now_ms as f64 - self.epoch_hub_time as f64;
        (elapsed_ms * self.breaths_per_min / 60_000.0).rem_euclid(1.0)
    }
}

/// `time_sync` from the hub: the answer to a client's `time_sync`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeSyncReply {
    /// The client's `clientTime`, echoed unchanged.
    #[serde(serialize_with = "crate::common::serialize_number_as_sent")]
    pub client_time: f64,
    /// The hub's clock when it answered, ms since the Unix epoch.
    pub hub_time: u64,
}

/// `error`: something the client sent was refused. The original sent `{message}` only;
/// `code` is stable, `message` is for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEvent {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people (names the event and field for `invalid_payload`).
    pub message: String,
}

/// What happened to a claim on a hub-read strap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrapClaimChange {
    /// A participant claimed the strap with `claim_strap`: their device gets the wearer's
    /// feedback from now on.
    Claimed,
    /// The facilitator ended the claim: that device no longer gets the wearer's feedback.
    Revoked,
}

/// `strap_claim`: someone's claim on a hub-read strap began or ended. Sent to the claimer and
/// to the strap's wearer — the devices that show the wearer's feedback (the strap itself has no
/// screen: these are the other devices that claimed it, the wearer's own phone among them) —
/// so nobody watches a stranger's heart without the wearer seeing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapClaim {
    /// The strap's code, as shown in the console.
    pub strap_code: String,
    /// The claimer's slot in the room (0-based, like `claimedBy` in `GET /api/straps`; the
    /// console shows it counted from 1).
    pub claimer_slot: u32,
    /// Whether the claim began or ended.
    pub change: StrapClaimChange,
    /// True on the claimer's own device(s); false on the wearer's.
    pub yours: bool,
}

/// One participant's petal on the projector; no ids.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotParticipant {
    /// Stable position in the room for this session (0-based), so petals do not jump.
    pub slot: u32,
    /// Latest score, 0–100 (0 before the first score, with quality `warming_up`).
    pub coherence: f64,
    /// Band of `coherence`.
    pub phase: CoherencePhase,
    /// How far to trust it.
    pub quality: SignalQuality,
}

/// `room_snapshot` (displays only, 1 Hz): everything a display needs to draw the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomSnapshot {
    /// Hub time of the snapshot, ms since the Unix epoch.
    pub timestamp: u64,
    /// The current session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The session phase (`complete` when there is no session running).
    pub phase: SessionPhase,
    /// ms left in the current phase.
    pub phase_time_left: u64,
    /// ms left in the session.
    pub session_time_left: u64,
    /// One entry per joined participant.
    pub participants: Vec<SnapshotParticipant>,
}

/// Every event the hub sends.
#[derive(Debug, Clone, PartialEq)]
pub enum HubEvent {
    /// `session_joined`
    SessionJoined(Box<SessionJoined>),
    /// `participant_update`
    ParticipantUpdate(ParticipantUpdate),
    /// `group_metrics_update`
    GroupMetricsUpdate(Box<GroupMetricsUpdate>),
    /// `personal_feedback`
    PersonalFeedback(PersonalFeedback),
    /// `phase_changed`
    PhaseChanged(PhaseChanged),
    /// `session_complete`
    SessionComplete(Box<SessionComplete>),
    /// `rr_ack`
    RrAck(RrAck),
    /// `pacer`
    Pacer(Pacer),
    /// `time_sync`
    TimeSync(TimeSyncReply),
    /// `error`
    Error(ErrorEvent),
    /// `room_snapshot` (displays only)
    RoomSnapshot(RoomSnapshot),
    /// `strap_claim`
    StrapClaim(StrapClaim),
}

impl HubEvent {
    /// Every hub event name, in protocol order.
    pub const NAMES: [&'static str; 12] = [
        "session_joined",
        "participant_update",
        "group_metrics_update",
        "personal_feedback",
        "phase_changed",
        "session_complete",
        "rr_ack",
        "pacer",
        "time_sync",
        "error",
        "room_snapshot",
        "strap_claim",
    ];

    /// The wire name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            HubEvent::SessionJoined(_) => "session_joined",
            HubEvent::ParticipantUpdate(_) => "participant_update",
            HubEvent::GroupMetricsUpdate(_) => "group_metrics_update",
            HubEvent::PersonalFeedback(_) => "personal_feedback",
            HubEvent::PhaseChanged(_) => "phase_changed",
            HubEvent::SessionComplete(_) => "session_complete",
            HubEvent::RrAck(_) => "rr_ack",
            HubEvent::Pacer(_) => "pacer",
            HubEvent::TimeSync(_) => "time_sync",
            HubEvent::Error(_) => "error",
            HubEvent::RoomSnapshot(_) => "room_snapshot",
            HubEvent::StrapClaim(_) => "strap_claim",
        }
    }

    /// The event's payload as JSON.
    pub fn data(&self) -> Value {
        // Hub payloads hold strings, numbers and string-keyed maps only, so this cannot fail.
        // A non-finite f64 would become `null`: the engine never produces one.
        serde_json::to_value(self.payload()).unwrap_or(Value::Null)
    }

    /// The plain-WebSocket text frame `{"event": NAME, "data": …}`. Serialise a broadcast
    /// once and send the same string to every connection.
    pub fn to_frame(&self) -> String {
        crate::envelope::frame_from_payload(self.name(), &self.payload())
    }

    /// The payload, serialisable without building a `serde_json::Value` first (for example
    /// `socket.emit(event.name(), &event.payload())` with a Socket.IO library that takes any
    /// `Serialize`).
    pub fn payload(&self) -> HubPayload<'_> {
        HubPayload(self)
    }

    /// Event name and single argument for a Socket.IO `emit`.
    pub fn to_socketio(&self) -> (&'static str, Value) {
        (self.name(), self.data())
    }

    /// Decodes a hub event (for the hub's own clients: simulator, projector, tests).
    pub fn decode(name: &str, data: &Value) -> Result<HubEvent, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(
            name: &str,
            data: &Value,
        ) -> Result<T, DecodeError> {
            T::deserialize(data).map_err(|error| {
                DecodeError::new(
                    Some(name),
                    None,
                    DecodeErrorKind::MalformedJson {
                        detail: error.to_string(),
                    },
                )
            })
        }
        Ok(match name {
            "session_joined" => HubEvent::SessionJoined(Box::new(parse(name, data)?)),
            "participant_update" => HubEvent::ParticipantUpdate(parse(name, data)?),
            "group_metrics_update" => HubEvent::GroupMetricsUpdate(Box::new(parse(name, data)?)),
            "personal_feedback" => HubEvent::PersonalFeedback(parse(name, data)?),
            "phase_changed" => HubEvent::PhaseChanged(parse(name, data)?),
            "session_complete" => HubEvent::SessionComplete(Box::new(parse(name, data)?)),
            "rr_ack" => HubEvent::RrAck(parse(name, data)?),
            "pacer" => HubEvent::Pacer(parse(name, data)?),
            "time_sync" => HubEvent::TimeSync(parse(name, data)?),
            "error" => HubEvent::Error(parse(name, data)?),
            "room_snapshot" => HubEvent::RoomSnapshot(parse(name, data)?),
            "strap_claim" => HubEvent::StrapClaim(parse(name, data)?),
            _ => {
                let shown: String = name
                    .chars()
                    .take(crate::limits::MAX_EVENT_NAME_BYTES)
                    .collect();
                return Err(DecodeError::new(
                    Some(&shown),
                    None,
                    DecodeErrorKind::UnknownEvent,
                ));
            }
        })
    }

    /// Decodes a plain-WebSocket text frame sent by the hub.
    pub fn from_frame(text: &str) -> Result<HubEvent, DecodeError> {
        let (name, data) = crate::envelope::split_frame(text)?;
        HubEvent::decode(&name, &data)
    }
}

/// A [`HubEvent`]'s payload, serialised as the event's `data` (see [`HubEvent::payload`]).
#[derive(Debug, Clone, Copy)]
pub struct HubPayload<'a>(&'a HubEvent);

impl Serialize for HubPayload<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            HubEvent::SessionJoined(payload) => payload.serialize(serializer),
            HubEvent::ParticipantUpdate(payload) => payload.serialize(serializer),
            HubEvent::GroupMetricsUpdate(payload) => payload.serialize(serializer),
            HubEvent::PersonalFeedback(payload) => payload.serialize(serializer),
            HubEvent::PhaseChanged(payload) => payload.serialize(serializer),
            HubEvent::SessionComplete(payload) => payload.serialize(serializer),
            HubEvent::RrAck(payload) => payload.serialize(serializer),
            HubEvent::Pacer(payload) => payload.serialize(serializer),
            HubEvent::TimeSync(payload) => payload.serialize(serializer),
            HubEvent::Error(payload) => payload.serialize(serializer),
            HubEvent::RoomSnapshot(payload) => payload.serialize(serializer),
            HubEvent::StrapClaim(payload) => payload.serialize(serializer),
        }
    }
}

impl From<ErrorEvent> for HubEvent {
    fn from(error: ErrorEvent) -> Self {
        HubEvent::Error(error)
    }
}

impl DecodeError {
    /// The `error` event the hub sends back for this error (the connection stays open).
    pub fn to_error_event(&self) -> ErrorEvent {
        ErrorEvent {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

impl From<DecodeError> for HubEvent {
    fn from(error: DecodeError) -> Self {
        HubEvent::Error(error.to_error_event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(breaths_per_min: f64) -> Pacer {
        Pacer {
            breaths_per_min,
            inhale_ratio: 0.4,
            epoch_hub_time: 1_000_000,
        }
    }

    #[test]
    fn breath_phase_follows_the_documented_formula() {
        // 6 breaths/min: one breath every 10 s.
        let six = pacer(6.0);
        assert_eq!(six.breath_phase(1_000_000), 0.0);
        assert!((six.breath_phase(1_002_500) - 0.25).abs() < 1e-12);
        assert!((six.breath_phase(1_010_000)).abs() < 1e-12);
        // Just before the epoch wraps to the end of the previous breath, never negative.
        assert!((six.breath_phase(999_000) - 0.9).abs() < 1e-12);
    }
}
