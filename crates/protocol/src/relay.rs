//! The relay link: what `synchub relay` (a second computer that reads straps with its own
//! Bluetooth adapters) and the hub say to each other over `/ws`.
//!
//! A relay connects to `/ws?role=relay&protocol=2`, sends [`RelayHello`] with the token the
//! facilitator created (`POST /api/relays`), and once welcomed sends its straps' status
//! ([`RelayStraps`]) every few seconds and every notification's beats ([`RelayBeats`]). Frames
//! are the plain WebSocket's `{"event", "data"}` both ways.
//!
//! **Nothing lost, nothing twice.** The relay numbers each strap's batches with a `seq` that it
//! keeps on disk (it never repeats after a restart) and keeps each batch until the hub answers
//! [`RelayAck`] for it: `stored` once the hub's store has it on disk (the rule of `rr_ack`), or
//! not stored when the hub has no use for it (the strap is not assigned, no session runs) — the
//! relay drops it either way. [`RelayRetry`] (`rate_limited`, `store_unavailable`) means keep it
//! and send it again shortly. A batch sent twice (a lost ack, a reconnect) is recognised by its
//! strap and `seq` and stored once.
//!
//! Beat times (`endedAt`) are on the hub's clock: the relay estimates the offset with
//! `time_sync`, as phones do ([`crate::clock`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hub::ErrorEvent;
use crate::hub::TimeSyncReply;
use crate::rest::StrapState;

/// Longest relay token accepted, bytes.
pub const MAX_RELAY_TOKEN_BYTES: usize = 128;

/// Most batches one `relay_beats` frame may carry (a frame stays far under the frame limit).
pub const MAX_BATCHES_PER_FRAME: usize = 64;

/// Most straps one relay reports.
pub const MAX_RELAY_STRAPS: usize = 256;

/// `relay_hello` (relay → hub), the first frame: the relay token, and the name the relay
/// calls itself (for the hub's log; the console shows the name the token was created with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayHello {
    /// The token from `POST /api/relays`. At most 128 bytes.
    #[schemars(length(max = 128))]
    pub token: String,
    /// `--name`, if the relay was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub name: Option<String>,
}

/// One strap a relay reads, as the relay's reader reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayStrap {
    /// The strap's id on the relay (its Bluetooth address on Linux). The hub lists it as
    /// `<id>@<relay name>`.
    #[schemars(length(max = 128))]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    pub state: StrapState,
    /// The relay's adapter its connection goes through, e.g. `hci1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub battery_pct: Option<u8>,
    #[serde(default)]
    pub battery_low: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate_bpm: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothed_rr_warning: Option<String>,
    /// Why the relay cannot connect it (no free connection on its adapters, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_problem: Option<String>,
}

/// The relay's queue of beat batches not yet acknowledged by the hub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayQueueState {
    /// Batches kept on the relay's disk until the hub says they are stored.
    pub batches: u64,
    /// Age of the oldest of them, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_age_ms: Option<u64>,
    /// Batches dropped unsent since the relay started, because the queue was over its bounds.
    #[serde(default)]
    pub dropped: u64,
    /// Set when the queue is near or over its bounds: what is happening and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// `relay_straps` (relay → hub), every few seconds: every strap the relay sees, and its queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayStraps {
    #[schemars(length(max = 256))]
    pub straps: Vec<RelayStrap>,
    pub queue: RelayQueueState,
}

/// One notification's beats of one strap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayBatch {
    /// The strap's id on the relay.
    #[schemars(length(max = 128))]
    pub strap: String,
    /// The strap's batch number on this relay: kept on the relay's disk, never repeated.
    pub seq: u64,
    /// RR intervals, ms.
    #[schemars(length(max = 64))]
    pub rr: Vec<f64>,
    /// When the last beat ended, hub clock, ms since the Unix epoch; absent when the relay has
    /// no clock offset for it (the hub then uses the arrival time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<f64>,
}

/// `relay_beats` (relay → hub): batches, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayBeats {
    #[schemars(length(max = 64))]
    pub batches: Vec<RelayBatch>,
}

/// `relay_welcome` (hub → relay): the token is good; the relay is known by this name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayWelcome {
    pub name: String,
}

/// `relay_ack` (hub → relay): the relay may forget this batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayAck {
    pub strap: String,
    pub seq: u64,
    /// True: the beats are on the hub's disk. False: the hub does not want them (why is in
    /// `reason`), and will not store them if sent again.
    pub stored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `relay_retry` (hub → relay): the hub cannot take this batch now (`rate_limited`,
/// `store_unavailable`); keep it and send it again in a few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayRetry {
    pub strap: String,
    pub seq: u64,
    pub error: ErrorEvent,
}

/// `time_sync` (relay → hub): the relay's clock when it sent the request, ms; the hub answers
/// `time_sync {clientTime, hubTime}` as it answers phones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayTimeSync {
    pub client_time: f64,
}

/// What a relay sends, as `{"event", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum RelayEvent {
    RelayHello(RelayHello),
    RelayStraps(RelayStraps),
    RelayBeats(RelayBeats),
    /// `time_sync {clientTime}`, as a phone sends it.
    TimeSync(RelayTimeSync),
}

