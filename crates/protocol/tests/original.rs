//! Compatibility with the original platform, on recorded messages: its web and iOS clients'
//! messages decode, and what the hub sends carries every original field with the original name
//! and JSON type.

use serde_json::{Value, json};
use synchub_protocol::rest::{
    Health, LegacyErrorBody, ResearchStats, ResearchStatsBody, SessionInfo,
};
use synchub_protocol::schema::schema_files;
use synchub_protocol::{
    AudioTrack, ClientEvent, CoherenceBands, CoherenceDistribution, CoherencePhase, Contribution,
    ErrorCode, ErrorEvent, GroupMetrics, GroupMetricsUpdate, HubEvent, IntentionCategory,
    ParticipantUpdate, PersonalFeedback, SessionJoined, SessionPhase, SignalQuality,
    decode_ws_frame,
};

use crate::util::read_data;

#[test]
fn every_recorded_web_client_message_decodes() {
    let recorded: Vec<Value> =
        serde_json::from_str(&read_data("original_web_client.json")).unwrap();
    let mut decoded = Vec::new();
    for message in &recorded {
        let name = message["event"].as_str().unwrap();
        // Socket.IO hands the handler its first argument; none means no payload.
        let data = message["args"].get(0).cloned().unwrap_or(Value::Null);
        let event = ClientEvent::decode(name, &data)
            .unwrap_or_else(|error| panic!("{message}\nwas refused: {error}"));
        assert_eq!(event.name(), name);
        decoded.push(event);
    }
    let ClientEvent::JoinSession(first) = &decoded[0] else {
        panic!("expected join_session")
    };
    let intention = first.intention.as_ref().unwrap();
    assert_eq!(intention.category, IntentionCategory::Grief);
    assert_eq!(intention.note.as_deref(), Some("for my mother"));
    assert_eq!(first.chant_id.as_deref(), Some("om-chant-432hz"));
    assert_eq!(decoded.last(), Some(&ClientEvent::LeaveSession));
}

#[test]
fn every_recorded_ios_client_frame_decodes() {
    let events: Vec<ClientEvent> = read_data("original_ios_client.jsonl")
        .lines()
        .map(|line| {
            decode_ws_frame(line).unwrap_or_else(|error| panic!("{line}\nwas refused: {error}"))
        })
        .collect();
    let names: Vec<&str> = events.iter().map(ClientEvent::name).collect();
    assert_eq!(
        names,
        [
            "join_session",
            "join_session",
            "join_session",
            "update_coherence",
            "update_coherence",
            "leave_session"
        ]
    );
    let ClientEvent::JoinSession(none) = &events[1] else {
        panic!("expected join_session")
    };
    assert_eq!(
        none.intention, None,
        "the iOS client sends \"\" for no intention"
    );
}

fn group_metrics() -> GroupMetrics {
    GroupMetrics {
        session_id: "0b7c9a2e-4f1d-4a8e-9c3b-2d6e8f1a5b7c".into(),
        timestamp: 1_732_630_600_000,
        participant_count: 2,
        average_coherence: 49.9,
        peak_coherence: 52.1,
        coherence_phase: CoherencePhase::Medium,
        coherence_distribution: CoherenceDistribution {
            low: 1,
            medium: 0,
            high: 1,
        },
        median_coherence: 49.9,
        std_coherence: 7.4,
        active_count: 2,
        synchrony_index: Some(0.2),
        synchrony_baseline: Some(0.08),
    }
}

/// What this hub sends where the original sent each recorded server message.
fn our_event(name: &str) -> HubEvent {
    match name {
        "session_joined" => HubEvent::SessionJoined(Box::new(SessionJoined {
            session_id: "s".into(),
            started_at: 1_732_630_500_000,
            duration: 900_000,
            current_phase: SessionPhase::Preparation,
            participant_count: 1,
            group_metrics: GroupMetrics {
                synchrony_index: None,
                synchrony_baseline: None,
                ..group_metrics()
            },
            audio_track: AudioTrack {
                id: "om-chant-432hz".into(),
                name: "Om Chant - 432 Hz Tuning".into(),
                duration: 900_000,
            },
            participant_id: "p-1".into(),
            resume_token: "9b1de6c0a4f25e7d8c3b1a0f6e5d4c3b".into(),
            phase_ends_at: 1_732_630_530_000,
            room_name: "Thursday circle".into(),
        })),
        "participant_update" => HubEvent::ParticipantUpdate(ParticipantUpdate {
            participant_count: 2,
        }),
        "group_metrics_update" => HubEvent::GroupMetricsUpdate(Box::new(GroupMetricsUpdate {
            group_metrics: group_metrics(),
        })),
        // Score-only participants get none of the optional additions: the leanest message
        // must still carry every original field.
        "personal_feedback" => HubEvent::PersonalFeedback(PersonalFeedback {
            your_coherence: 57.3,
            group_average: 49.9,
            contribution: Contribution::from_scores(57.3, 49.9),
            phase: CoherencePhase::Medium,
            coherence_ratio: None,
            heart_rate: None,
            breaths_per_min: None,
            quality: None,
        }),
        "error" => HubEvent::Error(ErrorEvent {
            code: ErrorCode::NoActiveSession,
            message: "No active session available".into(),
        }),
        other => panic!("no counterpart for recorded event {other}"),
    }
}

/// Fields the original clients read as integers (Swift `Int`): they must stay integers.
const INTEGER_FIELDS: [&str; 7] = [
    "participantCount",
    "low",
    "medium",
    "high",
    "timestamp",
    "startedAt",
    "duration",
];

