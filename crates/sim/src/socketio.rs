//! The small part of Engine.IO v4 and Socket.IO v5 (the protocol of Socket.IO v4 clients) that a
//! WebSocket-only client needs: one Engine.IO packet per WebSocket text frame, Socket.IO
//! packets inside Engine.IO `message` packets.
//!
//! Why write this instead of using the `rust_socketio` crate: it pulls in `reqwest` and
//! `native-tls` (OpenSSL), and the project's binaries must build on a machine that has only
//! Rust. The subset we need — open, ping/pong, connect with `auth`, events, acks, connect errors,
//! disconnect — is a few string formats, tested below against the packet examples of the
//! protocol documents (<https://github.com/socketio/engine.io-protocol>,
//! <https://github.com/socketio/socket.io-protocol>). Binary attachments and the HTTP
//! long-polling transport are not supported: the simulator never uses them.

use serde_json::Value;

/// Why a frame could not be read as Engine.IO / Socket.IO.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Empty frame: every packet starts with a type digit.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// The JSON part did not parse, or had the wrong shape.
    #[error("malformed packet payload: {0}")]
    Payload(String),
    /// Binary events and acks carry attachments, which this client does not implement.
    #[error("binary Socket.IO packets are not supported")]
    Binary,
}

/// The fields of the Engine.IO `open` packet the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOpen {
    /// Engine.IO session id.
    pub sid: String,
    /// How often the server pings, ms.
    pub ping_interval_ms: u64,
    /// How long the server waits for a pong, ms.
    pub ping_timeout_ms: u64,
    /// Largest payload the server accepts, bytes.
    pub max_payload_bytes: u64,
}

/// One Engine.IO v4 packet, as carried by one WebSocket text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket {
    /// `0{json}`: the handshake from the server.
    Open(EngineOpen),
    /// `1`: close the transport.
    Close,
    /// `2` (optionally with data, e.g. `2probe`): the server's heartbeat; answer with a pong
    /// carrying the same data.
    Ping(String),
    /// `3`: the answer to a ping.
    Pong(String),
    /// `4…`: a message; for Socket.IO, a [`SocketPacket`].
    Message(String),
    /// `5`: transport upgrade (not used over a direct WebSocket).
    Upgrade,
    /// `6`: no-op.
    Noop,
}

impl EnginePacket {
    /// Parses one WebSocket text frame.
    pub fn decode(frame: &str) -> Result<EnginePacket, FramingError> {
        let mut chars = frame.chars();
        let kind = chars.next().ok_or(FramingError::Empty)?;
        let rest = chars.as_str();
        Ok(match kind {
            '0' => EnginePacket::Open(decode_open(rest)?),
            '1' => EnginePacket::Close,
            '2' => EnginePacket::Ping(rest.to_owned()),
            '3' => EnginePacket::Pong(rest.to_owned()),
            '4' => EnginePacket::Message(rest.to_owned()),
            '5' => EnginePacket::Upgrade,
            '6' => EnginePacket::Noop,
            other => return Err(FramingError::UnknownType(other)),
        })
    }

    /// The WebSocket text frame for this packet.
    pub fn encode(&self) -> String {
        match self {
            EnginePacket::Open(open) => format!(
                "0{}",
                serde_json::json!({
                    "sid": open.sid,
                    "upgrades": [],
                    "pingInterval": open.ping_interval_ms,
                    "pingTimeout": open.ping_timeout_ms,
                    "maxPayload": open.max_payload_bytes,
                })
            ),
            EnginePacket::Close => "1".to_owned(),
            EnginePacket::Ping(data) => format!("2{data}"),
            EnginePacket::Pong(data) => format!("3{data}"),
            EnginePacket::Message(data) => format!("4{data}"),
            EnginePacket::Upgrade => "5".to_owned(),
            EnginePacket::Noop => "6".to_owned(),
        }
    }
}

