//! Who a connection is, read from the Socket.IO `auth` object, from the `hello` event of the
//! plain WebSocket, or from the WebSocket URL's query string. All three carry the same fields.
//!
//! The hub reads a handshake ([`Handshake::from_auth`], [`Handshake::from_query`]); its own
//! clients write one ([`Handshake::to_query`], and serde for the `auth` object), so the field
//! names and the query encoding exist once.
//!
//! The `protocol` field is how the hub tells its own clients from the original platform's: the
//! hub's clients announce [`PROTOCOL_VERSION`]; a client that announces nothing (or `1`) speaks
//! the original protocol and is served the original cadence of `group_metrics_update`
//! ([`Handshake::speaks_original_protocol`]).

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::json::Fields;
use crate::limits::{MAX_RESUME_TOKEN_BYTES, MAX_ROOM_CODE_BYTES, MAX_USER_ID_BYTES};

/// The protocol version the hub's own clients (join page, console, projector, simulator)
/// announce in the handshake's `protocol` field. `1` is the original platform's protocol, which
/// is also what a client that announces nothing speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// The version of the original platform's protocol.
pub const ORIGINAL_PROTOCOL_VERSION: u32 = 1;

/// [`PROTOCOL_VERSION`] as a document, so the JSON Schema (`protocol_version.json`) carries it
/// as a `const` value and clients that generate code from the schema (the web UI) announce the
/// number without writing it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolVersion {
    /// What the hub's own clients send as the handshake's `protocol`.
    #[schemars(extend("const" = PROTOCOL_VERSION))]
    pub current: u32,
}

impl ProtocolVersion {
    /// The version in force: [`PROTOCOL_VERSION`].
    pub const CURRENT: ProtocolVersion = ProtocolVersion {
        current: PROTOCOL_VERSION,
    };
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A person in the room (phone, browser, simulator).
    #[default]
    Participant,
    /// A projector or console view: receives broadcasts and `room_snapshot`, sends only
    /// `time_sync`.
    Display,
    /// A relay (`synchub relay`): another computer that reads straps and forwards them. Only
    /// on `/ws`; it speaks the relay events (`relay.rs`) and authenticates with its relay
    /// token in `relay_hello`, not with the room code.
    Relay,
}

/// The handshake fields. Every field is optional; `""` counts as absent (the original server
/// fell back to the socket id when `userId` was empty).
///
/// `Debug` hides `userId` and `resumeToken`: raw ids never reach the logs.
#[derive(Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// The client's own stable id (the original web client stores a UUID). The hub never
    /// stores or logs it raw. At most 128 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub user_id: Option<String>,
    /// The short code shown on the projector; required when the hub is configured with one.
    /// At most 16 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub room_code: Option<String>,
    /// The token from an earlier `session_joined`, to resume as the same participant within
    /// 60 s. At most 64 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub resume_token: Option<String>,
    /// `participant` (default) or `display`.
    #[serde(default)]
    pub role: Role,
    /// The protocol version the client speaks: the hub's own clients send `2` and receive
    /// `group_metrics_update` at 1 Hz. Absent (or `1`): an original client, which receives it
    /// right after each of its own `update_coherence` and otherwise every 5 s. In the /ws
    /// query string: `protocol=2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub protocol: Option<u32>,
}

/// The handshake's field names, the same in `auth`, `hello` and the query string.
const USER_ID: &str = "userId";
const ROOM_CODE: &str = "roomCode";
const RESUME_TOKEN: &str = "resumeToken";
const ROLE: &str = "role";
const PROTOCOL: &str = "protocol";

impl Role {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Display => "display",
            Role::Relay => "relay",
        }
    }
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |field: &Option<String>| field.as_ref().map(|_| "<hidden>");
        f.debug_struct("Handshake")
            .field("user_id", &hidden(&self.user_id))
            .field("room_code", &self.room_code)
            .field("resume_token", &hidden(&self.resume_token))
            .field("role", &self.role)
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// The event name used for handshake errors and for the plain WebSocket's first message.
pub const HELLO_EVENT: &str = "hello";

