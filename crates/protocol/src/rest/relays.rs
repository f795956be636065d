//! Relays (`synchub relay`): the facilitator creates a relay's token, lists the relays with
//! their straps and queues, and revokes a relay (`POST|GET /api/relays`,
//! `DELETE /api/relays/{name}`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::relay::RelayQueueState;

/// Longest relay name, bytes.
pub const MAX_RELAY_NAME_BYTES: usize = 32;

/// `POST /api/relays` (facilitator): a new relay's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayCreateRequest {
    /// 1–32 characters: lowercase letters, digits and `-` (it is part of each of its straps'
    /// ids, `<strap>@<name>`), e.g. `back-row`.
    #[schemars(length(min = 1, max = 32))]
    pub name: String,
}

impl RelayCreateRequest {
    /// Checks the name; the error says what a name may be.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        let well_formed = !name.is_empty()
            && name.len() <= MAX_RELAY_NAME_BYTES
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
            && !name.starts_with('-');
        if well_formed {
            Ok(())
        } else {
            Err(format!(
                "POST /api/relays: name {name:?} is not 1–{MAX_RELAY_NAME_BYTES} lowercase letters, digits and '-' (not starting with '-'), e.g. \"back-row\""
            ))
        }
    }
}

/// `POST /api/relays` answer (status 201): the token, shown once (the hub keeps only a keyed
/// hash of it), and the command line to run on the relay's computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayCreated {
    pub name: String,
    pub token: String,
    /// E.g. `synchub relay --hub http://192.168.1.20:3000 --token … --name back-row`.
    pub command: String,
}

/// One relay of `GET /api/relays`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayInfo {
    pub name: String,
    /// Whether the relay is connected to the hub now.
    pub connected: bool,
    /// When the hub last heard from it, ms since the Unix epoch; absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<u64>,
    /// The ids (as in `GET /api/straps`) of the straps it reported last.
    pub straps: Vec<String>,
    /// Its queue of beat batches not yet stored by the hub, as it reported last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<RelayQueueState>,
}

/// `GET /api/relays` (facilitator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RelayList {
    /// Every relay with a token, by name.
    pub relays: Vec<RelayInfo>,
}