fn decode_open(json: &str) -> Result<EngineOpen, FramingError> {
    let value: Value =
        serde_json::from_str(json).map_err(|error| FramingError::Payload(error.to_string()))?;
    let number = |key: &str| value.get(key).and_then(Value::as_u64);
    let missing = |key: &str| FramingError::Payload(format!("open packet without {key}"));
    Ok(EngineOpen {
        sid: value
            .get("sid")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("sid"))?
            .to_owned(),
        ping_interval_ms: number("pingInterval").ok_or_else(|| missing("pingInterval"))?,
        ping_timeout_ms: number("pingTimeout").ok_or_else(|| missing("pingTimeout"))?,
        // Optional in older servers; 1 MB is the Engine.IO default.
        max_payload_bytes: number("maxPayload").unwrap_or(1_000_000),
    })
}

/// One Socket.IO v5 packet (inside an Engine.IO message). Namespace `/` is written as no
/// namespace, as the reference implementation does.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketPacket {
    /// `0[/nsp,][data]`: connect to a namespace; from the client `data` is the `auth` object,
    /// from the server `{sid}`.
    Connect {
        /// Namespace, `/` by default.
        namespace: String,
        /// `auth` (client) or `{sid}` (server).
        data: Option<Value>,
    },
    /// `1[/nsp,]`: leave a namespace.
    Disconnect {
        /// Namespace.
        namespace: String,
    },
    /// `2[/nsp,][id]["name", args…]`: an event, with an ack id when the sender wants an ack.
    Event {
        /// Namespace.
        namespace: String,
        /// Present when the sender asks for an acknowledgement.
        ack_id: Option<u64>,
        /// Event name.
        name: String,
        /// Event arguments (the protocol's events have zero or one).
        args: Vec<Value>,
    },
    /// `3[/nsp,]id[args…]`: the acknowledgement of event `ack_id`.
    Ack {
        /// Namespace.
        namespace: String,
        /// Which event this acknowledges.
        ack_id: u64,
        /// Ack arguments.
        args: Vec<Value>,
    },
    /// `4[/nsp,]{message, data?}`: the server refused the connection (e.g. its auth).
    ConnectError {
        /// Namespace.
        namespace: String,
        /// Usually `{message}`; our hub adds `data: {code}`.
        data: Value,
    },
}

impl SocketPacket {
    /// An event on the default namespace without ack id: what `socket.emit(name, data)` sends.
    pub fn event(name: &str, data: Option<Value>) -> SocketPacket {
        SocketPacket::Event {
            namespace: "/".to_owned(),
            ack_id: None,
            name: name.to_owned(),
            args: data.into_iter().collect(),
        }
    }