/// Asserts that `ours` has every key of `original`, recursively, with the same JSON type.
fn assert_superset(original: &Value, ours: &Value, path: &str) {
    match (original, ours) {
        (Value::Object(original), Value::Object(ours)) => {
            for (key, value) in original {
                let field = format!("{path}.{key}");
                let Some(our_value) = ours.get(key) else {
                    panic!("{field} is missing from our message: {ours:?}")
                };
                if INTEGER_FIELDS.contains(&key.as_str()) {
                    assert!(
                        our_value.is_u64(),
                        "{field} must be an integer, is {our_value}"
                    );
                }
                assert_superset(value, our_value, &field);
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        (Value::Array(original), Value::Array(ours)) => {
            if let (Some(first), Some(our_first)) = (original.first(), ours.first()) {
                assert_superset(first, our_first, &format!("{path}[0]"));
            }
        }
        _ => panic!("{path}: original {original} and ours {ours} differ in type"),
    }
}

#[test]
fn hub_events_carry_every_original_field_with_its_type() {
    let recorded: Vec<Value> = serde_json::from_str(&read_data("original_server.json")).unwrap();
    for message in &recorded {
        let name = message["event"].as_str().unwrap();
        let ours = our_event(name);
        let (our_name, our_data) = ours.to_socketio();
        assert_eq!(our_name, name);
        assert_superset(&message["data"], &our_data, name);
        // The plain-WebSocket frame carries the same payload.
        let frame: Value = serde_json::from_str(&ours.to_frame()).unwrap();
        assert_eq!(frame, json!({ "event": name, "data": our_data }));
    }
}

#[test]
fn enum_spellings_are_the_original_ones() {
    let spelled = |value: Value| value.as_str().unwrap().to_owned();
    assert_eq!(spelled(json!(Contribution::HelpingLift)), "helping_lift");
    assert_eq!(
        spelled(json!(Contribution::BeingSupported)),
        "being_supported"
    );
    for (phase, text) in [
        (SessionPhase::Preparation, "preparation"),
        (SessionPhase::Active, "active"),
        (SessionPhase::Integration, "integration"),
        (SessionPhase::Complete, "complete"),
    ] {
        assert_eq!(spelled(json!(phase)), text);
    }
    for (band, text) in [
        (CoherencePhase::Low, "low"),
        (CoherencePhase::Medium, "medium"),
        (CoherencePhase::High, "high"),
    ] {
        assert_eq!(spelled(json!(band)), text);
    }
    let categories: Vec<String> = IntentionCategory::ALL
        .iter()
        .map(|category| spelled(json!(category)))
        .collect();
    assert_eq!(
        categories,
        [
            "physical_healing",
            "emotional_release",
            "anxiety",
            "abundance",
            "energy",
            "grief",
            "other"
        ]
    );
    assert_eq!(spelled(json!(SignalQuality::WarmingUp)), "warming_up");
}

#[test]
fn contribution_uses_the_original_strict_rule() {
    assert_eq!(
        Contribution::from_scores(50.1, 50.0),
        Contribution::HelpingLift
    );
    assert_eq!(
        Contribution::from_scores(50.0, 50.0),
        Contribution::BeingSupported
    );
}

#[test]
fn coherence_bands_use_the_original_thresholds() {
    assert_eq!(CoherencePhase::from_score(39.99), CoherencePhase::Low);
    assert_eq!(CoherencePhase::from_score(40.0), CoherencePhase::Medium);
    assert_eq!(CoherencePhase::from_score(59.99), CoherencePhase::Medium);
    assert_eq!(CoherencePhase::from_score(60.0), CoherencePhase::High);
    assert_eq!(CoherencePhase::from_score(f64::NAN), CoherencePhase::Low);
    // The named thresholds are these numbers, and the schema hands them to other clients.
    assert_eq!(
        CoherenceBands::CURRENT,
        CoherenceBands {
            medium_min_score: 40.0,
            high_min_score: 60.0,
        }
    );
    let bands = schema_files()
        .into_iter()
        .find(|file| file.file_name == "coherence_bands.json")
        .expect("a coherence_bands schema");
    assert_eq!(bands.schema["properties"]["mediumMinScore"]["const"], 40.0);
    assert_eq!(bands.schema["properties"]["highMinScore"]["const"], 60.0);
}

/// What this hub answers where the original answered each recorded REST body.
fn our_body(name: &str) -> Value {
    let value = match name {
        "health" => serde_json::to_value(Health {
            status: "ok".into(),
            timestamp: 1_732_630_512_345,
            problems: Vec::new(),
        }),
        "session_info" => serde_json::to_value(SessionInfo {
            session_id: "s".into(),
            started_at: 1_732_630_500_000,
            duration: 900_000,
            current_phase: SessionPhase::Active,
            participant_count: 2,
            group_metrics: group_metrics(),
            audio_track: AudioTrack {
                id: "om-chant-432hz".into(),
                name: "Om Chant - 432 Hz Tuning".into(),
                duration: 900_000,
            },
            phase_ends_at: Some(1_732_631_280_000),
            summary: None,
        }),
        "legacy_error" => serde_json::to_value(LegacyErrorBody {
            error: "No active session found".into(),
        }),
        "research_stats" => serde_json::to_value(ResearchStatsBody {
            success: true,
            stats: ResearchStats {
                total_sessions: 12,
                total_users: 40,
                avg_group_coherence: 47.2,
                max_group_coherence: 81.5,
                avg_participants: 9.5,
            },
        }),
        other => panic!("no counterpart for recorded body {other}"),
    };
    value.unwrap()
}

#[test]
fn rest_bodies_keep_the_original_shapes() {
    let recorded: Vec<Value> = serde_json::from_str(&read_data("original_rest.json")).unwrap();
    for body in &recorded {
        let name = body["body"].as_str().unwrap();
        assert_superset(&body["data"], &our_body(name), name);
    }
}