/// What the hub sends a relay, as `{"event", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum HubToRelay {
    RelayWelcome(RelayWelcome),
    RelayAck(RelayAck),
    RelayRetry(RelayRetry),
    /// The answer to `time_sync`, as phones get it.
    TimeSync(TimeSyncReply),
    Error(ErrorEvent),
}

/// Why a relay frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum RelayFrameError {
    #[error(
        "a relay frame is not a relay event ({0}); expected relay_hello, relay_straps, relay_beats or time_sync"
    )]
    Shape(String),
    #[error("{0}")]
    Invalid(String),
}

impl RelayEvent {
    /// Reads and checks one frame from a relay.
    pub fn decode(frame: &str) -> Result<RelayEvent, RelayFrameError> {
        let event: RelayEvent = serde_json::from_str(frame)
            .map_err(|error| RelayFrameError::Shape(error.to_string()))?;
        event.validate()?;
        Ok(event)
    }

    fn validate(&self) -> Result<(), RelayFrameError> {
        let invalid = |message: String| Err(RelayFrameError::Invalid(message));
        match self {
            RelayEvent::RelayHello(hello) => {
                if hello.token.len() > MAX_RELAY_TOKEN_BYTES {
                    return invalid("relay_hello.token: longer than 128 bytes".to_owned());
                }
                if hello.name.as_ref().is_some_and(|name| name.len() > 64) {
                    return invalid("relay_hello.name: longer than 64 bytes".to_owned());
                }
            }
            RelayEvent::RelayStraps(straps) => {
                if straps.straps.len() > MAX_RELAY_STRAPS {
                    return invalid(format!(
                        "relay_straps.straps: more than {MAX_RELAY_STRAPS} straps"
                    ));
                }
                if straps.straps.iter().any(|strap| strap.id.len() > 128) {
                    return invalid("relay_straps.straps[].id: longer than 128 bytes".to_owned());
                }
            }
            RelayEvent::RelayBeats(beats) => {
                if beats.batches.len() > MAX_BATCHES_PER_FRAME {
                    return invalid(format!(
                        "relay_beats.batches: more than {MAX_BATCHES_PER_FRAME} batches in one frame"
                    ));
                }
                for batch in &beats.batches {
                    if batch.strap.len() > 128 || batch.rr.len() > 64 {
                        return invalid(
                            "relay_beats.batches[]: a strap id over 128 bytes or over 64 RR values"
                                .to_owned(),
                        );
                    }
                    if batch.ended_at.is_some_and(|at| !at.is_finite() || at < 0.0) {
                        return invalid(
                            "relay_beats.batches[].endedAt: not a time in ms since the Unix epoch"
                                .to_owned(),
                        );
                    }
                }
            }
            RelayEvent::TimeSync(sync) => {
                if !sync.client_time.is_finite() || sync.client_time < 0.0 {
                    return invalid("time_sync.clientTime: not a finite number ≥ 0".to_owned());
                }
            }
        }
        Ok(())
    }

    /// The `{"event", "data"}` frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl HubToRelay {
    /// The `{"event", "data"}` frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads one frame from the hub.
    pub fn decode(frame: &str) -> Result<HubToRelay, RelayFrameError> {
        serde_json::from_str(frame).map_err(|error| RelayFrameError::Shape(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beats_frame_is_read_back_unchanged() {
        let event = RelayEvent::RelayBeats(RelayBeats {
            batches: vec![RelayBatch {
                strap: "A0:9E:1A:A1:B2:C3".to_owned(),
                seq: 7,
                rr: vec![1000.0, 987.5],
                ended_at: Some(1_700_000_000_000.0),
            }],
        });
        let frame = event.encode();
        assert!(frame.starts_with(r#"{"event":"relay_beats","data":{"batches":[{"strap""#));
        assert_eq!(RelayEvent::decode(&frame).unwrap(), event);
    }

    #[test]
    fn a_time_sync_is_the_phones_event() {
        let event =
            RelayEvent::decode(r#"{"event":"time_sync","data":{"clientTime":12.5}}"#).unwrap();
        assert!(matches!(event, RelayEvent::TimeSync(_)));
    }

    #[test]
    fn too_many_batches_are_refused_with_the_limit() {
        let batch = RelayBatch {
            strap: "s".to_owned(),
            seq: 0,
            rr: vec![900.0],
            ended_at: None,
        };
        let frame = RelayEvent::RelayBeats(RelayBeats {
            batches: vec![batch; MAX_BATCHES_PER_FRAME + 1],
        })
        .encode();
        let error = RelayEvent::decode(&frame).unwrap_err().to_string();
        assert!(error.contains("more than 64 batches"), "{error}");
    }

    #[test]
    fn an_ack_frame_reads_back() {
        let ack = HubToRelay::RelayAck(RelayAck {
            strap: "s".to_owned(),
            seq: 3,
            stored: true,
            reason: None,
        });
        assert_eq!(HubToRelay::decode(&ack.encode()).unwrap(), ack);
    }
}
