//! Arbitrary bytes as a strap's notification and as its other values: the parsers must never
//! panic; a measurement they accept must re-encode to bytes that decode to the same measurement
//! (and, when the strap used the canonical encoding, to the very same bytes); the hex decoder
//! must agree with the byte parser; and the beat timeline must stay on the RR grid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synchub_ble::measurement::{parse_battery_level, parse_body_location, parse_utf8_string};
use synchub_ble::{BeatTimeline, Measurement, decode_hex};

fuzz_target!(|bytes: &[u8]| {
    let _ = parse_battery_level(bytes);
    let _ = parse_body_location(bytes);
    let _ = parse_utf8_string(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = decode_hex(text);
    }

    let Ok(measurement) = Measurement::parse(bytes) else {
        return;
    };
    let encoded = measurement.to_bytes();
    let again = Measurement::parse(&encoded).expect("a decoded measurement re-encodes validly");
    assert_eq!(again, measurement);
    // Canonical bytes: reserved bits clear, contact status 1 written as 0, the RR flag only
    // with RR values. Those must come back byte for byte.
    let canonical = bytes[0] & 0xe0 == 0
        && (bytes[0] >> 1) & 0x03 != 1
        && (bytes[0] & 0x10 == 0 || !measurement.rr_1024.is_empty());
    if canonical {
        assert_eq!(encoded, bytes);
    }

    let hex: String = bytes.iter().map(|byte| format!("{byte:02x} ")).collect();
    assert_eq!(decode_hex(&hex).as_ref(), Ok(&measurement));

    let json = measurement.to_debug_json();
    assert_eq!(json.rr_ms.len(), measurement.rr_1024.len());

    let mut timeline = BeatTimeline::new();
    let rr_ms = measurement.rr_ms();
    let first = timeline.push(&rr_ms, 1_000_000);
    let second = timeline.push(&rr_ms, 1_000_000 + rr_ms.iter().sum::<f64>() as i64);
    if let (Some(first), Some(second)) = (first, second) {
        let span: f64 = rr_ms.iter().sum();
        assert!(((second.ended_at_ms - first.ended_at_ms) as f64 - span).abs() <= 1.0);
    }
});
