//! The wire contract of Sync Hub: every event and HTTP body that phones, browsers, displays and
//! the facilitator console exchange with the hub, as serde types, with strict validation of
//! what clients send and a JSON Schema of every payload.
//!
//! The event names and JSON fields of the original platform are kept, so its web and iOS
//! clients work unchanged; everything new is additive. The phone developers' guide is
//! `docs/protocol/README.md`; the committed schemas are in `docs/protocol/schema/`.
//!
//! # Roles
//!
//! - [`ClientEvent`]: client → hub, decoded from Socket.IO ([`ClientEvent::decode`]) or from a
//!   plain WebSocket text frame ([`decode_ws_frame`]). Decoding *is* validation: a
//!   [`DecodeError`] names the event and the field, and the hub answers it with
//!   `error {code: "invalid_payload", message}` ([`DecodeError::to_error_event`]).
//! - [`HubEvent`]: hub → client, encoded once per broadcast as a WebSocket frame
//!   ([`HubEvent::to_frame`]) or as a Socket.IO `(name, data)` pair ([`HubEvent::to_socketio`]).
//! - [`Handshake`]: who a connection is, from Socket.IO `auth`, the `hello` event or the query
//!   string ([`Handshake::from_query`] reads it, [`Handshake::to_query`] writes it), and which
//!   protocol it speaks: the hub's own clients announce [`PROTOCOL_VERSION`]; a client that
//!   announces nothing is an original one ([`Handshake::speaks_original_protocol`]).
//! - [`rest`]: HTTP bodies, every request and every reply; [`schema::schema_files`]: the JSON
//!   Schemas.
//! - [`MEDIUM_COHERENCE_MIN_SCORE`] and [`HIGH_COHERENCE_MIN_SCORE`]: the coherence bands'
//!   thresholds, the one copy the hub's analysis, the projector and (through the schema) the
//!   web UI use.
//! - The client side of the contract, once, for the hub's own clients (simulator, projector):
//!   [`clock::ClockOffsetEstimate`] turns `time_sync` answers into the hub clock offset, and
//!   [`discovery`] holds the mDNS service type and TXT keys that the hub writes and clients
//!   read back into a [`discovery::AdvertisedHub`].
//!
//! # Example
//!
//! ```
//! use synchub_protocol::{ClientEvent, ErrorCode, IntentionCategory, decode_ws_frame};
//!
//! // The original iOS client's frame: a bare category string as the intention.
//! let event = decode_ws_frame(r#"{"event":"join_session","data":{"intention":"grief"}}"#)?;
//! let ClientEvent::JoinSession(join) = &event else { panic!("expected join_session") };
//! assert_eq!(join.intention.as_ref().unwrap().category, IntentionCategory::Grief);
//!
//! // A string where a number belongs is refused, naming the event and the field.
//! let error = decode_ws_frame(r#"{"event":"update_coherence","data":{"coherence":"55"}}"#)
//!     .unwrap_err();
//! assert_eq!(error.code(), ErrorCode::InvalidPayload);
//! assert_eq!(
//!     error.to_string(),
//!     "update_coherence: field `coherence`: expected a number, found a string"
//! );
//! # Ok::<(), synchub_protocol::DecodeError>(())
//! ```
//!
//! # Invariants
//!
//! - **Pure:** no I/O, no clock, no threads, nothing async; depends on no other crate of ours.
//! - **Outside data is always validated:** client payload types do not implement
//!   `Deserialize`, so JSON becomes a [`ClientEvent`] only through the validating decoders.
//!   Nothing is coerced (a string is never read as a number); numbers are finite and in range;
//!   strings are within their byte limits ([`limits`]).
//! - **Bad input never panics:** a property test feeds arbitrary text and JSON, and two
//!   cargo-fuzz targets (`crates/protocol/fuzz`: `cargo +nightly fuzz run decode_frame`,
//!   `decode_payload`) feed arbitrary bytes.
//! - **Times are `u64` milliseconds since the Unix epoch**, durations `u64` milliseconds
//!   (`duration: 900000`), except `time_sync`'s `clientTime`, which is echoed as the client sent it.
//! - **Private data stays out of logs:** `Debug` of [`Intention`] hides the note, `Debug` of
//!   [`Handshake`] hides the user id and the resume token.
//! - **Original names and types are kept:** a test compares encoded hub events with recorded
//!   messages of the original server, field by field.

mod client;
pub mod clock;
mod common;
pub mod discovery;
mod envelope;
mod error;
mod handshake;
mod hub;
mod json;
pub mod limits;
pub mod relay;
pub mod rest;
pub mod schema;

pub use client::{
    ClaimStrap, ClientEvent, JoinSession, RrIntervals, SetIntention, TimeSyncRequest,
    UpdateCoherence, decode_ws_frame, decode_ws_frame_bytes,
};
pub use common::{
    CoherenceBands, CoherencePhase, Consent, Contribution, Device, DeviceKind, ErrorCode,
    HIGH_COHERENCE_MIN_SCORE, Intention, IntentionCategory, MEDIUM_COHERENCE_MIN_SCORE,
    SessionPhase, SignalQuality,
};
pub use error::{DecodeError, DecodeErrorKind};
pub use handshake::{
    HELLO_EVENT, Handshake, ORIGINAL_PROTOCOL_VERSION, PROTOCOL_VERSION, ProtocolVersion, Role,
};
pub use hub::{
    AudioTrack, CoherenceDistribution, ErrorEvent, GroupMetrics, GroupMetricsUpdate, HubEvent,
    HubPayload, Pacer, ParticipantUpdate, PersonalFeedback, PhaseChanged, RoomSnapshot, RrAck,
    SessionComplete, SessionJoined, SessionSummary, SnapshotParticipant, StrapClaim,
    StrapClaimChange, TimeInPhase, TimeSyncReply,
};