impl Handshake {
    /// The handshake's field names, the same in `auth`, `hello` and the `/ws` query string.
    pub const FIELD_NAMES: [&'static str; 5] = [USER_ID, ROOM_CODE, RESUME_TOKEN, ROLE, PROTOCOL];

    /// Reads the Socket.IO `auth` object (or the `hello` event's data). A missing or `null`
    /// `auth` is an anonymous participant.
    pub fn from_auth(auth: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of_data(HELLO_EVENT, auth, true)?;
        Handshake::from_fields(&fields)
    }

    pub(crate) fn from_fields(fields: &Fields<'_>) -> Result<Self, DecodeError> {
        let role = match fields.optional(ROLE) {
            None => Role::default(),
            Some(value) => role_from_wire(fields.string(ROLE, value, 16)?)
                .ok_or_else(|| fields.error(ROLE, role_error()))?,
        };
        let protocol = match fields.optional(PROTOCOL) {
            // `""` counts as absent, as for every handshake field.
            None => None,
            Some(Value::String(text)) if text.is_empty() => None,
            Some(value) => {
                let version = fields.unsigned_integer(PROTOCOL, value)?;
                Some(
                    u32::try_from(version)
                        .ok()
                        .filter(|&version| version >= ORIGINAL_PROTOCOL_VERSION)
                        .ok_or_else(|| fields.error(PROTOCOL, protocol_range_error()))?,
                )
            }
        };
        Ok(Handshake {
            user_id: fields.optional_non_empty_string(USER_ID, MAX_USER_ID_BYTES)?,
            room_code: fields.optional_non_empty_string(ROOM_CODE, MAX_ROOM_CODE_BYTES)?,
            resume_token: fields.optional_non_empty_string(RESUME_TOKEN, MAX_RESUME_TOKEN_BYTES)?,
            role,
            protocol,
        })
    }

    /// Whether the client speaks only the original platform's protocol: it announced no
    /// `protocol` (or `1`) and is not a display (displays exist only in the hub's protocol).
    /// Such a client gets the original `group_metrics_update` cadence.
    pub fn speaks_original_protocol(&self) -> bool {
        self.role != Role::Display
            && self
                .protocol
                .is_none_or(|version| version <= ORIGINAL_PROTOCOL_VERSION)
    }

    /// Reads the handshake from a URL query string (`userId=…&roomCode=…&role=display`),
    /// with or without the leading `?`. Other parameters (`EIO`, `transport`, …) are ignored;
    /// when a parameter repeats, the first one counts.
    pub fn from_query(query: &str) -> Result<Self, DecodeError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut object = serde_json::Map::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(raw_key).ok_or_else(|| query_error(raw_key))?;
            if !Self::FIELD_NAMES.contains(&key.as_str()) {
                continue;
            }
            let value = percent_decode(raw_value).ok_or_else(|| query_error(&key))?;
            // The query string has only text; the version is a number in `auth` and `hello`.
            let value = match value.parse::<u64>() {
                Ok(version) if key == PROTOCOL => Value::from(version),
                _ => Value::String(value),
            };
            object.entry(key).or_insert(value);
        }
        Handshake::from_auth(&Value::Object(object))
    }

    /// The handshake as a `/ws` query string, without the leading `?`:
    /// `role=participant&protocol=2&userId=…&roomCode=…&resumeToken=…`, absent fields left
    /// out, values percent-encoded, so [`Handshake::from_query`] reads back exactly this
    /// handshake.
    pub fn to_query(&self) -> String {
        let mut query = format!("{ROLE}={}", self.role.as_str());
        if let Some(version) = self.protocol {
            query.push_str(&format!("&{PROTOCOL}={version}"));
        }
        let fields = [
            (USER_ID, &self.user_id),
            (ROOM_CODE, &self.room_code),
            (RESUME_TOKEN, &self.resume_token),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                query.push('&');
                query.push_str(key);
                query.push('=');
                percent_encode_into(&mut query, value);
            }
        }
        query
    }
}

fn protocol_range_error() -> DecodeErrorKind {
    DecodeErrorKind::OutOfRange {
        allowed: "1..=4294967295; 1 is the original protocol, the hub's clients send 2",
    }
}

fn role_from_wire(text: &str) -> Option<Role> {
    match text {
        "participant" | "" => Some(Role::Participant),
        "display" => Some(Role::Display),
        "relay" => Some(Role::Relay),
        _ => None,
    }
}

fn role_error() -> DecodeErrorKind {
    DecodeErrorKind::InvalidValue {
        allowed: "\"participant\", \"display\" or \"relay\"",
    }
}

fn query_error(field: &str) -> DecodeError {
    DecodeError::new(
        Some(HELLO_EVENT),
        Some(field.chars().take(32).collect()),
        DecodeErrorKind::InvalidValue {
            allowed: "percent-encoded UTF-8",
        },
    )
}

