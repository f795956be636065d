//! Socket.IO v4 at `/socket.io/` (socketioxide), for the original web client, Socket.IO-Client-
//! Swift and python-socketio: the same events and the same rules as `/ws`. The handshake is
//! the `auth` object; events are validated by `synchub-protocol` exactly as on `/ws`.
//!
//! Acknowledgements are this edge's business: it decides which event answers each one
//! (`join_session` → `session_joined`, `update_coherence` → `personal_feedback`, `time_sync` →
//! `time_sync`, an `error` for any), hands the engine task a [`Reply`] to fill, and sends the
//! acknowledgement with the answer (`{}` when nothing matched).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler as _;
use socketioxide::layer::SocketIoLayer;
use synchub_protocol::{ClientEvent, ErrorCode, ErrorEvent, Handshake, HubEvent, Role};
use tokio::sync::{mpsc, oneshot};

use super::edge::{OUTBOX_CAPACITY, Routed, admit, check_inbound, route, too_many_displays};
use super::guards::RateLimit;
use super::{AppState, client_ip};
use crate::encoded::Encoded;
use crate::engine_task::{Answer, Input, Reply};
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer, SendFailure};

/// Engine.IO packets up to this size are read (events over 64 KiB get `too_large` and the
/// connection stays open); a WebSocket frame or message announcing more is refused from its
/// header and Engine.IO closes the connection, as the reference Socket.IO server does beyond
/// its `maxHttpBufferSize`. socketioxide's own default would read 64 MiB per message.
const MAX_READ_BYTES: usize = 2 * synchub_protocol::limits::MAX_FRAME_BYTES;

/// A client must finish its Socket.IO connect (after Engine.IO's open) within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the Socket.IO layer and registers the connection handler on `state`.
pub fn layer(state: AppState) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_payload(MAX_READ_BYTES as u64)
        .ws_max_message_size(MAX_READ_BYTES)
        .ws_max_frame_size(MAX_READ_BYTES)
        .connect_timeout(CONNECT_TIMEOUT)
        // socketioxide's default is 128 queued packets per socket; a full queue makes the hub
        // close the connection as a slow reader. At 2 000 participants that closed ~12 % of
        // Socket.IO connections (`synchub_slow_client_disconnects_total`) whose writers were
        // merely descheduled for a moment. Same allowance as a `/ws` outbox.
        .max_buffer_size(OUTBOX_CAPACITY)
        // Engine.IO's heartbeat: a client that answers no ping for 10 s is disconnected.
        .ping_interval(Duration::from_secs(10))
        .ping_timeout(Duration::from_secs(10))
        .build_layer();
    close_all_when_engine_stops(&state, io.clone());
    // Handlers do their work in the closure body, which socketioxide runs synchronously in the
    // order packets arrive; only the returned future is spawned. So a client's events reach the
    // engine in the order it sent them (`join_session` before `update_coherence`).
    //
    // socketioxide sends the connect packet (`40`) *before* it calls the connect handler, from
    // a task of its own: a client that emits at once (every client does) can have its first
    // events read on another thread before the handler has run, and socketioxide drops events
    // that find no handler. The middleware below runs before the connect packet goes out and
    // installs a `Gate` that holds such events until the connection is open in the engine.
    let gate_state = state.clone();
    io.ns(
        "/",
        (move |socket: SocketRef, TryData(auth): TryData<Value>| {
            on_connect(state.clone(), socket, auth.ok());
            std::future::ready(())
        })
        .with(move |socket: SocketRef| {
            install_gate(gate_state.clone(), socket);
            std::future::ready(Ok::<(), std::convert::Infallible>(()))
        }),
    );
    layer
}

/// Disconnects every Socket.IO client once the engine task is gone. On a clean stop the engine
/// closes its connections itself; after a panic nobody would, and the sockets would stay open
/// on a hub that answers every event with "busy" while the hub that takes over (the desktop
/// app's restart, a service manager's) waits for them to reconnect.
fn close_all_when_engine_stops(state: &AppState, io: SocketIo) {
    let inputs = state.engine.inputs.clone();
    tokio::spawn(async move {
        inputs.closed().await;
        io.close().await;
    });
}

