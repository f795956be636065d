//! The plain WebSocket at `/ws`: text frames `{"event", "data"}` both ways, exactly what the
//! original iOS client writes. Handshake fields come in the query string or in a first `hello`
//! event; a client that sends neither is anonymous (fine when the room needs no code).
//!
//! Each connection is two tasks: this reader, which validates every frame and forwards good
//! events to the engine task, and a writer that drains the connection's bounded outbox — the
//! [`Peer`] the engine task sends through.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use synchub_protocol::limits::MAX_FRAME_BYTES;
use synchub_protocol::{ClientEvent, DecodeError, ErrorEvent, Handshake, Role};
use tokio::sync::{mpsc, oneshot};

use super::edge::{OUTBOX_CAPACITY, Routed, admit, check_inbound, route, too_many_displays};
use super::guards::RateLimit;
use super::listen::HeldPermit;
use super::ws_reader::{Reader, WsOut, send_error};
use super::{AppState, client_ip};
use crate::encoded::Encoded;
use crate::engine_task::Input;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer, SendFailure};

/// A frame whose header announces more than this is refused from its length, before its
/// payload is read: the client gets `too_large` and the connection closes. So no connection
/// makes the hub buffer more than one 64 KiB frame, however many announce huge ones.
const MAX_READ_BYTES: usize = MAX_FRAME_BYTES;

/// A client that gives its handshake as a first `hello` (or any first event) has this long
/// to send it; a connection that upgrades and stays silent is closed.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// The hub pings every `/ws` connection this often (WebSocket libraries answer by themselves).
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// A connection from which nothing arrives for this long — no event, no pong — is gone (a phone
/// that left the Wi-Fi, a half-open socket) and is closed: two pings unanswered.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(25);

/// One frame's write may take this long; a client that does not read its socket stalls the
/// write, and is then disconnected rather than holding the writer forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// After the hub's close frame, the connection is held this long so the client reads the
/// frames before it (`too_large`, `bad_room_code`) rather than a reset.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// Initial capacity of a connection's read buffer. The WebSocket library's default is 128 KiB,
/// reserved for every connection up front: 10 000 phones held 1.2 GiB of buffers for frames
/// that are a few hundred bytes. The buffer still grows on demand up to [`MAX_READ_BYTES`].
const READ_BUFFER_BYTES: usize = 4 * 1024;

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
    // The connection's place in its address's count lives as long as the socket.
    let permit = parts.extensions.get::<HeldPermit>().cloned();
    upgrade
        .max_message_size(MAX_READ_BYTES)
        .max_frame_size(MAX_READ_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            connection(state, socket, ip, query).await;
            drop(permit);
        })
}

fn has_handshake_fields(query: &str) -> bool {
    query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or("");
        Handshake::FIELD_NAMES.contains(&key)
    })
}

async fn connection(state: AppState, socket: WebSocket, ip: IpAddr, query: Option<String>) {
    let conn = state.next_conn_id();
    let (sink, mut stream) = socket.split();
    let (outbox, outgoing) = mpsc::channel::<WsOut>(OUTBOX_CAPACITY);
    // Dropped when the writer ends (a stuck write, a closed socket): the reader stops too.
    let (writer_alive, writer_gone) = oneshot::channel::<()>();
    let writer = tokio::spawn(write(state.clone(), sink, outgoing, writer_alive));
    Metrics::increment(&state.metrics.ws_connections);
    let reader = Reader {
        state: &state,
        conn,
        stream: &mut stream,
        outbox: &outbox,
        writer_gone,
    };
    reader.run(ip, query.as_deref()).await;
    Metrics::decrement(&state.metrics.ws_connections);
    drop(outbox);
    let _ = writer.await;
}

/// A connection's writer: drains the outbox, pings every [`PING_INTERVAL`], gives each write
/// [`WRITE_TIMEOUT`]; after a close frame it lingers briefly, then closes the socket.
async fn write(
    state: AppState,
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<WsOut>,
    _alive: oneshot::Sender<()>,
) {
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    loop {
        let message = tokio::select! {
            out = outgoing.recv() => match out {
                Some(WsOut::Text(frame)) => Message::Text(frame),
                Some(WsOut::Close) => {
                    if let Ok(Ok(())) =
                        tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(None))).await
                    {
                        tokio::time::sleep(CLOSE_LINGER).await;
                    }
                    break;
                }
                None => break,
            },
            _ = ping.tick() => Message::Ping(axum::body::Bytes::new()),
        };
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                Metrics::increment(&state.metrics.timeouts);
                tracing::debug!("a /ws client stopped reading; closing it");
                break;
            }
        }
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
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

impl Reader<'_> {
    async fn run(mut self, ip: IpAddr, query: Option<&str>) {
        let state = self.state;
        let conn = self.conn;
        let outbox = self.outbox;
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
            None => {
                let deadline = tokio::time::Instant::now() + FIRST_FRAME_TIMEOUT;
                loop {
                    // Wait for the first event: `hello` carries the handshake; anything else
                    // means an anonymous client, and that event is then handled after
                    // admission.
                    let Some(message) = self.next(deadline).await else {
                        return;
                    };
                    match decode(&message, &mut limit) {
                        None => continue,
                        Some(Ok(ClientEvent::Hello(handshake))) => break handshake,
                        Some(Ok(event)) => {
                            first_event = Some(event);
                            break Handshake::default();
                        }
                        Some(Err(error)) => send_error(state, outbox, error),
                    }
                }
            }
        };
        if handshake.role == Role::Relay {
            // A relay authenticates with its token, not the room code (`relay_link`).
            super::relay_link::serve(self, ip).await;
            return;
        }
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
        // A display's place among the room's displays, for as long as it is connected.
        let _display = match role {
            Role::Display => match state.caps.display() {
                Some(permit) => Some(permit),
                None => {
                    send_error(state, outbox, too_many_displays(state));
                    let _ = outbox.try_send(WsOut::Close);
                    return;
                }
            },
            Role::Participant | Role::Relay => None,
        };
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
        loop {
            let deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
            let Some(message) = self.next(deadline).await else {
                break;
            };
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
