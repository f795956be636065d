//! HTTP bodies: the schedule body is validated like an event, error bodies have both shapes,
//! and display-only events round-trip.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use synchub_protocol::rest::{
    ApiErrorBody, ErasedRows, ErasureBody, LegacyErrorBody, ParticipantExportBody, PhaseSecs,
    ResearchExportBody, Schedule, ScheduleMode, SessionCommandBody,
};
use synchub_protocol::{
    CoherencePhase, ErrorCode, HubEvent, RoomSnapshot, SessionPhase, SignalQuality,
    SnapshotParticipant, decode_ws_frame,
};

#[track_caller]
fn check_schedule_err(body: Value, expected: &str) {
    let error = Schedule::decode(&body).unwrap_err();
    assert_eq!(error.to_string(), expected, "body: {body}");
}

#[test]
fn the_original_schedule_is_accepted() {
    let body = json!({
        "mode": "rolling",
        "slotMinutes": 15,
        "phases": {"preparation": 30, "active": 750, "integration": 120}
    });
    assert_eq!(Schedule::decode(&body), Ok(Schedule::ORIGINAL));
    assert_eq!(serde_json::to_value(Schedule::ORIGINAL).unwrap(), body);
}

#[test]
fn a_manual_schedule_may_leave_slack_in_the_slot() {
    let body = json!({
        "mode": "manual",
        "slotMinutes": 60,
        "phases": {"preparation": 0, "active": 1200, "integration": 0}
    });
    assert_eq!(
        Schedule::decode(&body),
        Ok(Schedule {
            mode: ScheduleMode::Manual,
            slot_minutes: 60,
            phases: PhaseSecs {
                preparation: 0,
                active: 1200,
                integration: 0,
            },
        })
    );
}

#[test]
fn bad_schedules_are_refused_naming_the_field() {
    let phases = json!({"preparation": 30, "active": 750, "integration": 120});
    let cases = [
        (
            json!({"mode": "sometimes", "slotMinutes": 15, "phases": phases}),
            "PUT /api/schedule: field `mode`: invalid value (allowed: \"rolling\" or \"manual\")",
        ),
        (
            json!({"slotMinutes": 15, "phases": phases}),
            "PUT /api/schedule: field `mode`: missing",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": "15", "phases": phases}),
            "PUT /api/schedule: field `slotMinutes`: expected a number, found a string",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 0, "phases": phases}),
            "PUT /api/schedule: field `slotMinutes`: out of range (allowed: 1..=240)",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 15.5, "phases": phases}),
            "PUT /api/schedule: field `slotMinutes`: expected an integer, found a number",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 15, "phases": [30, 750, 120]}),
            "PUT /api/schedule: field `phases`: expected an object, found an array",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 15,
                "phases": {"preparation": 30, "active": 0, "integration": 120}}),
            "PUT /api/schedule: field `phases.active`: out of range (allowed: 1..=14400)",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 15,
                "phases": {"preparation": -30, "active": 750, "integration": 120}}),
            "PUT /api/schedule: field `phases.preparation`: out of range (allowed: 0..=9007199254740991)",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 15,
                "phases": {"preparation": 30, "active": 750}}),
            "PUT /api/schedule: field `phases.integration`: missing",
        ),
        (
            json!({"mode": "rolling", "slotMinutes": 10, "phases": phases}),
            "PUT /api/schedule: field `phases`: out of range (allowed: preparation + active + integration <= slotMinutes × 60)",
        ),
        (
            json!("rolling"),
            "PUT /api/schedule: expected an object, found a string",
        ),
    ];
    for (body, expected) in cases {
        check_schedule_err(body, expected);
    }
}

