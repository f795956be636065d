//! A relay's link on `/ws` (`role=relay`): the hub side of `synchub relay`.
//!
//! The relay's first frame is `relay_hello {token}`; a token that is not a relay's is refused
//! with `unauthorized` and charged to the address and the room exactly like a wrong room code
//! (`crate::guessing`). A welcomed relay then sends `time_sync`, `relay_straps` and
//! `relay_beats`; each batch of an assigned strap goes to the engine task as that strap's beats
//! with the relay's `seq`, so a batch sent twice is stored once, and the engine's `rr_ack` comes
//! back as `relay_ack` once the batch is durable (`crate::relays::RelayStrapPeer`). Refusals
//! answer here: `rate_limited` and `store_unavailable` become `relay_retry` (the relay keeps the
//! batch), anything else a `relay_ack` with `stored: false` (the hub has no use for it).

use std::net::IpAddr;

use axum::extract::ws::{Message, Utf8Bytes};
use synchub_protocol::relay::{
    HubToRelay, RelayAck, RelayBatch, RelayEvent, RelayHello, RelayRetry, RelayWelcome,
};
use synchub_protocol::{ErrorCode, ErrorEvent, TimeSyncReply};
use tokio::sync::{mpsc, oneshot};

use super::AppState;
use super::ws_reader::{Reader, WsOut, send_error};
use crate::client_input::ClientInput;
use crate::convert;
use crate::engine_task::{Answer, Input, Reply};
use crate::guessing::CodeCheck;
use crate::relays::RELAY_OUTBOX_CAPACITY;

/// A relay has this long to send `relay_hello` (as a phone has for `hello`).
const FIRST_FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Nothing from a relay for this long (the hub pings every 10 s; a relay reports every 2 s):
/// its link is gone.
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(25);

