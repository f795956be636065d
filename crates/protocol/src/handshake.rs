//! Who a connection is, read from the Socket.IO `auth` object, from the `hello` event of the
//! plain WebSocket, or from the WebSocket URL's query string. All three carry the same fields.

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::json::Fields;
use crate::limits::{MAX_RESUME_TOKEN_BYTES, MAX_ROOM_CODE_BYTES, MAX_USER_ID_BYTES};

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
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |field: &Option<String>| field.as_ref().map(|_| "<hidden>");
        f.debug_struct("Handshake")
            .field("user_id", &hidden(&self.user_id))
            .field("room_code", &self.room_code)
            .field("resume_token", &hidden(&self.resume_token))
            .field("role", &self.role)
            .finish()
    }
}

/// The event name used for handshake errors and for the plain WebSocket's first message.
pub const HELLO_EVENT: &str = "hello";

impl Handshake {
    /// Reads the Socket.IO `auth` object (or the `hello` event's data). A missing or `null`
    /// `auth` is an anonymous participant.
    pub fn from_auth(auth: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of_data(HELLO_EVENT, auth, true)?;
        Handshake::from_fields(&fields)
    }

    pub(crate) fn from_fields(fields: &Fields<'_>) -> Result<Self, DecodeError> {
        let role = match fields.optional("role") {
            None => Role::default(),
            Some(value) => role_from_wire(fields.string("role", value, 16)?)
                .ok_or_else(|| fields.error("role", role_error()))?,
        };
        Ok(Handshake {
            user_id: fields.optional_non_empty_string("userId", MAX_USER_ID_BYTES)?,
            room_code: fields.optional_non_empty_string("roomCode", MAX_ROOM_CODE_BYTES)?,
            resume_token: fields
                .optional_non_empty_string("resumeToken", MAX_RESUME_TOKEN_BYTES)?,
            role,
        })
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
            if !matches!(key.as_str(), "userId" | "roomCode" | "resumeToken" | "role") {
                continue;
            }
            let value = percent_decode(raw_value).ok_or_else(|| query_error(&key))?;
            object.entry(key).or_insert(Value::String(value));
        }
        Handshake::from_auth(&Value::Object(object))
    }
}

fn role_from_wire(text: &str) -> Option<Role> {
    match text {
        "participant" | "" => Some(Role::Participant),
        "display" => Some(Role::Display),
        _ => None,
    }
}

fn role_error() -> DecodeErrorKind {
    DecodeErrorKind::InvalidValue {
        allowed: "\"participant\" or \"display\"",
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
