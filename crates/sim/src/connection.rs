//! The framing half of a simulated participant: one connection to the hub over the plain
//! WebSocket (`/ws`, `{"event", "data"}` text frames) or Socket.IO v4 (`/socket.io/`, the
//! WebSocket transport only, Engine.IO packets from [`crate::socketio`]), handshake included.
//!
//! A `Connection` turns the hub's frames into `(event name, data)` pairs and the
//! participant's events into frames; what to send and when is the participant's (`client`).
//!
//! On the plain WebSocket the handshake goes either into the URL query string
//! (`/ws?role=participant&userId=…&roomCode=…&resumeToken=…`, written by
//! `synchub_protocol::Handshake::to_query`, [`WsHandshake::Query`]) or into a first `hello` event
//! with the same fields ([`WsHandshake::Hello`]); a crowd uses both so the hub's two paths are
//! exercised. Over Socket.IO the fields go in the `auth` object of the namespace connect packet,
//! as `socket.io-client` sends them.
//!
//! Hub events are read leniently, as a name and a JSON value, rather than with the strict
//! `synchub_protocol::HubEvent` decoder: the simulator measures the hub and must keep working
//! while additive fields come and go.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use synchub_protocol::{ClientEvent, Handshake};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::socketio::{EnginePacket, FramingError, SocketPacket};
use crate::stats::SIM_ERROR_PREFIX;

/// Which of the hub's two socket endpoints a participant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain WebSocket at `/ws`, `{"event", "data"}` text frames (the original iOS client).
    Ws,
    /// Socket.IO v4 at `/socket.io/` over the WebSocket transport (the original web client).
    SocketIo,
}

impl Transport {
    /// Lower-case name, as the command line spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::SocketIo => "socketio",
        }
    }
}

/// Where a plain-WebSocket participant puts its handshake fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsHandshake {
    /// In the URL: `/ws?userId=…&roomCode=…&resumeToken=…&role=participant`.
    Query,
    /// In a first `hello` event carrying the same fields.
    Hello,
}

/// Why a connection could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub URL is not `http://`, `ws://` or `host:port`.
    #[error("unsupported hub URL {0:?} (expected http://host:port or ws://host:port)")]
    Url(String),
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The Socket.IO framing was broken.
    #[error("socket.io framing: {0}")]
    Framing(#[from] FramingError),
    /// Socket.IO: the hub refused the namespace connection.
    #[error("connection refused by the hub: {0}")]
    Refused(String),
    /// The connection or its handshake took too long.
    #[error("timed out")]
    Timeout,
    /// The hub closed the connection during the handshake.
    #[error("closed during the handshake")]
    Closed,
}