/// Serves one relay's connection until it ends.
pub(super) async fn serve(mut reader: Reader<'_>, ip: IpAddr) {
    let state = reader.state;
    let Some(hello) = first_hello(&mut reader).await else {
        return;
    };
    let Some(relay) = authenticate(&reader, &hello, ip) else {
        let _ = reader.outbox.try_send(WsOut::Close);
        return;
    };
    let relays = state.straps.relays().clone();
    let link = state.next_conn_id();
    let (to_relay, mut from_hub) = mpsc::channel::<HubToRelay>(RELAY_OUTBOX_CAPACITY);
    relays.attach(&relay, link, to_relay, now_ms(state));
    tracing::info!(relay = %relay, calls_itself = ?hello.name, "a relay connected");
    // Frames for the relay, from this link and from the engine task's acks, in order.
    let outbox = reader.outbox.clone();
    let forwarder = tokio::spawn(async move {
        while let Some(frame) = from_hub.recv().await {
            if outbox
                .send(WsOut::Text(Utf8Bytes::from(frame.encode())))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    relays.send(
        &relay,
        HubToRelay::RelayWelcome(RelayWelcome {
            name: relay.clone(),
        }),
    );
    loop {
        let deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
        let Some(message) = reader.next(deadline).await else {
            break;
        };
        if !relays.is_current(&relay, link) {
            // Replaced by a newer link of the same relay, or revoked.
            break;
        }
        relays.seen(&relay, now_ms(state));
        let Message::Text(text) = message else {
            continue;
        };
        match RelayEvent::decode(text.as_str()) {
            Ok(RelayEvent::RelayHello(_)) => {}
            Ok(RelayEvent::TimeSync(sync)) => {
                #[allow(clippy::cast_sign_loss)] // Hub time is after 1970.
                let hub_time = state.engine.clock.hub_ms().max(0) as u64;
                relays.send(
                    &relay,
                    HubToRelay::TimeSync(TimeSyncReply {
                        client_time: sync.client_time,
                        hub_time,
                    }),
                );
            }
            Ok(RelayEvent::RelayStraps(report)) => {
                relays.update(&relay, report.straps, report.queue, now_ms(state));
            }
            Ok(RelayEvent::RelayBeats(beats)) => {
                for batch in beats.batches {
                    if !forward_batch(state, &relay, batch).await {
                        break;
                    }
                }
            }
            Err(error) => send_error(
                state,
                reader.outbox,
                ErrorEvent {
                    code: ErrorCode::InvalidPayload,
                    message: error.to_string(),
                },
            ),
        }
    }
    relays.detach(&relay, link);
    forwarder.abort();
    tracing::info!(relay = %relay, "a relay disconnected; its straps' beats wait in its queue");
}

fn now_ms(state: &AppState) -> u64 {
    u64::try_from(state.engine.clock.wall_ms()).unwrap_or(0)
}

/// The relay's `relay_hello`, within [`FIRST_FRAME_TIMEOUT`]; anything else first is refused.
async fn first_hello(reader: &mut Reader<'_>) -> Option<RelayHello> {
    let deadline = tokio::time::Instant::now() + FIRST_FRAME_TIMEOUT;
    loop {
        let message = reader.next(deadline).await?;
        let Message::Text(text) = message else {
            continue;
        };
        let refusal = match RelayEvent::decode(text.as_str()) {
            Ok(RelayEvent::RelayHello(hello)) => return Some(hello),
            Ok(_) => "a relay's first frame is relay_hello {token}".to_owned(),
            Err(error) => error.to_string(),
        };
        send_error(
            reader.state,
            reader.outbox,
            ErrorEvent {
                code: ErrorCode::InvalidPayload,
                message: refusal,
            },
        );
        let _ = reader.outbox.try_send(WsOut::Close);
        return None;
    }
}

/// The relay's name for a good token; a wrong one is charged like a wrong room code.
fn authenticate(reader: &Reader<'_>, hello: &RelayHello, ip: IpAddr) -> Option<String> {
    let state = reader.state;
    let mut relay = None;
    let check = state.guesses.check_at(std::time::Instant::now(), ip, |_| {
        relay = state.straps.relays().authenticate(&hello.token);
        relay.is_some()
    });
    let error = match (check, relay) {
        (CodeCheck::Accepted, Some(relay)) => return Some(relay),
        (CodeCheck::Accepted | CodeCheck::Wrong, _) => ErrorEvent {
            code: ErrorCode::Unauthorized,
            message: "relay_hello: this relay token is not valid (revoked, or never created); create one in the console (Relays → Add a relay, or POST /api/relays) and start the relay with that --token".to_owned(),
        },
        (refused, _) => ErrorEvent {
            code: ErrorCode::RateLimited,
            message: format!(
                "relay_hello: {}",
                refused.refusal("relay token").unwrap_or_default()
            ),
        },
    };
    tracing::warn!("a relay with a wrong token was refused");
    send_error(state, reader.outbox, error);
    None
}

/// Hands one batch to the engine task as its strap's beats; false when the engine stopped.
async fn forward_batch(state: &AppState, relay: &str, batch: RelayBatch) -> bool {
    let relays = state.straps.relays().clone();
    let not_wanted = |reason: &str| {
        HubToRelay::RelayAck(RelayAck {
            strap: batch.strap.clone(),
            seq: batch.seq,
            stored: false,
            reason: Some(reason.to_owned()),
        })
    };
    let Some(conn) = state.straps.relay_strap_conn(relay, &batch.strap) else {
        relays.send(
            relay,
            not_wanted("the strap is not assigned to a wearer; its beats are not kept"),
        );
        return true;
    };
    if batch.rr.is_empty() {
        relays.send(relay, not_wanted("the batch has no beats"));
        return true;
    }
    let (answer_to, answer) = oneshot::channel();
    let input = Input::Client {
        conn,
        input: ClientInput::Beats(convert::relay_beats(&batch)),
        // Only a refusal answers here; an accepted batch's `relay_ack` follows once durable.
        reply: Some(Reply {
            answered_by: &["error"],
            answer: answer_to,
        }),
    };
    if state.engine.inputs.send(input).await.is_err() {
        return false;
    }
    let relay = relay.to_owned();
    tokio::spawn(async move {
        let Ok(Answer::Event(event)) = answer.await else {
            return;
        };
        let Ok(error) = serde_json::from_str::<ErrorEvent>(event.payload.get()) else {
            return;
        };
        let frame = match error.code {
            ErrorCode::RateLimited | ErrorCode::StoreUnavailable => {
                HubToRelay::RelayRetry(RelayRetry {
                    strap: batch.strap,
                    seq: batch.seq,
                    error,
                })
            }
            _ => HubToRelay::RelayAck(RelayAck {
                strap: batch.strap,
                seq: batch.seq,
                stored: false,
                reason: Some(error.message),
            }),
        };
        relays.send(&relay, frame);
    });
    true
}
