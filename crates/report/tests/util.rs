//! Builders of sessions for the pure tests, and of stores for the loader tests.

#![allow(dead_code)]

use synchub_report::{
    BeatCoverage, MetricRow, ParticipantData, Phase, PhaseChange, PlannedPhases, Quality,
    ScheduleMode, ScoreSource, SessionData, SessionInfo, SourceKind,
};

pub const T0_MS: i64 = 1_780_000_000_000;

/// A manual session that ran exactly as planned, with no participants yet.
pub fn session(preparation_secs: u32, active_secs: u32, integration_secs: u32) -> SessionData {
    let active_at = T0_MS + i64::from(preparation_secs) * 1000;
    let integration_at = active_at + i64::from(active_secs) * 1000;
    let end = integration_at + i64::from(integration_secs) * 1000;
    SessionData {
        session: SessionInfo {
            room_name: Some("Studio".to_owned()),
            mode: ScheduleMode::Manual,
            started_at_ms: T0_MS,
            ended_at_ms: Some(end),
            closed_on_recovery: false,
            planned: PlannedPhases {
                preparation_secs,
                active_secs,
                integration_secs,
            },
            phase_changes: vec![
                PhaseChange {
                    phase: Phase::Preparation,
                    at_ms: T0_MS,
                },
                PhaseChange {
                    phase: Phase::Active,
                    at_ms: active_at,
                },
                PhaseChange {
                    phase: Phase::Integration,
                    at_ms: integration_at,
                },
                PhaseChange {
                    phase: Phase::Complete,
                    at_ms: end,
                },
            ],
        },
        participants: Vec::new(),
        synchrony: Vec::new(),
        pacer: Vec::new(),
    }
}

/// A good hub score at `secs` after the start.
pub fn score(secs: f64, score: f64) -> MetricRow {
    MetricRow {
        at_ms: T0_MS + (secs * 1000.0) as i64,
        score,
        source: ScoreSource::Hub,
        algorithm: Some("synchub-coherence/1".to_owned()),
        breaths_per_min: Some(6.0),
        artifact_fraction: Some(0.0),
        quality: Quality::Good,
    }
}

/// Scores every 5 s from `from_secs` (inclusive) to `to_secs` (exclusive), given by `f(secs)`.
pub fn scores(from_secs: u32, to_secs: u32, f: impl Fn(f64) -> f64) -> Vec<MetricRow> {
    (from_secs..to_secs)
        .step_by(5)
        .map(|secs| score(f64::from(secs), f(f64::from(secs))))
        .collect()
}

pub fn participant(slot: u32, metrics: Vec<MetricRow>) -> ParticipantData {
    ParticipantData {
        slot,
        source: SourceKind::App,
        research_consent: true,
        joined_at_ms: T0_MS,
        left_at_ms: None,
        metrics,
        beats: BeatCoverage::default(),
        synchrony_strength: Vec::new(),
    }
}
