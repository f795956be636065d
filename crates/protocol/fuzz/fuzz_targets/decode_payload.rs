//! Arbitrary JSON payloads under every client event name (the Socket.IO path): decoding must
//! never panic, and agree with the plain-WebSocket path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synchub_protocol::{ClientEvent, decode_ws_frame};

fuzz_target!(|input: (u8, &str)| {
    let (which, data_json) = input;
    let name = ClientEvent::NAMES[usize::from(which) % ClientEvent::NAMES.len()];
    let Ok(data) = serde_json::from_str::<serde_json::Value>(data_json) else {
        return;
    };
    let direct = ClientEvent::decode(name, &data);
    let framed = decode_ws_frame(&serde_json::json!({ "event": name, "data": data }).to_string());
    assert_eq!(direct.is_ok(), framed.is_ok());
});
