//! Decoding and validation of client events, case by case: what is accepted and how, and for
//! every bad input of the quality catalogue, the exact message the client gets back.

use serde_json::json;
use synchub_protocol::limits::{MAX_FRAME_BYTES, MAX_NOTE_BYTES};
use synchub_protocol::{
    ClientEvent, Consent, DecodeErrorKind, Device, DeviceKind, ErrorCode, Handshake, Intention,
    IntentionCategory, JoinSession, Role, RrIntervals, decode_ws_frame, decode_ws_frame_bytes,
};

use crate::util::{check_err, decode_err, decode_ok, frame};

fn join(data: serde_json::Value) -> JoinSession {
    match decode_ok(&frame("join_session", data)) {
        ClientEvent::JoinSession(join) => join,
        other => panic!("expected join_session, got {other:?}"),
    }
}

fn intention(category: IntentionCategory, note: Option<&str>) -> Option<Intention> {
    Some(Intention {
        category,
        note: note.map(str::to_owned),
    })
}

#[test]
fn intention_decodes_from_both_original_shapes() {
    let web = join(json!({"intention": {"category": "grief", "note": "for my mother"}}));
    assert_eq!(
        web.intention,
        intention(IntentionCategory::Grief, Some("for my mother"))
    );
    let ios = join(json!({"intention": "grief"}));
    assert_eq!(ios.intention, intention(IntentionCategory::Grief, None));
}

#[test]
fn empty_or_absent_intention_is_none() {
    for data in [
        json!({"intention": ""}),
        json!({"intention": null}),
        json!({}),
        json!(null),
    ] {
        assert_eq!(join(data.clone()).intention, None, "data: {data}");
    }
    let empty_note = join(json!({"intention": {"category": "energy", "note": ""}}));
    assert_eq!(
        empty_note.intention,
        intention(IntentionCategory::Energy, None)
    );
}

#[test]
fn unknown_category_is_kept_as_other() {
    assert_eq!(
        join(json!({"intention": "gratitude"})).intention,
        intention(IntentionCategory::Other, None)
    );
    assert_eq!(
        join(json!({"intention": {"category": "gratitude"}})).intention,
        intention(IntentionCategory::Other, None)
    );
}

#[test]
fn join_session_reads_every_new_field() {
    let join = join(json!({
        "intention": {"category": "anxiety"},
        "chantId": "om-chant-432hz",
        "consent": {"research": true},
        "device": {"kind": "android", "model": "Pixel 8"},
        "someFutureField": [1, 2, 3]
    }));
    assert_eq!(
        join,
        JoinSession {
            intention: intention(IntentionCategory::Anxiety, None),
            chant_id: Some("om-chant-432hz".into()),
            consent: Some(Consent { research: true }),
            device: Some(Device {
                kind: DeviceKind::Android,
                model: Some("Pixel 8".into()),
            }),
        }
    );
    assert!(join.research_consented());
}

#[test]
fn absent_consent_means_no_research_use() {
    assert!(!join(json!({})).research_consented());
    assert!(!join(json!({"consent": {}})).research_consented());
    assert!(!join(json!({"consent": {"research": false}})).research_consented());
}

#[test]
fn unknown_device_kind_is_kept_as_other() {
    let join = join(json!({"device": {"kind": "watch"}}));
    assert_eq!(
        join.device.map(|device| device.kind),
        Some(DeviceKind::Other)
    );
}

#[test]
fn leave_session_takes_no_data_null_or_empty_object() {
    for text in [
        r#"{"event":"leave_session"}"#,
        r#"{"event":"leave_session","data":null}"#,
        r#"{"event":"leave_session","data":{}}"#,
    ] {
        assert_eq!(decode_ok(text), ClientEvent::LeaveSession, "{text}");
    }
    assert_eq!(
        ClientEvent::decode("leave_session", &serde_json::Value::Null),
        Ok(ClientEvent::LeaveSession)
    );
}

