//! What a client asks of the engine task, in domain terms. The edges turn wire events
//! (`synchub-protocol`'s `ClientEvent`) into these (`convert::inputs`), after the handshake and
//! the checks only an edge can make; a hub-read strap's beats arrive as the same
//! [`ClientInput::Beats`], so the engine task treats every source of beats alike.

use synchub_session::RrBatch;
use synchub_session::record::{DeviceKind, IntentionCategory};

/// One request of a connected client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientInput {
    /// Join the current session (again, on a connection that already joined: the intention and
    /// consent are updated and `session_joined` is sent again).
    Join(JoinFields),
    /// A batch of heartbeats.
    Beats(RrBatch),
    /// A score the client computed itself (the original protocol), 0–100.
    Score {
        coherence: f64,
    },
    /// The participant's intention; `None` clears it.
    Intention(Option<IntentionCategory>),
    Leave,
    /// A clock sample: the client's clock when it sent the request, ms.
    TimeSync {
        client_time_ms: f64,
    },
    /// Receive the feedback of the hub-read strap that shows `code`.
    ClaimStrap {
        code: String,
    },
}

/// What a joining client tells about itself (its pseudonym comes from the handshake).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinFields {
    pub intention: Option<IntentionCategory>,
    /// `None`: the client said nothing about consent — no research consent for a new
    /// participant, the consent given earlier for a repeated join.
    pub research_consent: Option<bool>,
    pub device: DeviceKind,
}
