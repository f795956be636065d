//! JSON Schema (draft 2020-12) of every payload, generated from the Rust types so the
//! committed files under `docs/protocol/schema/` can never drift from the code unnoticed
//! (a test compares them).
//!
//! One file per payload: `client.<event>.json` for what clients send (validation contract),
//! `hub.<event>.json` for what the hub sends (serialisation contract), `rest.<body>.json` for
//! HTTP bodies (every request the hub reads and every reply it writes), `handshake.json` for the
//! handshake. `leave_session` has no payload and so no file. `coherence_bands.json` is no
//! payload: it carries the coherence bands' thresholds as `const` values, so clients that
//! generate code from these schemas (the web UI) take the numbers from here too;
//! `protocol_version.json` likewise carries the version the hub's clients announce.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

use crate::client::{
    ClaimStrap, JoinSession, RrIntervals, SetIntention, TimeSyncRequest, UpdateCoherence,
};
use crate::common::CoherenceBands;
use crate::handshake::{Handshake, ProtocolVersion};
use crate::hub::{
    ErrorEvent, GroupMetricsUpdate, Pacer, ParticipantUpdate, PersonalFeedback, PhaseChanged,
    RoomSnapshot, RrAck, SessionComplete, SessionJoined, StrapClaim, TimeSyncReply,
};
use crate::relay::{
    RelayAck, RelayBeats, RelayHello, RelayRetry, RelayStraps, RelayTimeSync, RelayWelcome,
};
use crate::rest::{
    AdminTokenBody, ApiErrorBody, ErasureBody, Health, HubInfo, LegacyErrorBody, PacerRequest,
    ParticipantExportBody, ParticipantList, ParticipantReportBody, ResearchExportBody,
    ResearchStatsBody, Schedule, SessionCommandBody, SessionInfo, SessionList, Strap,
    StrapAssignRequest, StrapList, SyncSettingsRequest, SyncStatus,
};
use crate::rest::{RelayCreateRequest, RelayCreated, RelayList};

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

/// The schema of `T` in file `file_name`, with `description` as its top-level description.
fn schema_file<T: JsonSchema>(
    direction: Direction,
    file_name: String,
    description: String,
) -> SchemaFile {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Accepted => settings.for_deserialize(),
        Direction::Emitted => settings.for_serialize(),
    };
    let mut schema: Schema = settings.into_generator().into_root_schema_for::<T>();
    schema.insert("description".to_owned(), Value::String(description));
    SchemaFile {
        file_name,
        schema: schema.to_value(),
    }
}

/// `client.<event>.json`: what a client may send as `event`'s data.
fn client_event<T: JsonSchema>(event: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Accepted,
        format!("client.{event}.json"),
        format!("Client → hub `{event}` data."),
    )
}

/// `hub.<event>.json`: what the hub sends as `event`'s data, to `audience`.
fn hub_event<T: JsonSchema>(event: &str, audience: &str, note: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Emitted,
        format!("hub.{event}.json"),
        format!("Hub → {audience} `{event}` data{note}."),
    )
}

/// `relay.<event>.json`: what a relay sends as `event`'s data.
fn relay_event<T: JsonSchema>(event: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Accepted,
        format!("relay.{event}.json"),
        format!("Relay → hub `{event}` data."),
    )
}

/// `hub.<event>.json` for the relay link: what the hub sends a relay.
fn hub_to_relay<T: JsonSchema>(event: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Emitted,
        format!("hub.{event}.json"),
        format!("Hub → relay `{event}` data."),
    )
}

/// `rest.<body>.json`: an HTTP request body the hub reads.
fn rest_request<T: JsonSchema>(body: &str, description: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Accepted,
        format!("rest.{body}.json"),
        description.to_owned(),
    )
}

/// `rest.<body>.json`: an HTTP reply the hub writes.
fn rest_reply<T: JsonSchema>(body: &str, description: &str) -> SchemaFile {
    schema_file::<T>(
        Direction::Emitted,
        format!("rest.{body}.json"),
        description.to_owned(),
    )
}