    /// Parses the payload of an Engine.IO message packet.
    pub fn decode(text: &str) -> Result<SocketPacket, FramingError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(FramingError::Empty)?;
        let rest = chars.as_str();
        if matches!(kind, '5' | '6') {
            return Err(FramingError::Binary);
        }
        let (namespace, rest) = split_namespace(rest);
        let namespace = namespace.to_owned();
        match kind {
            '0' => Ok(SocketPacket::Connect {
                namespace,
                data: optional_json(rest)?,
            }),
            '1' => Ok(SocketPacket::Disconnect { namespace }),
            '2' => {
                let (ack_id, json) = split_ack_id(rest)?;
                let mut args = json_array(json)?;
                if args.is_empty() {
                    return Err(FramingError::Payload("event without a name".into()));
                }
                let name = match args.remove(0) {
                    Value::String(name) => name,
                    _ => return Err(FramingError::Payload("event name is not a string".into())),
                };
                Ok(SocketPacket::Event {
                    namespace,
                    ack_id,
                    name,
                    args,
                })
            }
            '3' => {
                let (ack_id, json) = split_ack_id(rest)?;
                let ack_id =
                    ack_id.ok_or_else(|| FramingError::Payload("ack without an id".into()))?;
                Ok(SocketPacket::Ack {
                    namespace,
                    ack_id,
                    args: json_array(json)?,
                })
            }
            '4' => Ok(SocketPacket::ConnectError {
                namespace,
                data: optional_json(rest)?.unwrap_or(Value::Null),
            }),
            other => Err(FramingError::UnknownType(other)),
        }
    }

    /// The payload of an Engine.IO message packet (without the leading `4`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let prefix = |out: &mut String, kind: char, namespace: &str| {
            out.push(kind);
            if namespace != "/" {
                out.push_str(namespace);
                out.push(',');
            }
        };
        match self {
            SocketPacket::Connect { namespace, data } => {
                prefix(&mut out, '0', namespace);
                if let Some(data) = data {
                    out.push_str(&data.to_string());
                }
            }
            SocketPacket::Disconnect { namespace } => prefix(&mut out, '1', namespace),
            SocketPacket::Event {
                namespace,
                ack_id,
                name,
                args,
            } => {
                prefix(&mut out, '2', namespace);
                if let Some(id) = ack_id {
                    out.push_str(&id.to_string());
                }
                let mut array = Vec::with_capacity(args.len() + 1);
                array.push(Value::String(name.clone()));
                array.extend(args.iter().cloned());
                out.push_str(&Value::Array(array).to_string());
            }
            SocketPacket::Ack {
                namespace,
                ack_id,
                args,
            } => {
                prefix(&mut out, '3', namespace);
                out.push_str(&ack_id.to_string());
                out.push_str(&Value::Array(args.clone()).to_string());
            }
            SocketPacket::ConnectError { namespace, data } => {
                prefix(&mut out, '4', namespace);
                out.push_str(&data.to_string());
            }
        }
        out
    }

    /// The WebSocket text frame: this packet inside an Engine.IO message.
    pub fn to_frame(&self) -> String {
        format!("4{}", self.encode())
    }
}

/// `/admin,rest` → (`/admin`, `rest`); anything else is the default namespace.
fn split_namespace(text: &str) -> (&str, &str) {
    if text.starts_with('/') {
        match text.split_once(',') {
            Some((namespace, rest)) => (namespace, rest),
            None => (text, ""),
        }
    } else {
        ("/", text)
    }
}

/// Leading decimal digits are the ack id.
fn split_ack_id(text: &str) -> Result<(Option<u64>, &str), FramingError> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, text));
    }
    let id = text[..digits]
        .parse()
        .map_err(|_| FramingError::Payload("ack id out of range".into()))?;
    Ok((Some(id), &text[digits..]))
}

fn optional_json(text: &str) -> Result<Option<Value>, FramingError> {
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|error| FramingError::Payload(error.to_string()))
}

