//! Domain ↔ wire: the only place where `synchub-session`'s types meet `synchub-protocol`'s.
//!
//! The engine speaks milliseconds as `i64`, domain enums and ids; phones speak the original
//! platform's camelCase JSON. Keeping every conversion here means neither side ever learns the
//! other's shape, and a wire rename is a change in this folder only. This file holds the
//! scalar conversions the others share; `events` turns the engine's outputs into hub events,
//! `rest` builds REST bodies, `inputs` turns client events into the engine task's domain
//! inputs, and `straps` converts what the Bluetooth layer reports.

mod events;
mod inputs;
mod rest;
mod straps;

use synchub_hrv::{CoherencePhase as Band, Quality};
use synchub_protocol as wire;
use synchub_session as domain;
use synchub_session::record::{self, Phase};

pub use events::{
    broadcast_event, empty_group, group_metrics, message_event, pacer, personal_feedback,
    session_joined, time_sync_reply,
};
pub use inputs::{client_input, event_name, join_fields, join_request};
pub use rest::{
    live_session_info, participant_summary, schedule_from_wire, schedule_to_wire,
    stored_session_info,
};
pub use straps::{
    bluetooth_adapter, relay_beats, relay_strap, relay_strap_status, strap, strap_beats,
};

/// Epoch milliseconds as the wire's unsigned integers (instants before 1970 do not occur).
pub fn wire_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

pub fn phase(phase: Phase) -> wire::SessionPhase {
    match phase {
        Phase::Preparation => wire::SessionPhase::Preparation,
        Phase::Active => wire::SessionPhase::Active,
        Phase::Integration => wire::SessionPhase::Integration,
        Phase::Complete => wire::SessionPhase::Complete,
    }
}

pub fn band(band: Band) -> wire::CoherencePhase {
    match band {
        Band::Low => wire::CoherencePhase::Low,
        Band::Medium => wire::CoherencePhase::Medium,
        Band::High => wire::CoherencePhase::High,
    }
}

pub fn quality(quality: Quality) -> wire::SignalQuality {
    match quality {
        Quality::Good => wire::SignalQuality::Good,
        Quality::Low => wire::SignalQuality::Low,
        Quality::WarmingUp => wire::SignalQuality::WarmingUp,
    }
}

pub fn device_to_wire(kind: record::DeviceKind) -> wire::DeviceKind {
    match kind {
        record::DeviceKind::Ios => wire::DeviceKind::Ios,
        record::DeviceKind::Android => wire::DeviceKind::Android,
        record::DeviceKind::Web => wire::DeviceKind::Web,
        record::DeviceKind::Ble => wire::DeviceKind::Ble,
        record::DeviceKind::Sim => wire::DeviceKind::Sim,
        record::DeviceKind::Unknown => wire::DeviceKind::Other,
    }
}

pub fn device_from_wire(device: Option<&wire::Device>) -> record::DeviceKind {
    match device.map(|device| device.kind) {
        Some(wire::DeviceKind::Ios) => record::DeviceKind::Ios,
        Some(wire::DeviceKind::Android) => record::DeviceKind::Android,
        Some(wire::DeviceKind::Web) => record::DeviceKind::Web,
        Some(wire::DeviceKind::Ble) => record::DeviceKind::Ble,
        Some(wire::DeviceKind::Sim) => record::DeviceKind::Sim,
        Some(wire::DeviceKind::Other) | None => record::DeviceKind::Unknown,
    }
}

pub fn intention_from_wire(
    intention: Option<&wire::Intention>,
) -> Option<record::IntentionCategory> {
    // The private note is dropped here: it never goes further than this function.
    intention.map(|intention| match intention.category {
        wire::IntentionCategory::PhysicalHealing => record::IntentionCategory::PhysicalHealing,
        wire::IntentionCategory::EmotionalRelease => record::IntentionCategory::EmotionalRelease,
        wire::IntentionCategory::Anxiety => record::IntentionCategory::Anxiety,
        wire::IntentionCategory::Abundance => record::IntentionCategory::Abundance,
        wire::IntentionCategory::Energy => record::IntentionCategory::Energy,
        wire::IntentionCategory::Grief => record::IntentionCategory::Grief,
        wire::IntentionCategory::Other => record::IntentionCategory::Other,
    })
}

/// The stable wire code of an engine refusal.
pub fn engine_error_code(error: &domain::EngineError) -> wire::ErrorCode {
    match error {
        domain::EngineError::NoActiveSession => wire::ErrorCode::NoActiveSession,
        domain::EngineError::SessionFull { .. } => wire::ErrorCode::SessionFull,
        domain::EngineError::UnknownParticipant(_) => wire::ErrorCode::NotJoined,
        domain::EngineError::StaleBeats { .. } => wire::ErrorCode::StaleBeats,
        domain::EngineError::BeatsOutrunTime { .. } => wire::ErrorCode::RateLimited,
        domain::EngineError::UnknownSession => wire::ErrorCode::NotFound,
        domain::EngineError::SessionInProgress | domain::EngineError::WrongPhase(_) => {
            wire::ErrorCode::Conflict
        }
        _ => wire::ErrorCode::InvalidPayload,
    }
}

fn secs_to_ms(secs: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Rounded, clamped ≥ 0.
    let ms = (secs * 1000.0).round().max(0.0) as u64;
    ms
}
