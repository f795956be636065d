//! Helpers shared by the test modules: fixture loading and the `check` style assertions.

use std::path::PathBuf;

use serde_json::Value;
use synchub_protocol::{ClientEvent, DecodeError, decode_ws_frame};

/// Path of a fixture under `tests/data/`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// The text of a fixture.
pub fn read_data(name: &str) -> String {
    std::fs::read_to_string(data_path(name))
        .unwrap_or_else(|error| panic!("cannot read tests/data/{name}: {error}"))
}

/// A WebSocket frame `{"event": event, "data": data}`.
pub fn frame(event: &str, data: Value) -> String {
    serde_json::json!({ "event": event, "data": data }).to_string()
}

/// Decodes `frame` and returns the event, failing the test with the error otherwise.
pub fn decode_ok(frame: &str) -> ClientEvent {
    decode_ws_frame(frame).unwrap_or_else(|error| panic!("{frame}\nwas refused: {error}"))
}

/// Decodes `frame`, which must be refused, and returns the error.
pub fn decode_err(frame: &str) -> DecodeError {
    match decode_ws_frame(frame) {
        Ok(event) => panic!("{frame}\nwas accepted as {event:?}"),
        Err(error) => error,
    }
}

/// Asserts that `frame` is refused with exactly the message `expected`.
#[track_caller]
pub fn check_err(frame: &str, expected: &str) {
    let error = decode_err(frame);
    assert_eq!(error.to_string(), expected, "frame: {frame}");
}