fn json_array(text: &str) -> Result<Vec<Value>, FramingError> {
    match optional_json(text)? {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(FramingError::Payload("expected a JSON array".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Decodes `frame`, checks it equals `expected`, and that encoding gives the frame back.
    fn check_socket(frame: &str, expected: SocketPacket) {
        assert_eq!(SocketPacket::decode(frame).unwrap(), expected, "{frame}");
        assert_eq!(expected.encode(), frame);
    }

    fn check_engine(frame: &str, expected: EnginePacket) {
        assert_eq!(EnginePacket::decode(frame).unwrap(), expected, "{frame}");
    }

    // Engine.IO v4 examples (engine.io-protocol README).
    #[test]
    fn engine_open_handshake() {
        let frame = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        check_engine(
            frame,
            EnginePacket::Open(EngineOpen {
                sid: "lv_VI97HAXpY6yYWAAAC".into(),
                ping_interval_ms: 25_000,
                ping_timeout_ms: 20_000,
                max_payload_bytes: 1_000_000,
            }),
        );
    }

    #[test]
    fn engine_heartbeat_and_messages() {
        check_engine("2", EnginePacket::Ping(String::new()));
        check_engine("3", EnginePacket::Pong(String::new()));
        check_engine("2probe", EnginePacket::Ping("probe".into()));
        check_engine("4hello", EnginePacket::Message("hello".into()));
        check_engine("1", EnginePacket::Close);
        check_engine("6", EnginePacket::Noop);
        assert_eq!(EnginePacket::Pong("probe".into()).encode(), "3probe");
        assert_eq!(EnginePacket::Pong(String::new()).encode(), "3");
        assert_eq!(EnginePacket::decode(""), Err(FramingError::Empty));
        assert_eq!(
            EnginePacket::decode("9"),
            Err(FramingError::UnknownType('9'))
        );
        assert!(matches!(
            EnginePacket::decode(r#"0{"sid":"x"}"#),
            Err(FramingError::Payload(_))
        ));
    }

    // Socket.IO v5 examples (socket.io-protocol README, "Exchange protocol" and "Sample session").
    #[test]
    fn socket_connect_with_auth_and_reply() {
        check_socket(
            r#"0{"token":"123"}"#,
            SocketPacket::Connect {
                namespace: "/".into(),
                data: Some(json!({"token": "123"})),
            },
        );
        check_socket(
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            SocketPacket::Connect {
                namespace: "/admin".into(),
                data: Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})),
            },
        );
        check_socket(
            "0",
            SocketPacket::Connect {
                namespace: "/".into(),
                data: None,
            },
        );
        check_socket(
            r#"4{"message":"Not authorized"}"#,
            SocketPacket::ConnectError {
                namespace: "/".into(),
                data: json!({"message": "Not authorized"}),
            },
        );
    }

    #[test]
    fn socket_events_and_acks() {
        check_socket(
            r#"2["hello",1]"#,
            SocketPacket::Event {
                namespace: "/".into(),
                ack_id: None,
                name: "hello".into(),
                args: vec![json!(1)],
            },
        );
        check_socket(
            r#"2/admin,456["project:delete",123]"#,
            SocketPacket::Event {
                namespace: "/admin".into(),
                ack_id: Some(456),
                name: "project:delete".into(),
                args: vec![json!(123)],
            },
        );
        check_socket(
            "3/admin,456[]",
            SocketPacket::Ack {
                namespace: "/admin".into(),
                ack_id: 456,
                args: vec![],
            },
        );
        check_socket(
            r#"312["bar"]"#,
            SocketPacket::Ack {
                namespace: "/".into(),
                ack_id: 12,
                args: vec![json!("bar")],
            },
        );
        check_socket(
            "1/admin,",
            SocketPacket::Disconnect {
                namespace: "/admin".into(),
            },
        );
    }

    #[test]
    fn emit_without_arguments_and_full_frames() {
        let packet = SocketPacket::event("leave_session", None);
        assert_eq!(packet.to_frame(), r#"42["leave_session"]"#);
        let packet = SocketPacket::event("rr_intervals", Some(json!({"rr": [812.5], "seq": 3})));
        assert_eq!(
            packet.to_frame(),
            r#"42["rr_intervals",{"rr":[812.5],"seq":3}]"#
        );
        let EnginePacket::Message(inner) = EnginePacket::decode(&packet.to_frame()).unwrap() else {
            panic!("not a message packet");
        };
        assert_eq!(SocketPacket::decode(&inner).unwrap(), packet);
    }

    #[test]
    fn malformed_socket_packets_are_refused() {
        assert_eq!(
            SocketPacket::decode(r#"51-["hello",{"_placeholder":true,"num":0}]"#),
            Err(FramingError::Binary)
        );
        assert!(matches!(
            SocketPacket::decode("2{}"),
            Err(FramingError::Payload(_))
        ));
        assert!(matches!(
            SocketPacket::decode("2[1]"),
            Err(FramingError::Payload(_))
        ));
        assert!(matches!(
            SocketPacket::decode("3[]"),
            Err(FramingError::Payload(_))
        ));
        assert!(matches!(
            SocketPacket::decode("2[]"),
            Err(FramingError::Payload(_))
        ));
        assert_eq!(
            SocketPacket::decode("9"),
            Err(FramingError::UnknownType('9'))
        );
    }
}