#[test]
fn both_error_body_shapes() {
    assert_eq!(
        serde_json::to_value(ApiErrorBody::new(ErrorCode::NotFound, "no such session")).unwrap(),
        json!({"error": {"code": "not_found", "message": "no such session"}})
    );
    assert_eq!(
        serde_json::to_value(LegacyErrorBody {
            error: "No active session found".into()
        })
        .unwrap(),
        json!({"error": "No active session found"})
    );
    let refused = decode_ws_frame(r#"{"event":"nope"}"#).unwrap_err();
    assert_eq!(
        serde_json::to_value(ApiErrorBody::from(&refused)).unwrap(),
        json!({"error": {"code": "unknown_event", "message": "nope: unknown event"}})
    );
}

#[test]
fn rest_error_codes_carry_their_http_status() {
    for (code, status) in [
        (ErrorCode::InvalidPayload, 400),
        (ErrorCode::Unauthorized, 401),
        (ErrorCode::NotFound, 404),
        (ErrorCode::Conflict, 409),
        (ErrorCode::TooLarge, 413),
        (ErrorCode::RateLimited, 429),
        (ErrorCode::Internal, 500),
    ] {
        assert_eq!(code.http_status(), status, "{code}");
    }
}

#[test]
fn an_error_code_from_a_newer_hub_decodes_as_unknown() {
    let event = HubEvent::from_frame(
        r#"{"event":"error","data":{"code":"quota_exceeded","message":"later"}}"#,
    )
    .unwrap();
    let HubEvent::Error(error) = event else {
        panic!("expected error")
    };
    assert_eq!(error.code, ErrorCode::Unknown);
}

#[test]
fn room_snapshot_round_trips_and_holds_no_ids() {
    let snapshot = HubEvent::RoomSnapshot(RoomSnapshot {
        timestamp: 1_732_630_600_000,
        session_id: Some("0b7c9a2e".into()),
        phase: SessionPhase::Active,
        phase_time_left: 680_000,
        session_time_left: 800_000,
        participants: vec![
            SnapshotParticipant {
                slot: 0,
                coherence: 63.1,
                phase: CoherencePhase::High,
                quality: SignalQuality::Good,
            },
            SnapshotParticipant {
                slot: 1,
                coherence: 0.0,
                phase: CoherencePhase::Low,
                quality: SignalQuality::WarmingUp,
            },
        ],
    });
    let frame = snapshot.to_frame();
    assert_eq!(HubEvent::from_frame(&frame), Ok(snapshot));
    let data: Value = serde_json::from_str(&frame).unwrap();
    let petal = &data["data"]["participants"][0];
    let mut keys: Vec<&str> = petal
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["coherence", "phase", "quality", "slot"]);
}

#[test]
fn every_hub_event_name_is_known_to_the_decoder() {
    for name in HubEvent::NAMES {
        // A payload of the wrong shape still tells the event apart from an unknown one.
        let error = HubEvent::decode(name, &json!({})).err();
        if let Some(error) = error {
            assert_ne!(error.code(), ErrorCode::UnknownEvent, "{name}");
        }
    }
    assert_eq!(
        HubEvent::decode("nope", &json!({})).unwrap_err().code(),
        ErrorCode::UnknownEvent
    );
}

