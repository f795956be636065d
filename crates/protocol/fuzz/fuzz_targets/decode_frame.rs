//! Arbitrary bytes as a plain-WebSocket frame (client → hub) and as a hub frame: the decoders
//! must never panic, and whatever they accept must re-encode to a frame they accept again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synchub_protocol::{HubEvent, decode_ws_frame, decode_ws_frame_bytes};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(event) = decode_ws_frame_bytes(bytes) {
        let again = decode_ws_frame(&event.to_frame()).expect("a decoded event re-encodes validly");
        assert_eq!(again, event);
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(event) = HubEvent::from_frame(text)
    {
        let _ = event.to_frame();
    }
});