/// The engine task's way to one Socket.IO connection.
#[derive(Debug)]
struct SocketIoPeer(SocketRef);

impl Peer for SocketIoPeer {
    fn send(&self, event: &Arc<Encoded>) -> Result<(), SendFailure> {
        self.0
            .emit(event.name, &*event.payload)
            .map_err(|error| match error {
                socketioxide::SendError::Socket(socketioxide::SocketError::InternalChannelFull) => {
                    SendFailure::Slow
                }
                _ => SendFailure::Closed,
            })
    }

    fn close(&self) {
        // Already closed is fine: that is what we want.
        let _ = self.0.clone().disconnect();
    }
}

/// Which events answer a client's acknowledgement of `event`: its reply, or an `error`.
fn answered_by(event: &ClientEvent) -> &'static [&'static str] {
    match event {
        ClientEvent::JoinSession(_) => &["session_joined", "error"],
        ClientEvent::UpdateCoherence(_) => &["personal_feedback", "error"],
        ClientEvent::TimeSync(_) => &["time_sync", "error"],
        ClientEvent::ClaimStrap(_) => &["strap_claim", "error"],
        _ => &["error"],
    }
}

/// An acknowledgement waiting for the engine task's answer.
struct PendingAck {
    answer: oneshot::Receiver<Answer>,
    ack: AckSender,
}

impl PendingAck {
    /// Sends the acknowledgement once the engine task answered (nothing when it stopped).
    async fn send(self) {
        let Ok(answer) = self.answer.await else {
            return;
        };
        // A client that is gone cannot be acknowledged.
        let _ = match answer {
            Answer::Event(event) => self.ack.send(&*event.payload),
            // Nothing answered it: acknowledge receipt with an empty object.
            Answer::NothingMatched => self.ack.send(&serde_json::json!({})),
        };
    }
}

/// Where one Socket.IO connection's events go: held until the engine knows the connection,
/// then straight through, in arrival order either way.
enum Gate {
    /// Connected at the Socket.IO level, not yet admitted: events wait here.
    Pending(Vec<HeldEvent>),
    /// Admitted: events go to the engine.
    Open {
        conn: ConnId,
        role: Role,
        limit: Arc<Mutex<RateLimit>>,
    },
    /// Refused or disconnected: events are ignored.
    Closed,
}

struct HeldEvent {
    name: String,
    data: Result<Value, socketioxide::ParserError>,
    ack: AckSender,
}

/// Events a client may send before its connection is admitted (it normally sends two or three:
/// `time_sync`, `join_session`); beyond this the client is flooding and is told so.
const MAX_HELD_EVENTS: usize = 40;

type SharedGate = Arc<Mutex<Gate>>;

fn lock(gate: &Mutex<Gate>) -> std::sync::MutexGuard<'_, Gate> {
    gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs before the connect packet is sent: registers the event and disconnect handlers behind a