#[test]
fn a_pacer_body_needs_a_pace_and_may_keep_the_ratio() {
    use synchub_protocol::rest::PacerRequest;
    assert_eq!(
        PacerRequest::decode(&json!({"breathsPerMin": 6})),
        Ok(PacerRequest {
            breaths_per_min: 6.0,
            inhale_ratio: None
        })
    );
    assert_eq!(
        PacerRequest::decode(&json!({"breathsPerMin": 5.5, "inhaleRatio": 0.4}))
            .unwrap()
            .inhale_ratio,
        Some(0.4)
    );
    for (body, expected) in [
        (json!({}), "PUT /api/pacer: field `breathsPerMin`: missing"),
        (
            json!({"breathsPerMin": 0}),
            "PUT /api/pacer: field `breathsPerMin`: out of range (allowed: 1..=30)",
        ),
        (
            json!({"breathsPerMin": "6"}),
            "PUT /api/pacer: field `breathsPerMin`: expected a number, found a string",
        ),
        (
            json!({"breathsPerMin": 6, "inhaleRatio": 1}),
            "PUT /api/pacer: field `inhaleRatio`: out of range (allowed: 0.1..=0.9)",
        ),
    ] {
        assert_eq!(
            PacerRequest::decode(&body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
    }
}

#[test]
fn a_strap_assignment_carries_a_label_and_the_join_fields() {
    use synchub_protocol::rest::StrapAssignRequest;
    let assigned = StrapAssignRequest::decode(&json!({
        "label": "  Seat 4 ",
        "intention": "grief",
        "consent": {"research": true}
    }))
    .unwrap();
    assert_eq!(assigned.label, "Seat 4");
    assert!(assigned.join.research_consented());
    assert!(assigned.join.intention.is_some());

    let bare = StrapAssignRequest::decode(&json!({"label": "Ana"})).unwrap();
    assert!(!bare.join.research_consented(), "absent consent is no");

    for (body, expected) in [
        (
            json!({"intention": "grief"}),
            "POST /api/straps/{id}/assign: field `label`: missing",
        ),
        (
            json!({"label": "   "}),
            "POST /api/straps/{id}/assign: field `label`: invalid value (allowed: a label that is not blank)",
        ),
        (
            json!({"label": "Ana", "consent": {"research": "yes"}}),
            "POST /api/straps/{id}/assign: field `consent.research`: expected a boolean, found a string",
        ),
    ] {
        assert_eq!(
            StrapAssignRequest::decode(&body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
    }
}

#[test]
fn sync_settings_name_a_database_or_turn_the_sync_off() {
    use synchub_protocol::rest::SyncSettingsRequest;
    let set = SyncSettingsRequest::decode(&json!({
        "databaseUrl": " postgres://hub@central/research ",
        "everySecs": 60
    }))
    .unwrap();
    assert_eq!(
        set.database_url.as_deref(),
        Some("postgres://hub@central/research")
    );
    assert_eq!(set.every_secs, Some(60));
    for off in [json!({"databaseUrl": null}), json!({"databaseUrl": ""})] {
        assert_eq!(
            SyncSettingsRequest::decode(&off).unwrap().database_url,
            None,
            "{off}"
        );
    }
    for (body, expected) in [
        (json!({}), "PUT /api/sync: field `databaseUrl`: missing"),
        (
            json!({"databaseUrl": 5}),
            "PUT /api/sync: field `databaseUrl`: expected a string, found a number",
        ),
        (
            json!({"databaseUrl": "postgres://x", "everySecs": 1}),
            "PUT /api/sync: field `everySecs`: out of range (allowed: 10..=86400)",
        ),
    ] {
        assert_eq!(
            SyncSettingsRequest::decode(&body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
    }
}

/// Replies keep the bytes the hub wrote before they were typed: fields in alphabetical order.
#[test]
fn typed_replies_write_the_same_json_as_before() {
    let check = |body: String, expected: &str| assert_eq!(body, expected);
    check(
        serde_json::to_string(&SessionCommandBody {
            phase: SessionPhase::Active,
            session_id: "s1".into(),
        })
        .unwrap(),
        r#"{"phase":"active","sessionId":"s1"}"#,
    );
    check(
        serde_json::to_string(&ErasureBody {
            erased: ErasedRows {
                beat_rows: 30,
                metric_rows: 4,
                pair_rows: 2,
                participant_rows: 1,
            },
            success: true,
        })
        .unwrap(),
        r#"{"erased":{"beatRows":30,"metricRows":4,"pairRows":2,"participantRows":1},"success":true}"#,
    );
    let tables = BTreeMap::from([
        ("sessions".to_owned(), json!([{"id": "s1"}])),
        ("rr_intervals".to_owned(), json!([])),
    ]);
    check(
        serde_json::to_string(&ResearchExportBody {
            export_id: "e1".into(),
            participants: 3,
            sessions: 1,
            success: true,
            tables: tables.clone(),
        })
        .unwrap(),
        r#"{"exportId":"e1","participants":3,"sessions":1,"success":true,"tables":{"rr_intervals":[],"sessions":[{"id":"s1"}]}}"#,
    );
    check(
        serde_json::to_string(&ParticipantExportBody {
            success: true,
            tables,
        })
        .unwrap(),
        r#"{"success":true,"tables":{"rr_intervals":[],"sessions":[{"id":"s1"}]}}"#,
    );
}