#[test]
fn rr_intervals_with_all_fields() {
    let event = decode_ok(&frame(
        "rr_intervals",
        json!({"rr": [812.5, 790, 805], "endedAt": 1732630511000_u64, "seq": 7}),
    ));
    assert_eq!(
        event,
        ClientEvent::RrIntervals(RrIntervals {
            rr: vec![812.5, 790.0, 805.0],
            ended_at: Some(1_732_630_511_000),
            seq: Some(7),
        })
    );
}

#[test]
fn fractional_ended_at_is_truncated_to_whole_ms() {
    let event = decode_ok(&frame(
        "rr_intervals",
        json!({"rr": [800], "endedAt": 1732630511000.75}),
    ));
    let ClientEvent::RrIntervals(batch) = event else {
        panic!("expected rr_intervals")
    };
    assert_eq!(batch.ended_at, Some(1_732_630_511_000));
}

#[test]
fn rr_limits_are_inclusive_at_the_top() {
    let three_hundred = vec![60_000.0; 300];
    decode_ok(&frame("rr_intervals", json!({ "rr": three_hundred })));
    decode_ok(&frame("rr_intervals", json!({"rr": [0.001]})));
}

#[test]
fn coherence_bounds_are_inclusive() {
    for coherence in [0.0, 100.0, 55.5] {
        assert_eq!(
            decode_ok(&frame(
                "update_coherence",
                json!({ "coherence": coherence })
            )),
            ClientEvent::UpdateCoherence(synchub_protocol::UpdateCoherence { coherence })
        );
    }
}

#[test]
fn hello_carries_the_handshake() {
    let event = decode_ok(&frame(
        "hello",
        json!({"userId": "u-1", "roomCode": "K7Q2", "resumeToken": "", "role": "display", "protocol": 2}),
    ));
    assert_eq!(
        event,
        ClientEvent::Hello(Handshake {
            user_id: Some("u-1".into()),
            room_code: Some("K7Q2".into()),
            resume_token: None,
            role: Role::Display,
            protocol: Some(2),
        })
    );
}

#[test]
fn socketio_auth_may_be_absent() {
    assert_eq!(
        Handshake::from_auth(&serde_json::Value::Null),
        Ok(Handshake::default())
    );
}