/// Percent-encodes `text` onto `out`: RFC 3986's unreserved characters stay as they are,
/// every other byte becomes `%XX`.
fn percent_encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the result must
/// be UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = hex_value(input.next()?)?;
                let low = hex_value(input.next()?)?;
                bytes.push(high << 4 | low);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_fields_are_percent_decoded() {
        let handshake = Handshake::from_query(
            "?EIO=4&transport=websocket&userId=a%20b+c&roomCode=K7Q2&role=display",
        )
        .unwrap();
        assert_eq!(handshake.user_id.as_deref(), Some("a b c"));
        assert_eq!(handshake.room_code.as_deref(), Some("K7Q2"));
        assert_eq!(handshake.role, Role::Display);
        assert_eq!(handshake.resume_token, None);
    }

    #[test]
    fn a_query_string_written_is_read_back_unchanged() {
        let check = |handshake: Handshake, expected: &str| {
            assert_eq!(handshake.to_query(), expected);
            assert_eq!(Handshake::from_query(expected).unwrap(), handshake);
        };
        check(
            Handshake {
                user_id: Some("sim 1/ä".into()),
                room_code: Some("K7Q2".into()),
                resume_token: Some("a+b".into()),
                role: Role::Participant,
                protocol: None,
            },
            "role=participant&userId=sim%201%2F%C3%A4&roomCode=K7Q2&resumeToken=a%2Bb",
        );
        check(
            Handshake {
                user_id: Some("sim-2".into()),
                protocol: Some(PROTOCOL_VERSION),
                ..Handshake::default()
            },
            "role=participant&protocol=2&userId=sim-2",
        );
        check(
            Handshake {
                room_code: Some("K7 Q2".into()),
                role: Role::Display,
                ..Handshake::default()
            },
            "role=display&roomCode=K7%20Q2",
        );
        check(Handshake::default(), "role=participant");
    }

    #[test]
    fn a_client_that_announces_nothing_speaks_the_original_protocol() {
        let original = Handshake::from_auth(&serde_json::json!({"userId": "web-1"})).unwrap();
        assert_eq!(original.protocol, None);
        assert!(original.speaks_original_protocol());
        let explicit = Handshake::from_auth(&serde_json::json!({"protocol": 1})).unwrap();
        assert!(explicit.speaks_original_protocol());
        let empty = Handshake::from_query("userId=a&protocol=").unwrap();
        assert!(empty.speaks_original_protocol());

        let ours = Handshake::from_auth(&serde_json::json!({"protocol": 2})).unwrap();
        assert_eq!(ours.protocol, Some(PROTOCOL_VERSION));
        assert!(!ours.speaks_original_protocol());
        // A newer client than this hub still speaks at least this hub's protocol.
        let newer = Handshake::from_query("protocol=7").unwrap();
        assert_eq!(newer.protocol, Some(7));
        assert!(!newer.speaks_original_protocol());
        // A display is a hub client whatever it announces.
        let display = Handshake::from_query("role=display").unwrap();
        assert!(!display.speaks_original_protocol());
    }

    #[test]
    fn a_protocol_that_is_no_version_is_refused_naming_the_field() {
        for (auth, expected) in [
            (
                serde_json::json!({"protocol": "two"}),
                "hello: field `protocol`: expected a number, found a string",
            ),
            (
                serde_json::json!({"protocol": 2.5}),
                "hello: field `protocol`: expected an integer, found a number",
            ),
            (
                serde_json::json!({"protocol": 0}),
                "hello: field `protocol`: out of range (allowed: 1..=4294967295; 1 is the original protocol, the hub's clients send 2)",
            ),
            (
                serde_json::json!({"protocol": 5_000_000_000_u64}),
                "hello: field `protocol`: out of range (allowed: 1..=4294967295; 1 is the original protocol, the hub's clients send 2)",
            ),
        ] {
            let error = Handshake::from_auth(&auth).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("protocol"), "{auth}");
            assert_eq!(error.to_string(), expected, "{auth}");
        }
        let error = Handshake::from_query("protocol=v2").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("protocol"));
    }

    #[test]
    fn broken_percent_escape_is_refused() {
        let error = Handshake::from_query("userId=%ZZ").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("userId"));
    }

    #[test]
    fn debug_hides_ids() {
        let handshake = Handshake {
            user_id: Some("alice@example.org".into()),
            resume_token: Some("0123456789abcdef".into()),
            ..Handshake::default()
        };
        let printed = format!("{handshake:?}");
        assert!(!printed.contains("alice"));
        assert!(!printed.contains("0123456789abcdef"));
    }
}
