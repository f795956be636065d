//! What both transports do the same way at the edge, before anything reaches the engine:
//! admit a handshake (room code, pseudonym), refuse oversized or too-frequent messages, and
//! turn each client event into the engine task's domain input — or refuse it here when the
//! answer does not depend on the room (`hello` after the handshake, a display sending more
//! than `time_sync`).

use std::net::IpAddr;

use synchub_protocol::limits::MAX_FRAME_BYTES;
use synchub_protocol::{ClientEvent, ErrorCode, ErrorEvent, Handshake, Role};
use synchub_session::ResumeToken;

use super::AppState;
use super::guards::RateLimit;
use crate::client_input::ClientInput;
use crate::convert;
use crate::engine_task::{Cadence, Identity};
use crate::guessing::{CodeCheck, GuessCharge};
use crate::metrics::Metrics;

/// Capacity of a connection's outgoing queue (a `/ws` outbox, socketioxide's buffer). A phone
/// that cannot keep up with 1 Hz broadcasts plus its own feedback for this many messages is
/// gone; it is disconnected (and counted) rather than buffered without bound.
pub const OUTBOX_CAPACITY: usize = 256;

/// Checks the room code and turns the handshake into an [`Identity`]. The raw `userId` is
/// pseudonymised here and goes no further; a client without one is known by its connection.
pub fn admit(
    state: &AppState,
    handshake: &Handshake,
    ip: IpAddr,
    fallback_user_id: &str,
) -> Result<Identity, ErrorEvent> {
    let room = state.room();
    let check =
        state
            .guesses
            .check_room_code(room.code.as_deref(), handshake.room_code.as_deref(), ip);
    if let Some(message) = check.refusal("room code") {
        let code = if check == CodeCheck::Wrong {
            ErrorCode::BadRoomCode
        } else {
            ErrorCode::RateLimited
        };
        return Err(ErrorEvent { code, message });
    }
    let user_id = handshake.user_id.as_deref().unwrap_or(fallback_user_id);
    Ok(Identity {
        cadence: if handshake.speaks_original_protocol() {
            Cadence::Original
        } else {
            Cadence::EveryTick
        },
        role: handshake.role,
        guesses: GuessCharge::new(state.guesses.clone(), ip),
        pseudonym: state.org_secret.pseudonym(user_id),
        // A token that is not 32 hex digits cannot be ours: the client joins as new.
        resume_token: handshake
            .resume_token
            .as_deref()
            .and_then(ResumeToken::from_hex),
        address: state.caps.address_key(ip),
    })
}

/// The refusal of a display over the room's display cap.
pub fn too_many_displays(state: &AppState) -> ErrorEvent {
    ErrorEvent {
        code: ErrorCode::RateLimited,
        message: format!(
            "the hub already serves {} displays; close one (or raise --max-displays)",
            state.caps.config.displays
        ),
    }
}

/// Refuses a message of `len_bytes` that is too large, or that exceeds the connection's rate.
pub fn check_inbound(limit: &mut RateLimit, len_bytes: usize) -> Result<(), ErrorEvent> {
    if !limit.allow() {
        return Err(ErrorEvent {
            code: ErrorCode::RateLimited,
            message: format!(
                "more than {} messages per second; slow down",
                synchub_protocol::limits::RATE_LIMIT_PER_SEC
            ),
        });
    }
    if len_bytes > MAX_FRAME_BYTES {
        return Err(ErrorEvent {
            code: ErrorCode::TooLarge,
            message: format!("frame of {len_bytes} bytes is over the {MAX_FRAME_BYTES}-byte limit"),
        });
    }
    Ok(())
}

/// Where one decoded client event goes.
#[derive(Debug)]
pub enum Routed {
    /// To the engine task.
    Engine(ClientInput),
    /// Back to the client at once: the edge answers it.
    Refused(ErrorEvent),
}

/// Routes a decoded event of a connection admitted as `role`: a display sends only
/// `time_sync`, and `hello` belongs to the handshake; everything else goes to the engine. An
/// event refused here counts as received, as if the engine had refused it.
pub fn route(state: &AppState, role: Role, event: ClientEvent) -> Routed {
    let refused = |message: String| {
        Metrics::increment(&state.metrics.messages_in);
        Routed::Refused(ErrorEvent {
            code: ErrorCode::NotAllowed,
            message,
        })
    };
    if role == Role::Display && !matches!(event, ClientEvent::TimeSync(_)) {
        return refused(format!("{}: a display sends only time_sync", event.name()));
    }
    match convert::client_input(event) {
        Some(input) => Routed::Engine(input),
        None => refused("hello: the handshake is already done".to_owned()),
    }
}