#[test]
fn socketio_payload_decodes_like_the_frame_payload() {
    let data = json!({"clientTime": 1234.5});
    let from_socketio = ClientEvent::decode("time_sync", &data).unwrap();
    assert_eq!(from_socketio, decode_ok(&frame("time_sync", data)));
    assert_eq!(
        ClientEvent::decode_json("time_sync", r#"{"clientTime":1234.5}"#).unwrap(),
        from_socketio
    );
}

/// Every bad input of the quality catalogue and the exact message sent back.
#[test]
fn bad_inputs_are_refused_with_a_message_naming_event_and_field() {
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(String, String)> = vec![
        // Wrong types: nothing is coerced.
        (
            frame("update_coherence", json!({"coherence": "55"})),
            "update_coherence: field `coherence`: expected a number, found a string".into(),
        ),
        (
            frame("update_coherence", json!({"coherence": true})),
            "update_coherence: field `coherence`: expected a number, found a boolean".into(),
        ),
        (
            frame("update_coherence", json!({"coherence": [55]})),
            "update_coherence: field `coherence`: expected a number, found an array".into(),
        ),
        (
            frame("update_coherence", json!(55)),
            "update_coherence: expected an object, found a number".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": "800,810"})),
            "rr_intervals: field `rr`: expected an array, found a string".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800, "810"]})),
            "rr_intervals: field `rr[1]`: expected a number, found a string".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800], "seq": "1"})),
            "rr_intervals: field `seq`: expected a number, found a string".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800], "seq": 1.5})),
            "rr_intervals: field `seq`: expected an integer, found a number".into(),
        ),
        (
            frame(
                "rr_intervals",
                json!({"rr": [800], "endedAt": "2024-11-26T14:00:00Z"}),
            ),
            "rr_intervals: field `endedAt`: expected a number, found a string".into(),
        ),
        (
            frame("join_session", json!({"intention": 3})),
            "join_session: field `intention`: expected an object or a string, found a number"
                .into(),
        ),
        (
            frame("join_session", json!({"intention": {"category": 3}})),
            "join_session: field `intention.category`: expected a string, found a number".into(),
        ),
        (
            frame(
                "join_session",
                json!({"intention": {"category": "grief", "note": {}}}),
            ),
            "join_session: field `intention.note`: expected a string, found an object".into(),
        ),
        (
            frame("join_session", json!({"consent": true})),
            "join_session: field `consent`: expected an object, found a boolean".into(),
        ),
        (
            frame("join_session", json!({"consent": {"research": "yes"}})),
            "join_session: field `consent.research`: expected a boolean, found a string".into(),
        ),
        (
            frame("join_session", json!({"chantId": 12})),
            "join_session: field `chantId`: expected a string, found a number".into(),
        ),
        (
            frame(
                "join_session",
                json!({"device": {"kind": "ios", "model": 15}}),
            ),
            "join_session: field `device.model`: expected a string, found a number".into(),
        ),
        (
            frame("join_session", json!([])),
            "join_session: expected an object, found an array".into(),
        ),
        (
            frame("claim_strap", json!({"strapCode": 42})),
            "claim_strap: field `strapCode`: expected a string, found a number".into(),
        ),
        (
            frame("time_sync", json!({"clientTime": "now"})),
            "time_sync: field `clientTime`: expected a number, found a string".into(),
        ),
        (
            frame("hello", json!({"userId": 7})),
            "hello: field `userId`: expected a string, found a number".into(),
        ),
        (
            frame("hello", json!({"role": "admin"})),
            "hello: field `role`: invalid value (allowed: \"participant\", \"display\" or \"relay\")".into(),
        ),
        (
            frame("leave_session", json!("bye")),
            "leave_session: expected an object, found a string".into(),
        ),
        // Missing fields (absent or null).
        (
            frame("update_coherence", json!({})),
            "update_coherence: field `coherence`: missing".into(),
        ),
        (
            frame("update_coherence", json!({"coherence": null})),
            "update_coherence: field `coherence`: missing".into(),
        ),
        (
            r#"{"event":"update_coherence"}"#.into(),
            "update_coherence: missing".into(),
        ),
        (
            frame("rr_intervals", json!({"seq": 1})),
            "rr_intervals: field `rr`: missing".into(),
        ),
        (
            frame(
                "join_session",
                json!({"intention": {"note": "no category"}}),
            ),
            "join_session: field `intention.category`: missing".into(),
        ),
        (
            frame("join_session", json!({"device": {"model": "Pixel"}})),
            "join_session: field `device.kind`: missing".into(),
        ),
        (
            frame("set_intention", json!({})),
            "set_intention: field `intention`: missing".into(),
        ),
        (
            frame("claim_strap", json!({})),
            "claim_strap: field `strapCode`: missing".into(),
        ),
        (
            frame("time_sync", json!({})),
            "time_sync: field `clientTime`: missing".into(),
        ),
        (
            r#"{"data":{"coherence":50}}"#.into(),
            "frame: field `event`: missing".into(),
        ),
        (
            r#"{"event":5,"data":{}}"#.into(),
            "frame: field `event`: expected a string, found a number".into(),
        ),
        // NaN and Infinity: not JSON numbers; as strings they are named as such.
        (
            frame("update_coherence", json!({"coherence": "NaN"})),
            "update_coherence: field `coherence`: not a finite number".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800, "Infinity"]})),
            "rr_intervals: field `rr[1]`: not a finite number".into(),
        ),
        (
            frame("time_sync", json!({"clientTime": "-Infinity"})),
            "time_sync: field `clientTime`: not a finite number".into(),
        ),
        (
            r#"{"event":"update_coherence","data":{"coherence":1e400}}"#.into(),
            "frame: not a finite number".into(),
        ),
        // Out of range, negative.
        (
            frame("update_coherence", json!({"coherence": -0.5})),
            "update_coherence: field `coherence`: out of range (allowed: 0..=100)".into(),
        ),
        (
            frame("update_coherence", json!({"coherence": 100.01})),
            "update_coherence: field `coherence`: out of range (allowed: 0..=100)".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800, 0]})),
            "rr_intervals: field `rr[1]`: out of range (allowed: 0<..=60000)".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [-800]})),
            "rr_intervals: field `rr[0]`: out of range (allowed: 0<..=60000)".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [60000.5]})),
            "rr_intervals: field `rr[0]`: out of range (allowed: 0<..=60000)".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800], "seq": -1})),
            "rr_intervals: field `seq`: out of range (allowed: 0..=9007199254740991)".into(),
        ),
        (
            frame(
                "rr_intervals",
                json!({"rr": [800], "seq": 9007199254740992_u64}),
            ),
            "rr_intervals: field `seq`: out of range (allowed: 0..=9007199254740991)".into(),
        ),
        (
            frame("rr_intervals", json!({"rr": [800], "endedAt": -5})),
            "rr_intervals: field `endedAt`: out of range (allowed: 0..=9007199254740991)".into(),
        ),
        (
            frame("time_sync", json!({"clientTime": -1})),
            "time_sync: field `clientTime`: out of range (allowed: a number >= 0)".into(),
        ),
        // Huge and empty arrays.
        (
            frame("rr_intervals", json!({ "rr": vec![800; 301] })),
            "rr_intervals: field `rr`: 301 RR intervals in one message, at most 300 allowed".into(),
        ),
        (
            frame("rr_intervals", json!({ "rr": [] })),
            "rr_intervals: field `rr`: must not be empty".into(),
        ),
        // Strings over their limits, empty where a value is needed.
        (
            frame(
                "join_session",
                json!({"intention": {"category": "grief", "note": long(MAX_NOTE_BYTES + 1)}}),
            ),
            "join_session: field `intention.note`: 501 bytes long, at most 500 allowed".into(),
        ),
        (
            frame("join_session", json!({"chantId": long(65)})),
            "join_session: field `chantId`: 65 bytes long, at most 64 allowed".into(),
        ),
        (
            frame(
                "join_session",
                json!({"device": {"kind": "ios", "model": long(65)}}),
            ),
            "join_session: field `device.model`: 65 bytes long, at most 64 allowed".into(),
        ),
        (
            frame("join_session", json!({"intention": long(65)})),
            "join_session: field `intention`: 65 bytes long, at most 64 allowed".into(),
        ),
        (
            frame("join_session", json!({"intention": {"category": ""}})),
            "join_session: field `intention.category`: must not be empty".into(),
        ),
        (
            frame("hello", json!({"userId": long(129)})),
            "hello: field `userId`: 129 bytes long, at most 128 allowed".into(),
        ),
        (
            frame("hello", json!({"roomCode": long(17)})),
            "hello: field `roomCode`: 17 bytes long, at most 16 allowed".into(),
        ),
        (
            frame("hello", json!({"resumeToken": long(65)})),
            "hello: field `resumeToken`: 65 bytes long, at most 64 allowed".into(),
        ),
        (
            frame("claim_strap", json!({"strapCode": long(17)})),
            "claim_strap: field `strapCode`: 17 bytes long, at most 16 allowed".into(),
        ),
        (
            frame("claim_strap", json!({"strapCode": ""})),
            "claim_strap: field `strapCode`: must not be empty".into(),
        ),
        // Unknown events, malformed frames.
        (
            frame("hack_the_planet", json!({})),
            "hack_the_planet: unknown event".into(),
        ),
        (
            frame("UPDATE_COHERENCE", json!({"coherence": 5})),
            "UPDATE_COHERENCE: unknown event".into(),
        ),
        (
            r#"["update_coherence",{"coherence":5}]"#.into(),
            "frame: expected an object {\"event\", \"data\"}, found an array".into(),
        ),
        (
            r#"{"event":"update_coherence","data":{"coherence":NaN}}"#.into(),
            "frame: malformed JSON: expected value at line 1 column 49".into(),
        ),
        (
            r#"{"event":"update_coherence""#.into(),
            "frame: malformed JSON: EOF while parsing an object at line 1 column 27".into(),
        ),
        (
            "".into(),
            "frame: malformed JSON: EOF while parsing a value at line 1 column 0".into(),
        ),
    ];
    for (input, expected) in &cases {
        check_err(input, expected);
    }
}