/// closed gate, so nothing the client sends after `40` can be lost.
fn install_gate(state: AppState, socket: SocketRef) {
    let gate: SharedGate = Arc::new(Mutex::new(Gate::Pending(Vec::new())));
    socket.extensions.insert(gate.clone());
    let event_state = state.clone();
    let event_gate = gate.clone();
    socket.on_fallback(
        move |socket: SocketRef,
              Event(name): Event,
              TryData(data): TryData<Value>,
              ack: AckSender| {
            let mut gate = lock(&event_gate);
            let pending = match &mut *gate {
                Gate::Pending(held) if held.len() < MAX_HELD_EVENTS => {
                    held.push(HeldEvent { name, data, ack });
                    None
                }
                Gate::Pending(_) => {
                    emit_error(
                        &event_state,
                        &socket,
                        ErrorEvent {
                            code: ErrorCode::RateLimited,
                            message: format!("{}: too many events before joining", truncate(&name)),
                        },
                    );
                    None
                }
                Gate::Open { conn, role, limit } => {
                    let admitted = Admitted {
                        conn: *conn,
                        role: *role,
                        limit,
                    };
                    on_event(&event_state, &admitted, &socket, &name, data, ack)
                }
                Gate::Closed => None,
            };
            drop(gate);
            // socketioxide spawns the returned future: the acknowledgement waits there for
            // the engine task's answer, not in this handler.
            acknowledge(pending)
        },
    );
    socket.on_disconnect(move |_socket: SocketRef| {
        let previous = std::mem::replace(&mut *lock(&gate), Gate::Closed);
        if let Gate::Open { conn, .. } = previous {
            Metrics::decrement(&state.metrics.socketio_connections);
            if let Err(mpsc::error::TrySendError::Full(input)) =
                state.engine.inputs.try_send(Input::Closed { conn })
            {
                // The close must not be lost; it queues behind everything this socket sent.
                let inputs = state.engine.inputs.clone();
                tokio::spawn(async move {
                    let _ = inputs.send(input).await;
                });
            }
        }
        std::future::ready(())
    });
}

async fn acknowledge(pending: Option<PendingAck>) {
    if let Some(pending) = pending {
        pending.send().await;
    }
}

fn emit_error(state: &AppState, socket: &SocketRef, error: ErrorEvent) -> Arc<Encoded> {
    state.metrics.count_error(error.code);
    let encoded = Encoded::new(&HubEvent::Error(error));
    // A closed socket cannot be told anything.
    let _ = socket.emit(encoded.name, &*encoded.payload);
    encoded
}

fn on_connect(state: AppState, socket: SocketRef, auth: Option<Value>) {
    let Some(gate) = socket.extensions.get::<SharedGate>() else {
        // The middleware always installs the gate; without it no event could be handled.
        let _ = socket.disconnect();
        return;
    };
    let refuse = |error: ErrorEvent| {
        *lock(&gate) = Gate::Closed;
        emit_error(&state, &socket, error);
        let _ = socket.clone().disconnect();
    };
    let handshake = match Handshake::from_auth(&auth.unwrap_or(Value::Null)) {
        Ok(handshake) => handshake,
        Err(error) => return refuse(error.to_error_event()),
    };
    if handshake.role == Role::Relay {
        return refuse(ErrorEvent {
            code: ErrorCode::NotAllowed,
            message:
                "a relay connects over /ws (ws://<hub>/ws?role=relay&protocol=2), not Socket.IO"
                    .to_owned(),
        });
    }
    let ip = client_ip(&socket.req_parts().extensions);
    // The original server fell back to the socket id when a client sent no `userId`.
    let fallback_user_id = format!("socketio-{}", socket.id);
    let identity = match admit(&state, &handshake, ip, &fallback_user_id) {
        Ok(identity) => identity,
        Err(error) => return refuse(error),
    };
    let role = identity.role;
    if role == Role::Display {
        match state.caps.display() {
            // The display's place lives as long as the socket (its extensions).
            Some(permit) => socket.extensions.insert(Arc::new(permit)),
            None => return refuse(too_many_displays(&state)),
        };
    }
    let conn = state.next_conn_id();
    let opened = Input::Open {
        conn,
        peer: Arc::new(SocketIoPeer(socket.clone())),
        identity,
    };
    // Hold the gate while the connection opens so events arriving meanwhile queue behind the
    // held ones, in order.
    let mut gate = lock(&gate);
    if state.engine.inputs.try_send(opened).is_err() {
        *gate = Gate::Closed;
        drop(gate);
        emit_error(
            &state,
            &socket,
            ErrorEvent {
                code: ErrorCode::RateLimited,
                message: "the hub is busy; connect again shortly".to_owned(),
            },
        );
        let _ = socket.disconnect();
        return;
    }
    Metrics::increment(&state.metrics.socketio_connections);
    let limit = Arc::new(Mutex::new(RateLimit::per_connection()));
    let held = match std::mem::replace(
        &mut *gate,
        Gate::Open {
            conn,
            role,
            limit: limit.clone(),
        },
    ) {
        Gate::Pending(held) => held,
        // Disconnected while being admitted: the disconnect handler saw no open connection,
        // so close it here.
        Gate::Open { .. } | Gate::Closed => {
            *gate = Gate::Closed;
            Metrics::decrement(&state.metrics.socketio_connections);
            let _ = state.engine.inputs.try_send(Input::Closed { conn });
            return;
        }
    };
    let admitted = Admitted {
        conn,
        role,
        limit: &limit,
    };
    for HeldEvent { name, data, ack } in held {
        if let Some(pending) = on_event(&state, &admitted, &socket, &name, data, ack) {
            tokio::spawn(pending.send());
        }
    }
}

