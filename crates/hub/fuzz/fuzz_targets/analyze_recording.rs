//! Arbitrary bytes as a recording file given to `synchub analyze`: the reader must never panic,
//! and what it accepts must hold together (one line number per value, increasing lines, times
//! strictly increasing, seconds converted only when every value was below 10); the analysis of
//! whatever it accepted must return a report or an error, never panic.
#![no_main]

// The reader's own source, compiled here as it is compiled into `synchub` (it uses only
// `synchub-hrv` and `thiserror`): depending on the `synchub` crate instead would build the whole
// hub with the fuzzer's instrumentation for a module that needs none of it.
#[path = "../../src/commands/recording.rs"]
#[allow(dead_code)]
mod recording;

use libfuzzer_sys::fuzz_target;
use recording::parse_recording;
use synchub_hrv::RecordingOptions;

fuzz_target!(|bytes: &[u8]| {
    // `analyze` reads the file as UTF-8 text and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(recording) = parse_recording(text) else {
        return;
    };
    assert!(!recording.rr_ms.is_empty(), "an accepted recording has values");
    assert_eq!(recording.lines.len(), recording.rr_ms.len());
    assert!(
        recording.lines.windows(2).all(|pair| pair[0] < pair[1]),
        "line numbers increase"
    );
    assert!(recording.lines.iter().all(|&line| line >= 1 && line <= text.lines().count()));
    if let Some(times) = &recording.times_secs {
        assert_eq!(times.len(), recording.rr_ms.len());
        assert!(
            times.windows(2).all(|pair| pair[0] < pair[1]),
            "times strictly increase: {times:?}"
        );
    }
    if recording.converted_from_secs {
        assert!(recording.rr_ms.iter().all(|value| value.is_finite() && *value < 10_000.0));
    }
    let beats = recording.beats();
    assert_eq!(beats.len(), recording.rr_ms.len());
    let _ = synchub_hrv::analyze_beats(&beats, &RecordingOptions::default());
});