#[test]
fn error_codes_follow_the_kind() {
    let code = |text: &str| decode_err(text).code();
    assert_eq!(
        code(&frame("update_coherence", json!({"coherence": "5"}))),
        ErrorCode::InvalidPayload
    );
    assert_eq!(code(&frame("what", json!({}))), ErrorCode::UnknownEvent);
    assert_eq!(code(&"x".repeat(MAX_FRAME_BYTES + 1)), ErrorCode::TooLarge);
}

#[test]
fn error_carries_event_field_and_kind_separately() {
    let error = decode_err(&frame("rr_intervals", json!({"rr": [800, -1]})));
    assert_eq!(error.event.as_deref(), Some("rr_intervals"));
    assert_eq!(error.field.as_deref(), Some("rr[1]"));
    assert!(matches!(error.kind, DecodeErrorKind::OutOfRange { .. }));
    let reply = error.to_error_event();
    assert_eq!(reply.code, ErrorCode::InvalidPayload);
    assert_eq!(reply.message, error.to_string());
}

#[test]
fn one_mebibyte_frame_is_refused_before_parsing() {
    let huge = frame("rr_intervals", json!({ "rr": vec![800; 300_000] }));
    assert!(huge.len() > 1 << 20);
    let error = decode_err(&huge);
    assert_eq!(error.code(), ErrorCode::TooLarge);
    assert_eq!(
        error.to_string(),
        format!(
            "frame: frame of {} bytes is over the 65536-byte limit",
            huge.len()
        )
    );
}