/// An admitted connection, as its events need it.
struct Admitted<'a> {
    conn: ConnId,
    role: Role,
    limit: &'a Mutex<RateLimit>,
}

/// One event from a Socket.IO client: checked at the edge, then handed to the engine without
/// waiting (a full engine queue is answered with `rate_limited`, never dropped silently). The
/// acknowledgement to send once the engine task answers, if it got the event.
fn on_event(
    state: &AppState,
    admitted: &Admitted<'_>,
    socket: &SocketRef,
    name: &str,
    data: Result<Value, socketioxide::ParserError>,
    ack: AckSender,
) -> Option<PendingAck> {
    // An event without arguments (the original `leave_session`) has no first element to
    // read; it carries no data. Events that need data then get `invalid_payload` naming it.
    let data = data.unwrap_or(Value::Null);
    // Size as the client sent it, give or take the framing: the re-serialised JSON.
    let len_bytes = serde_json::to_string(&data).map_or(usize::MAX, |text| text.len() + name.len());
    let checked = {
        let mut limit = admitted
            .limit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        check_inbound(&mut limit, len_bytes)
    };
    if let Err(error) = checked {
        emit_error(state, socket, error);
        return None;
    }
    let event = match ClientEvent::decode(name, &first_argument(data)) {
        Ok(event) => event,
        Err(error) => {
            emit_error(state, socket, error.to_error_event());
            return None;
        }
    };
    let answered_by = answered_by(&event);
    match route(state, admitted.role, event) {
        Routed::Engine(input) => {
            let (answer, answered) = oneshot::channel();
            let input = Input::Client {
                conn: admitted.conn,
                input,
                reply: Some(Reply {
                    answered_by,
                    answer,
                }),
            };
            match state.engine.inputs.try_send(input) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let error = ErrorEvent {
                        code: ErrorCode::RateLimited,
                        message: format!(
                            "{}: the hub is busy; send it again shortly",
                            truncate(name)
                        ),
                    };
                    emit_error(state, socket, error);
                    return None;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    // The engine task is gone; `close_all_when_engine_stops` is closing every
                    // socket. Close this one now rather than answer it.
                    let _ = socket.clone().disconnect();
                    return None;
                }
            }
            Some(PendingAck {
                answer: answered,
                ack,
            })
        }
        Routed::Refused(error) => {
            let encoded = emit_error(state, socket, error);
            // The refusal answers the acknowledgement too, as every `error` does.
            let _ = ack.send(&*encoded.payload);
            None
        }
    }
}

/// Socket.IO delivers several arguments as an array; the protocol uses the first one.
fn first_argument(data: Value) -> Value {
    match data {
        Value::Array(mut arguments) if !arguments.is_empty() => arguments.swap_remove(0),
        Value::Array(_) => Value::Null,
        other => other,
    }
}

fn truncate(name: &str) -> String {
    name.chars()
        .take(synchub_protocol::limits::MAX_EVENT_NAME_BYTES)
        .collect()
}