/// Every schema, in a stable order.
pub fn schema_files() -> Vec<SchemaFile> {
    vec![
        schema_file::<Handshake>(
            Direction::Accepted,
            "handshake.json".to_owned(),
            "Handshake: Socket.IO `auth`, the `hello` event's data on /ws, or the /ws query string."
                .to_owned(),
        ),
        schema_file::<CoherenceBands>(
            Direction::Emitted,
            "coherence_bands.json".to_owned(),
            "The coherence bands: low below `mediumMinScore`, medium from it to below \
             `highMinScore`, high from that on. Not a payload: the thresholds, as constants."
                .to_owned(),
        ),
        schema_file::<ProtocolVersion>(
            Direction::Emitted,
            "protocol_version.json".to_owned(),
            "The protocol version the hub's own clients announce in the handshake's `protocol` \
             field (absent or 1: the original protocol). Not a payload: the number, as a constant."
                .to_owned(),
        ),
        client_event::<JoinSession>("join_session"),
        client_event::<UpdateCoherence>("update_coherence"),
        client_event::<RrIntervals>("rr_intervals"),
        client_event::<SetIntention>("set_intention"),
        client_event::<ClaimStrap>("claim_strap"),
        client_event::<TimeSyncRequest>("time_sync"),
        hub_event::<SessionJoined>("session_joined", "client", ""),
        hub_event::<ParticipantUpdate>("participant_update", "client", ""),
        hub_event::<GroupMetricsUpdate>("group_metrics_update", "client", ""),
        hub_event::<PersonalFeedback>("personal_feedback", "client", ""),
        hub_event::<PhaseChanged>("phase_changed", "client", ""),
        hub_event::<SessionComplete>("session_complete", "client", ""),
        hub_event::<RrAck>("rr_ack", "client", ""),
        hub_event::<Pacer>("pacer", "client", ""),
        hub_event::<TimeSyncReply>("time_sync", "client", " (the answer)"),
        hub_event::<ErrorEvent>("error", "client", ""),
        hub_event::<RoomSnapshot>("room_snapshot", "display", ""),
        hub_event::<StrapClaim>("strap_claim", "client", ""),
        relay_event::<RelayHello>("relay_hello"),
        relay_event::<RelayStraps>("relay_straps"),
        relay_event::<RelayBeats>("relay_beats"),
        relay_event::<RelayTimeSync>("time_sync"),
        hub_to_relay::<RelayWelcome>("relay_welcome"),
        hub_to_relay::<RelayAck>("relay_ack"),
        hub_to_relay::<RelayRetry>("relay_retry"),
        rest_reply::<Health>("health", "GET /health response."),
        rest_reply::<SessionInfo>(
            "session_info",
            "GET /api/sessions/current and GET /api/sessions/{id} response.",
        ),
        rest_reply::<SessionList>(
            "session_list",
            "GET /api/sessions response (a bare array).",
        ),
        rest_reply::<SessionCommandBody>(
            "session_command",
            "POST /api/sessions (status 201), POST /api/sessions/{id}/advance and \
             POST /api/sessions/{id}/end response (facilitator): the session and its phase now.",
        ),
        rest_reply::<LegacyErrorBody>(
            "legacy_error",
            "404 body of the original endpoints GET /api/sessions/current and GET /api/sessions/{id}.",
        ),
        rest_reply::<ApiErrorBody>("api_error", "Error body of every other endpoint."),
        rest_reply::<HubInfo>("hub_info", "GET /api/hub response (facilitator)."),
        rest_request::<Schedule>(
            "schedule",
            "PUT /api/schedule request body (facilitator); the answer is the schedule in force, \
             in the same shape.",
        ),
        rest_reply::<ParticipantList>(
            "participant_list",
            "GET /api/participants response (facilitator).",
        ),
        rest_request::<PacerRequest>(
            "pacer",
            "PUT /api/pacer request body (facilitator); the answer is the `pacer` event's body.",
        ),
        rest_request::<SyncSettingsRequest>(
            "sync_settings",
            "PUT /api/sync request body (facilitator).",
        ),
        rest_reply::<SyncStatus>(
            "sync_status",
            "PUT /api/sync and POST /api/sync (status 202) response (facilitator); also the \
             `sync` part of GET /api/hub.",
        ),
        rest_reply::<StrapList>("strap_list", "GET /api/straps response (facilitator)."),
        rest_reply::<AdminTokenBody>(
            "admin_token",
            "POST /api/admin-token/rotate response (facilitator): the new admin token.",
        ),
        rest_request::<StrapAssignRequest>(
            "strap_assign",
            "POST /api/straps/{id}/assign request body (facilitator).",
        ),
        rest_reply::<Strap>(
            "strap",
            "POST /api/straps/{id}/assign response (facilitator): the strap, now assigned.",
        ),
        rest_request::<RelayCreateRequest>(
            "relay_create",
            "POST /api/relays request body (facilitator).",
        ),
        rest_reply::<RelayCreated>(
            "relay_created",
            "POST /api/relays response (facilitator, status 201): the relay's token, shown once, and the command to run on the relay's computer.",
        ),
        rest_reply::<RelayList>("relay_list", "GET /api/relays response (facilitator)."),
        rest_reply::<ResearchStatsBody>(
            "research_stats",
            "GET /api/research/stats response (original shape).",
        ),
        rest_reply::<ResearchExportBody>(
            "research_export",
            "GET /api/research/export?format=json response (facilitator): consented data only.",
        ),
        rest_reply::<ParticipantExportBody>(
            "participant_export",
            "GET /api/me/export response (the participant, with their resume token).",
        ),
        rest_reply::<ParticipantReportBody>(
            "participant_report",
            "GET /api/me/report response (the participant, with their resume token): their \
             curve against the room's median and their change from baseline.",
        ),
        rest_reply::<ErasureBody>(
            "erasure",
            "DELETE /api/me response (the participant, with their resume token).",
        ),
    ]
}
