//! The plain-WebSocket envelope `{"event": NAME, "data": PAYLOAD}` — exactly what the original
//! iOS client writes — in both directions, with the 64 KiB frame limit.
//!
//! This module only splits and builds frames; it knows no event. The client events decode
//! their frames with it (`decode_ws_frame` in `client.rs`) and the hub events encode theirs
//! (`HubEvent::to_frame` in `hub.rs`), so both directions share one framing and neither
//! depends on the other. Socket.IO carries the same names and payloads in its own framing.

use serde_json::{Map, Value};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::json::type_name;
use crate::limits::{MAX_EVENT_NAME_BYTES, MAX_FRAME_BYTES};

/// Refuses a frame over [`MAX_FRAME_BYTES`] before anything reads it.
pub(crate) fn check_size(len_bytes: usize) -> Result<(), DecodeError> {
    if len_bytes > MAX_FRAME_BYTES {
        return Err(DecodeError::frame(DecodeErrorKind::TooLarge {
            len_bytes,
            max_bytes: MAX_FRAME_BYTES,
        }));
    }
    Ok(())
}

/// Splits a frame into its event name and payload (`Null` when `data` is absent).
pub(crate) fn split_frame(text: &str) -> Result<(String, Value), DecodeError> {
    check_size(text.len())?;
    let frame: Value =
        serde_json::from_str(text).map_err(|error| DecodeError::frame(json_error_kind(&error)))?;
    let mut object: Map<String, Value> = match frame {
        Value::Object(object) => object,
        other => {
            return Err(DecodeError::frame(DecodeErrorKind::WrongType {
                expected: "an object {\"event\", \"data\"}",
                found: type_name(&other),
            }));
        }
    };
    let name = match object.remove("event") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => {
            return Err(DecodeError::new(
                None,
                Some("event".to_owned()),
                DecodeErrorKind::MissingField,
            ));
        }
        Some(other) => {
            return Err(DecodeError::new(
                None,
                Some("event".to_owned()),
                DecodeErrorKind::WrongType {
                    expected: "a string",
                    found: type_name(&other),
                },
            ));
        }
    };
    if name.len() > MAX_EVENT_NAME_BYTES {
        let shown: String = name.chars().take(MAX_EVENT_NAME_BYTES).collect();
        return Err(DecodeError::new(
            Some(&shown),
            None,
            DecodeErrorKind::UnknownEvent,
        ));
    }
    let data = object.remove("data").unwrap_or(Value::Null);
    Ok((name, data))
}

/// The frame `{"event": name, "data": data}`, without `data` when there is none.
pub(crate) fn frame_from_parts(name: &str, data: Option<Value>) -> String {
    let mut frame = Map::new();
    frame.insert("event".to_owned(), Value::String(name.to_owned()));
    if let Some(data) = data {
        frame.insert("data".to_owned(), data);
    }
    Value::Object(frame).to_string()
}

/// The frame `{"event": name, "data": payload}`, serialised directly from a typed payload.
pub(crate) fn frame_from_payload<T: serde::Serialize>(name: &str, payload: &T) -> String {
    #[derive(serde::Serialize)]
    struct Frame<'a, T> {
        event: &'a str,
        data: &'a T,
    }
    // Payloads hold strings, numbers and string-keyed maps only, so this cannot fail; the
    // fallback keeps a library from panicking should that ever change.
    serde_json::to_string(&Frame {
        event: name,
        data: payload,
    })
    .unwrap_or_else(|_| frame_from_parts(name, None))
}

/// The error kind for text that serde_json refused. A number literal beyond `f64`'s range
/// (`1e400`) is reported as not finite; everything else as malformed JSON.
pub(crate) fn json_error_kind(error: &serde_json::Error) -> DecodeErrorKind {
    let detail = error.to_string();
    if detail.starts_with("number out of range") {
        DecodeErrorKind::NotFinite
    } else {
        DecodeErrorKind::MalformedJson { detail }
    }
}
