//! The plain WebSocket at `/ws`: text frames `{"event", "data"}` both ways, exactly what the
//! original iOS client writes. Handshake fields come in the query string or in a first `hello`
//! event; a client that sends neither is anonymous (fine when the room needs no code).
//!
//! Each connection is two tasks: this reader, which validates every frame and forwards good
//! events to the engine task, and a writer that drains the connection's bounded outbox — the
//! [`Peer`] the engine task sends through.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use synchub_protocol::{ClientEvent, DecodeError, ErrorEvent, Handshake, HubEvent, Role};
use tokio::sync::mpsc;

use super::edge::{OUTBOX_CAPACITY, Routed, admit, check_inbound, route};
use super::guards::RateLimit;
use super::{AppState, client_ip};
use crate::encoded::Encoded;
use crate::engine_task::Input;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer, SendFailure};

/// Frames up to this size are read (and refused with `too_large` when over 64 KiB, the
/// connection staying open); larger ones end the connection, so a client cannot make the
/// hub buffer without bound.
const MAX_READ_BYTES: usize = 2 * 1024 * 1024;

/// Initial capacity of a connection's read buffer. The WebSocket library's default is 128 KiB,
/// reserved for every connection up front: 10 000 phones held 1.2 GiB of buffers for frames
/// that are a few hundred bytes. The buffer still grows on demand up to [`MAX_READ_BYTES`].
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// What a `/ws` connection's writer task receives.
#[derive(Debug, Clone)]
enum WsOut {
    Text(Utf8Bytes),
    /// Send a close frame and end the connection (wrong room code, shutdown, slow client).
    Close,
}

/// The engine task's way to one `/ws` connection: its bounded outbox.
#[derive(Debug)]
struct WsPeer(mpsc::Sender<WsOut>);

impl Peer for WsPeer {
    fn send(&self, event: &Arc<Encoded>) -> Result<(), SendFailure> {
        self.0
            .try_send(WsOut::Text(event.frame.clone()))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => SendFailure::Slow,
                mpsc::error::TrySendError::Closed(_) => SendFailure::Closed,
            })
    }

    fn close(&self) {
        // A full queue means the writer is stuck: dropping the sender ends it too.
        let _ = self.0.try_send(WsOut::Close);
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    parts: Parts,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ip = client_ip(&parts.extensions);
    upgrade
        .max_message_size(MAX_READ_BYTES)
        .max_frame_size(MAX_READ_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(state, socket, ip, query))
}

fn has_handshake_fields(query: &str) -> bool {
    query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or("");
        Handshake::FIELD_NAMES.contains(&key)
    })
}

async fn connection(state: AppState, socket: WebSocket, ip: IpAddr, query: Option<String>) {
    let conn = state.next_conn_id();
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<WsOut>(OUTBOX_CAPACITY);
    let writer = tokio::spawn(async move {
        while let Some(out) = outgoing.recv().await {
            let result = match out {
                WsOut::Text(frame) => sink.send(Message::Text(frame)).await,
                WsOut::Close => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            };
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Metrics::increment(&state.metrics.ws_connections);
    run(&state, conn, &mut stream, &outbox, ip, query.as_deref()).await;
    Metrics::decrement(&state.metrics.ws_connections);
    drop(outbox);
    let _ = writer.await;
}

/// Sends an error straight from the edge (not through the engine).
fn send_error(state: &AppState, outbox: &mpsc::Sender<WsOut>, error: ErrorEvent) {
    state.metrics.count_error(error.code);
    let encoded = Encoded::new(&HubEvent::Error(error));
    // A client too slow to take its error message loses it; the engine closes slow clients.
    let _ = outbox.try_send(WsOut::Text(encoded.frame.clone()));
}

fn decode(message: &Message, limit: &mut RateLimit) -> Option<Result<ClientEvent, ErrorEvent>> {
    let (len, result): (usize, Box<dyn FnOnce() -> Result<ClientEvent, DecodeError>>) =
        match message {
            Message::Text(text) => (
                text.len(),
                Box::new(|| synchub_protocol::decode_ws_frame(text.as_str())),
            ),
            Message::Binary(bytes) => (
                bytes.len(),
                Box::new(|| synchub_protocol::decode_ws_frame_bytes(bytes)),
            ),
            _ => return None,
        };
    if let Err(error) = check_inbound(limit, len) {
        return Some(Err(error));
    }
    Some(result().map_err(|error| error.to_error_event()))
}

async fn run(
    state: &AppState,
    conn: ConnId,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    outbox: &mpsc::Sender<WsOut>,
    ip: IpAddr,
    query: Option<&str>,
) {
    let mut limit = RateLimit::per_connection();
    let mut first_event = None;
    let handshake = match query.filter(|query| has_handshake_fields(query)) {
        Some(query) => match Handshake::from_query(query) {
            Ok(handshake) => handshake,
            Err(error) => {
                send_error(state, outbox, error.to_error_event());
                let _ = outbox.try_send(WsOut::Close);
                return;
            }
        },
        None => loop {
            // Wait for the first event: `hello` carries the handshake; anything else means
            // an anonymous client, and that event is then handled after admission.
            let Some(Ok(message)) = stream.next().await else {
                return;
            };
            if matches!(message, Message::Close(_)) {
                return;
            }
            match decode(&message, &mut limit) {
                None => continue,
                Some(Ok(ClientEvent::Hello(handshake))) => break handshake,
                Some(Ok(event)) => {
                    first_event = Some(event);
                    break Handshake::default();
                }
                Some(Err(error)) => send_error(state, outbox, error),
            }
        },
    };
    let fallback_user_id = format!("ws-connection-{}", uuid::Uuid::new_v4());
    let identity = match admit(state, &handshake, ip, &fallback_user_id) {
        Ok(identity) => identity,
        Err(error) => {
            send_error(state, outbox, error);
            let _ = outbox.try_send(WsOut::Close);
            return;
        }
    };
    let role = identity.role;
    let inputs = &state.engine.inputs;
    let opened = Input::Open {
        conn,
        peer: Arc::new(WsPeer(outbox.clone())),
        identity,
    };
    if inputs.send(opened).await.is_err() {
        return;
    }
    if let Some(event) = first_event
        && !forward(state, conn, role, outbox, event).await
    {
        return;
    }
    while let Some(Ok(message)) = stream.next().await {
        if matches!(message, Message::Close(_)) {
            break;
        }
        let engine_running = match decode(&message, &mut limit) {
            None => true,
            Some(Ok(event)) => forward(state, conn, role, outbox, event).await,
            Some(Err(error)) => {
                send_error(state, outbox, error);
                true
            }
        };
        if !engine_running {
            break;
        }
    }
    let _ = inputs.send(Input::Closed { conn }).await;
}

/// Hands one event to the engine task (waiting while its queue is full) or answers it here;
/// false when the engine task has stopped.
async fn forward(
    state: &AppState,
    conn: ConnId,
    role: Role,
    outbox: &mpsc::Sender<WsOut>,
    event: ClientEvent,
) -> bool {
    match route(state, role, event) {
        Routed::Engine(input) => state
            .engine
            .inputs
            .send(Input::Client {
                conn,
                input,
                reply: None,
            })
            .await
            .is_ok(),
        Routed::Refused(error) => {
            send_error(state, outbox, error);
            true
        }
    }
}
