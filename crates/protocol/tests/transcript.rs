//! The example session of `docs/protocol/README.md` (`tests/data/example_transcript.jsonl`):
//! every client frame decodes (or, when the example shows an error, is refused with exactly the
//! `error` the transcript shows next), every hub frame decodes and re-encodes to the same JSON,
//! so the documentation cannot drift from the code.

use serde_json::Value;
use synchub_protocol::{ClientEvent, HubEvent, IntentionCategory, decode_ws_frame};

use crate::util::read_data;

#[test]
fn example_transcript_is_valid_both_ways() {
    let transcript = read_data("example_transcript.jsonl");
    let mut client_events = Vec::new();
    let mut hub_events = Vec::new();
    let mut expected_error = None;
    for line in transcript.lines() {
        if let Some(frame) = line.strip_prefix("> ") {
            assert!(
                expected_error.is_none(),
                "a refused frame must be answered by an error"
            );
            match decode_ws_frame(frame) {
                Ok(event) => client_events.push(event),
                Err(error) => expected_error = Some(HubEvent::from(error)),
            }
        } else if let Some(frame) = line.strip_prefix("< ") {
            let event = HubEvent::from_frame(frame)
                .unwrap_or_else(|error| panic!("hub frame {frame}\ndoes not decode: {error}"));
            let original: Value = serde_json::from_str(frame).unwrap();
            let reencoded: Value = serde_json::from_str(&event.to_frame()).unwrap();
            assert!(
                same_json(&reencoded, &original),
                "hub frame does not re-encode to itself:\n{reencoded}\n{original}"
            );
            if let Some(expected) = expected_error.take() {
                assert_eq!(event, expected, "the error reply to the refused frame");
            }
            hub_events.push(event);
        } else {
            panic!("transcript line without direction: {line}");
        }
    }
    let names: Vec<&str> = hub_events.iter().map(HubEvent::name).collect();
    for expected in [
        "time_sync",
        "session_joined",
        "pacer",
        "participant_update",
        "rr_ack",
        "phase_changed",
        "group_metrics_update",
        "personal_feedback",
        "error",
        "session_complete",
    ] {
        assert!(names.contains(&expected), "transcript lacks {expected}");
    }
    let ClientEvent::JoinSession(join) = &client_events[2] else {
        panic!("third client frame should be join_session")
    };
    assert_eq!(
        join.intention.as_ref().map(|intention| intention.category),
        Some(IntentionCategory::Grief)
    );
    assert_eq!(client_events.last(), Some(&ClientEvent::LeaveSession));
}

/// JSON equality where `6` and `6.0` are the same number, as they are for every JSON reader.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

#[test]
fn the_guide_shows_the_transcript_verbatim() {
    let guide_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol/README.md");
    let guide = std::fs::read_to_string(&guide_path).unwrap();
    for line in read_data("example_transcript.jsonl").lines() {
        assert!(
            guide.lines().any(|guide_line| guide_line == line),
            "docs/protocol/README.md lacks the transcript line {line}"
        );
    }
}
