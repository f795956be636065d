//! JSON Schema (draft 2020-12) of every payload, generated from the Rust types so the
//! committed files under `docs/protocol/schema/` can never drift from the code unnoticed
//! (a test compares them).
//!
//! One file per payload: `client.<event>.json` for what clients send (validation contract),
//! `hub.<event>.json` for what the hub sends (serialisation contract), `rest.<body>.json` for
//! HTTP bodies, `handshake.json` for the handshake. `leave_session` has no payload and so no
//! file.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

use crate::client::{
    ClaimStrap, JoinSession, RrIntervals, SetIntention, TimeSyncRequest, UpdateCoherence,
};
use crate::handshake::Handshake;
use crate::hub::{
    ErrorEvent, GroupMetricsUpdate, Pacer, ParticipantUpdate, PersonalFeedback, PhaseChanged,
    RoomSnapshot, RrAck, SessionComplete, SessionJoined, TimeSyncReply,
};
use crate::rest::{
    ApiErrorBody, Health, HubInfo, LegacyErrorBody, PacerRequest, ParticipantList,
    ResearchStatsBody, Schedule, SessionInfo, SessionList, StrapAssignRequest, StrapList,
    SyncSettingsRequest,
};

/// One generated schema and the file it belongs in.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaFile {
    /// File name inside `docs/protocol/schema/`.
    pub file_name: String,
    /// The schema.
    pub schema: Value,
}

impl SchemaFile {
    /// The file's exact contents: pretty-printed JSON with a trailing newline.
    pub fn contents(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Which side of serde the schema describes.
#[derive(Clone, Copy)]
enum Direction {
    /// What the hub accepts (optional fields may be absent).
    Accepted,
    /// What the hub emits (fields it always writes are required).
    Emitted,
}

fn schema_of<T: JsonSchema>(direction: Direction, description: &str) -> Value {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Accepted => settings.for_deserialize(),
        Direction::Emitted => settings.for_serialize(),
    };
    let mut schema: Schema = settings.into_generator().into_root_schema_for::<T>();
    schema.insert(
        "description".to_owned(),
        Value::String(description.to_owned()),
    );
    schema.to_value()
}

/// Every schema, in a stable order.
pub fn schema_files() -> Vec<SchemaFile> {
    use Direction::{Accepted, Emitted};
    let file = |file_name: &str, schema: Value| SchemaFile {
        file_name: file_name.to_owned(),
        schema,
    };
    vec![
        file(
            "handshake.json",
            schema_of::<Handshake>(
                Accepted,
                "Handshake: Socket.IO `auth`, the `hello` event's data on /ws, or the /ws query string.",
            ),
        ),
        file(
            "client.join_session.json",
            schema_of::<JoinSession>(Accepted, "Client → hub `join_session` data."),
        ),
        file(
            "client.update_coherence.json",
            schema_of::<UpdateCoherence>(Accepted, "Client → hub `update_coherence` data."),
        ),
        file(
            "client.rr_intervals.json",
            schema_of::<RrIntervals>(Accepted, "Client → hub `rr_intervals` data."),
        ),
        file(
            "client.set_intention.json",
            schema_of::<SetIntention>(Accepted, "Client → hub `set_intention` data."),
        ),
        file(
            "client.claim_strap.json",
            schema_of::<ClaimStrap>(Accepted, "Client → hub `claim_strap` data."),
        ),
        file(
            "client.time_sync.json",
            schema_of::<TimeSyncRequest>(Accepted, "Client → hub `time_sync` data."),
        ),
        file(
            "hub.session_joined.json",
            schema_of::<SessionJoined>(Emitted, "Hub → client `session_joined` data."),
        ),
        file(
            "hub.participant_update.json",
            schema_of::<ParticipantUpdate>(Emitted, "Hub → client `participant_update` data."),
        ),
        file(
            "hub.group_metrics_update.json",
            schema_of::<GroupMetricsUpdate>(Emitted, "Hub → client `group_metrics_update` data."),
        ),
        file(
            "hub.personal_feedback.json",
            schema_of::<PersonalFeedback>(Emitted, "Hub → client `personal_feedback` data."),
        ),
        file(
            "hub.phase_changed.json",
            schema_of::<PhaseChanged>(Emitted, "Hub → client `phase_changed` data."),
        ),
        file(
            "hub.session_complete.json",
            schema_of::<SessionComplete>(Emitted, "Hub → client `session_complete` data."),
        ),
        file(
            "hub.rr_ack.json",
            schema_of::<RrAck>(Emitted, "Hub → client `rr_ack` data."),
        ),
        file(
            "hub.pacer.json",
            schema_of::<Pacer>(Emitted, "Hub → client `pacer` data."),
        ),
        file(
            "hub.time_sync.json",
            schema_of::<TimeSyncReply>(Emitted, "Hub → client `time_sync` data (the answer)."),
        ),
        file(
            "hub.error.json",
            schema_of::<ErrorEvent>(Emitted, "Hub → client `error` data."),
        ),
        file(
            "hub.room_snapshot.json",
            schema_of::<RoomSnapshot>(Emitted, "Hub → display `room_snapshot` data."),
        ),
        file(
            "rest.health.json",
            schema_of::<Health>(Emitted, "GET /health response."),
        ),
        file(
            "rest.session_info.json",
            schema_of::<SessionInfo>(
                Emitted,
                "GET /api/sessions/current and GET /api/sessions/{id} response.",
            ),
        ),
        file(
            "rest.session_list.json",
            schema_of::<SessionList>(Emitted, "GET /api/sessions response (a bare array)."),
        ),
        file(
            "rest.legacy_error.json",
            schema_of::<LegacyErrorBody>(
                Emitted,
                "404 body of the original endpoints GET /api/sessions/current and GET /api/sessions/{id}.",
            ),
        ),
        file(
            "rest.api_error.json",
            schema_of::<ApiErrorBody>(Emitted, "Error body of every other endpoint."),
        ),
        file(
            "rest.hub_info.json",
            schema_of::<HubInfo>(Emitted, "GET /api/hub response (facilitator)."),
        ),
        file(
            "rest.schedule.json",
            schema_of::<Schedule>(Accepted, "PUT /api/schedule request body (facilitator)."),
        ),
        file(
            "rest.participant_list.json",
            schema_of::<ParticipantList>(Emitted, "GET /api/participants response (facilitator)."),
        ),
        file(
            "rest.pacer.json",
            schema_of::<PacerRequest>(
                Accepted,
                "PUT /api/pacer request body (facilitator); the answer is the `pacer` event's body.",
            ),
        ),
        file(
            "rest.sync_settings.json",
            schema_of::<SyncSettingsRequest>(Accepted, "PUT /api/sync request body (facilitator)."),
        ),
        file(
            "rest.strap_list.json",
            schema_of::<StrapList>(Emitted, "GET /api/straps response (facilitator)."),
        ),
        file(
            "rest.strap_assign.json",
            schema_of::<StrapAssignRequest>(
                Accepted,
                "POST /api/straps/{id}/assign request body (facilitator).",
            ),
        ),
        file(
            "rest.research_stats.json",
            schema_of::<ResearchStatsBody>(
                Emitted,
                "GET /api/research/stats response (original shape).",
            ),
        ),
    ]
}