/// `http://h:p/`, `ws://h:p` or `h:p` → `ws://h:p` (no TLS: the hub serves a LAN).
pub fn websocket_base_url(hub_url: &str) -> Result<String, ClientError> {
    let trimmed = hub_url.trim().trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("ws://") {
        rest
    } else if trimmed.contains("://") || trimmed.is_empty() {
        return Err(ClientError::Url(hub_url.to_owned()));
    } else {
        trimmed
    };
    if rest.is_empty() || rest.contains('/') {
        return Err(ClientError::Url(hub_url.to_owned()));
    }
    Ok(format!("ws://{rest}"))
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket with Nagle's algorithm off, as browsers and the `ws` package of
/// `socket.io-client` do: otherwise a small frame can wait ~40 ms for the previous one's
/// delayed ACK, and the benchmark would measure TCP timers instead of the hub.
async fn connect(url: String) -> Result<Socket, ClientError> {
    let (socket, _) = connect_async_with_config(url, None, true).await?;
    Ok(socket)
}

/// What one incoming frame meant.
pub(crate) enum Incoming {
    /// A hub event, with its data (`Null` when it had none).
    Event(String, Value),
    /// Engine.IO heartbeat: answer with a pong carrying this data.
    EnginePing(String),
    /// Nothing the participant acts on (WebSocket ping, Socket.IO ack, noop …).
    Nothing,
    /// The connection is gone.
    Closed,
}

/// An open connection, handshake done.
pub(crate) struct Connection {
    socket: Socket,
    transport: Transport,
    /// Events that arrived during the Socket.IO handshake.
    early_events: VecDeque<(String, Value)>,
}

impl Connection {
    /// Connects to the hub at `hub_url` over `transport` and completes the handshake (on `/ws`,
    /// where `ws_handshake` says).
    pub(crate) async fn open(
        hub_url: &str,
        transport: Transport,
        ws_handshake: WsHandshake,
        handshake: Handshake,
    ) -> Result<Self, ClientError> {
        let base = websocket_base_url(hub_url)?;
        match transport {
            Transport::Ws => {
                let url = match ws_handshake {
                    WsHandshake::Query => format!("{base}/ws?{}", handshake.to_query()),
                    WsHandshake::Hello => format!("{base}/ws"),
                };
                let socket = connect(url).await?;
                let mut connection = Connection {
                    socket,
                    transport: Transport::Ws,
                    early_events: VecDeque::new(),
                };
                if ws_handshake == WsHandshake::Hello {
                    connection.send(&ClientEvent::Hello(handshake)).await?;
                }
                Ok(connection)
            }
            Transport::SocketIo => {
                let url = format!("{base}/socket.io/?EIO=4&transport=websocket");
                let socket = connect(url).await?;
                let mut connection = Connection {
                    socket,
                    transport: Transport::SocketIo,
                    early_events: VecDeque::new(),
                };
                connection.socketio_handshake(&handshake).await?;
                Ok(connection)
            }
        }
    }

    /// Engine.IO `open`, then the namespace connect with `auth`, as `socket.io-client` does.
    async fn socketio_handshake(&mut self, handshake: &Handshake) -> Result<(), ClientError> {
        match self.next_text().await? {
            Some(text) => match EnginePacket::decode(&text)? {
                EnginePacket::Open(_) => {}
                other => {
                    return Err(ClientError::Framing(FramingError::Payload(format!(
                        "expected the open packet, got {other:?}"
                    ))));
                }
            },
            None => return Err(ClientError::Closed),
        }
        let auth = serde_json::to_value(handshake).unwrap_or(Value::Null);
        let connect = SocketPacket::Connect {
            namespace: "/".to_owned(),
            data: Some(auth),
        };
        self.send_text(connect.to_frame()).await?;
        loop {
            let Some(text) = self.next_text().await? else {
                return Err(ClientError::Closed);
            };
            match EnginePacket::decode(&text)? {
                EnginePacket::Ping(data) => {
                    self.send_text(EnginePacket::Pong(data).encode()).await?
                }
                EnginePacket::Message(payload) => match SocketPacket::decode(&payload)? {
                    SocketPacket::Connect { .. } => return Ok(()),
                    SocketPacket::ConnectError { data, .. } => {
                        return Err(ClientError::Refused(error_code_of(&data)));
                    }
                    SocketPacket::Event { name, args, .. } => {
                        let data = args.into_iter().next().unwrap_or(Value::Null);
                        self.early_events.push_back((name, data));
                    }
                    SocketPacket::Disconnect { .. } => return Err(ClientError::Closed),
                    SocketPacket::Ack { .. } => {}
                },
                EnginePacket::Close => return Err(ClientError::Closed),
                _ => {}
            }
        }
    }

    /// The next text frame (binary and control frames skipped); `None` once closed.
    async fn next_text(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            match self.socket.next().await {
                None => return Ok(None),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(Message::Text(text))) => return Ok(Some(text.as_str().to_owned())),
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads one frame. Cancel-safe (it never writes), so it can sit in a `select!` next to
    /// timers; the caller answers Engine.IO pings.
    pub(crate) async fn next_incoming(&mut self) -> Incoming {
        if let Some((name, data)) = self.early_events.pop_front() {
            return Incoming::Event(name, data);
        }
        let text = match self.socket.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Incoming::Closed,
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => return Incoming::Nothing,
        };
        match self.transport {
            Transport::Ws => match serde_json::from_str::<Value>(text.as_str()) {
                Ok(Value::Object(mut frame)) => match frame.remove("event") {
                    Some(Value::String(name)) => {
                        Incoming::Event(name, frame.remove("data").unwrap_or(Value::Null))
                    }
                    _ => Incoming::Event(sim_error("frame_without_event"), Value::Null),
                },
                _ => Incoming::Event(sim_error("malformed_frame"), Value::Null),
            },
            Transport::SocketIo => match EnginePacket::decode(text.as_str()) {
                Ok(EnginePacket::Ping(data)) => Incoming::EnginePing(data),
                Ok(EnginePacket::Close) => Incoming::Closed,
                Ok(EnginePacket::Message(payload)) => match SocketPacket::decode(&payload) {
                    Ok(SocketPacket::Event { name, args, .. }) => {
                        Incoming::Event(name, args.into_iter().next().unwrap_or(Value::Null))
                    }
                    Ok(SocketPacket::Disconnect { .. }) => Incoming::Closed,
                    Ok(SocketPacket::ConnectError { data, .. }) => {
                        Incoming::Event("error".into(), data)
                    }
                    Ok(SocketPacket::Ack { .. } | SocketPacket::Connect { .. }) => {
                        Incoming::Nothing
                    }
                    Err(_) => Incoming::Event(sim_error("malformed_frame"), Value::Null),
                },
                Ok(_) => Incoming::Nothing,
                Err(_) => Incoming::Event(sim_error("malformed_frame"), Value::Null),
            },
        }
    }

    pub(crate) async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        self.socket.send(Message::text(text)).await?;
        Ok(())
    }

    pub(crate) async fn send(&mut self, event: &ClientEvent) -> Result<(), ClientError> {
        let text = match self.transport {
            Transport::Ws => event.to_frame(),
            Transport::SocketIo => {
                let (name, data) = event.to_socketio();
                SocketPacket::event(name, data).to_frame()
            }
        };
        self.send_text(text).await
    }

    pub(crate) async fn close(mut self) {
        // Best effort: the hub treats a vanished socket the same way.
        let _ = self.socket.close(None).await;
    }
}