#[test]
fn a_frame_of_exactly_64_kib_is_still_read() {
    let base = frame("join_session", json!({"chantId": ""}));
    let padding = " ".repeat(MAX_FRAME_BYTES - base.len());
    let padded = format!("{base}{padding}");
    assert_eq!(padded.len(), MAX_FRAME_BYTES);
    decode_ok(&padded);
}

#[test]
fn invalid_utf8_is_refused() {
    let mut bytes = br#"{"event":"join_session","data":{"intention":""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(br#""}}"#);
    let error = decode_ws_frame_bytes(&bytes).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(error.code(), ErrorCode::InvalidPayload);
    assert_eq!(
        decode_ws_frame_bytes(br#"{"event":"leave_session"}"#),
        Ok(ClientEvent::LeaveSession)
    );
}

#[test]
fn an_unknown_event_name_is_echoed_only_in_part() {
    let name = "e".repeat(10_000);
    let error = decode_err(&frame(&name, json!({})));
    assert_eq!(error.code(), ErrorCode::UnknownEvent);
    assert_eq!(error.event.map(|event| event.len()), Some(64));
}

#[test]
fn the_private_note_never_shows_in_debug_output() {
    let event = decode_ws_frame(&frame(
        "join_session",
        json!({"intention": {"category": "grief", "note": "my secret"}}),
    ))
    .unwrap();
    let printed = format!("{event:?}");
    assert!(!printed.contains("my secret"), "{printed}");
    assert!(printed.contains("<private, 9 bytes>"), "{printed}");
}