pub(crate) fn sim_error(what: &str) -> String {
    format!("{SIM_ERROR_PREFIX}{what}")
}

/// The `code` of an `error` event or connect error (`{code}` or `{data: {code}}`), else
/// `message`, else `unknown`.
pub(crate) fn error_code_of(data: &Value) -> String {
    data.get("code")
        .or_else(|| data.get("data").and_then(|inner| inner.get("code")))
        .and_then(Value::as_str)
        .or_else(|| data.get("message").and_then(Value::as_str))
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hub_urls_become_websocket_urls() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(
                websocket_base_url(input).ok().as_deref(),
                expected,
                "{input}"
            );
        };
        check("http://127.0.0.1:7878", Some("ws://127.0.0.1:7878"));
        check("http://127.0.0.1:7878/", Some("ws://127.0.0.1:7878"));
        check("ws://hub.local:80", Some("ws://hub.local:80"));
        check("127.0.0.1:9", Some("ws://127.0.0.1:9"));
        check("https://hub:1", None);
        check("http://hub:1/path", None);
        check("", None);
    }

    #[test]
    fn error_codes_are_read_from_either_shape() {
        assert_eq!(
            error_code_of(&json!({"code": "rate_limited", "message": "x"})),
            "rate_limited"
        );
        assert_eq!(
            error_code_of(&json!({"message": "m", "data": {"code": "bad_room_code"}})),
            "bad_room_code"
        );
        assert_eq!(
            error_code_of(&json!({"message": "Not authorized"})),
            "Not authorized"
        );
        assert_eq!(error_code_of(&Value::Null), "unknown");
    }
}
