//! Domain ↔ wire: the only place where `synchub-session`'s types meet `synchub-protocol`'s.
//!
//! The engine speaks milliseconds as `i64`, domain enums and ids; phones speak the original
//! platform's camelCase JSON. Keeping every conversion here means neither side ever learns the
//! other's shape, and a wire rename is a one-file change.

use synchub_hrv::{CoherencePhase as Band, Quality};
use synchub_protocol as wire;
use synchub_protocol::rest;
use synchub_session as domain;
use synchub_session::record::{self, GroupSnapshot, Phase, ScheduleMode};

/// The original platform's audio track, kept for its clients (they show its name).
const AUDIO_TRACK_ID: &str = "om-chant-432hz";
const AUDIO_TRACK_NAME: &str = "Om Chant 432Hz";

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

/// A validated `join_session` as the engine takes it; `pseudonym` is already the HMAC.
pub fn join_request(
    join: &wire::JoinSession,
    pseudonym: String,
    clock_offset_ms: Option<f64>,
) -> domain::JoinRequest {
    domain::JoinRequest {
        pseudonym,
        intention: intention_from_wire(join.intention.as_ref()),
        research_consent: join.research_consented(),
        device: device_from_wire(join.device.as_ref()),
        clock_offset_ms,
    }
}

pub fn rr_batch(batch: &wire::RrIntervals) -> domain::RrBatch {
    domain::RrBatch {
        rr_ms: batch.rr.clone(),
        #[allow(clippy::cast_precision_loss)] // ≤ 2^53: exact.
        ended_at_client_ms: batch.ended_at.map(|ms| ms as f64),
        seq: batch.seq,
    }
}

pub fn group_metrics(group: &GroupSnapshot) -> wire::GroupMetrics {
    wire::GroupMetrics {
        session_id: group.session_id.to_string(),
        timestamp: wire_ms(group.at_ms),
        participant_count: group.participant_count,
        average_coherence: group.average_coherence,
        peak_coherence: group.peak_coherence,
        coherence_phase: band(group.coherence_phase),
        coherence_distribution: wire::CoherenceDistribution {
            low: group.distribution_low,
            medium: group.distribution_medium,
            high: group.distribution_high,
        },
        median_coherence: group.median_coherence,
        std_coherence: group.std_coherence,
        active_count: group.active_count,
        synchrony_index: group.synchrony_index,
    }
}

fn audio_track(duration_ms: i64) -> wire::AudioTrack {
    wire::AudioTrack {
        id: AUDIO_TRACK_ID.to_owned(),
        name: AUDIO_TRACK_NAME.to_owned(),
        duration: wire_ms(duration_ms),
    }
}

/// The original `(startedAt, duration)` pair: the schedule's start and its length so far.
fn schedule_span(session: &domain::SessionInfo) -> (u64, i64) {
    (
        wire_ms(session.schedule_start_ms),
        session.ends_at_ms - session.schedule_start_ms,
    )
}

pub fn session_joined(joined: &domain::SessionJoined, room_name: &str) -> wire::SessionJoined {
    let session = &joined.session;
    let (started_at, duration_ms) = schedule_span(session);
    wire::SessionJoined {
        session_id: session.session_id.to_string(),
        started_at,
        duration: wire_ms(duration_ms),
        current_phase: phase(session.phase),
        participant_count: session.participant_count,
        group_metrics: group_metrics(&joined.group),
        audio_track: audio_track(duration_ms),
        participant_id: joined.participant_id.to_string(),
        resume_token: joined.resume_token.to_hex(),
        phase_ends_at: wire_ms(session.phase_ends_at_ms),
        room_name: room_name.to_owned(),
    }
}

/// `GET /api/sessions/current` for the running session.
pub fn live_session_info(
    session: &domain::SessionInfo,
    group: &GroupSnapshot,
) -> rest::SessionInfo {
    let (started_at, duration_ms) = schedule_span(session);
    rest::SessionInfo {
        session_id: session.session_id.to_string(),
        started_at,
        duration: wire_ms(duration_ms),
        current_phase: phase(session.phase),
        participant_count: session.participant_count,
        group_metrics: group_metrics(group),
        audio_track: audio_track(duration_ms),
        phase_ends_at: Some(wire_ms(session.phase_ends_at_ms)),
        summary: None,
    }
}

/// A stored session in the original shape. Its `groupMetrics` carry what the store kept: the
/// session's average and peak group coherence once it completed (zeros while none exist).
pub fn stored_session_info(session: &synchub_store::SessionOverview) -> rest::SessionInfo {
    let ended_ms = session.ended_at_ms.unwrap_or(session.planned_end_ms);
    let duration_ms = ended_ms.max(session.planned_end_ms)
        - session.slot_start_ms.unwrap_or(session.started_at_ms);
    let summary = session.summary.as_ref();
    let average = summary
        .and_then(|summary| summary.average_coherence)
        .unwrap_or(0.0);
    let peak = summary
        .and_then(|summary| summary.peak_coherence)
        .unwrap_or(0.0);
    let participant_count = summary.map_or(session.participants, |summary| summary.participants);
    rest::SessionInfo {
        session_id: session.session_id.to_string(),
        started_at: wire_ms(session.slot_start_ms.unwrap_or(session.started_at_ms)),
        duration: wire_ms(duration_ms),
        current_phase: phase(session.phase),
        participant_count,
        group_metrics: wire::GroupMetrics {
            session_id: session.session_id.to_string(),
            timestamp: wire_ms(ended_ms),
            participant_count,
            average_coherence: average,
            peak_coherence: peak,
            coherence_phase: band(Band::from_score(average)),
            coherence_distribution: wire::CoherenceDistribution::default(),
            median_coherence: average,
            std_coherence: 0.0,
            active_count: 0,
            synchrony_index: summary.and_then(|summary| summary.average_synchrony),
        },
        audio_track: audio_track(duration_ms),
        phase_ends_at: None,
        summary: session
            .ended_at_ms
            .zip(summary)
            .map(|(ended_at_ms, summary)| session_summary(ended_at_ms, summary)),
    }
}

pub fn personal_feedback(feedback: &domain::PersonalFeedback) -> wire::PersonalFeedback {
    let is_score_only = feedback.coherence_ratio.is_none();
    wire::PersonalFeedback {
        your_coherence: feedback.your_coherence,
        group_average: feedback.group_average,
        contribution: match feedback.contribution {
            domain::Contribution::HelpingLift => wire::Contribution::HelpingLift,
            domain::Contribution::BeingSupported => wire::Contribution::BeingSupported,
        },
        phase: band(feedback.coherence_phase),
        coherence_ratio: feedback.coherence_ratio,
        heart_rate: feedback.heart_rate_bpm,
        breaths_per_min: feedback.breaths_per_min,
        // Score-only participants (the original protocol) have no signal quality to report.
        quality: (!is_score_only).then(|| quality(feedback.quality)),
    }
}

pub fn pacer(pacer: &domain::Pacer) -> wire::Pacer {
    wire::Pacer {
        breaths_per_min: pacer.breaths_per_min,
        inhale_ratio: pacer.inhale_ratio,
        epoch_hub_time: wire_ms(pacer.epoch_hub_ms),
    }
}

/// The event for one engine message.
pub fn message_event(body: &domain::MessageBody, room_name: &str) -> wire::HubEvent {
    match body {
        domain::MessageBody::SessionJoined(joined) => {
            wire::HubEvent::SessionJoined(Box::new(session_joined(joined, room_name)))
        }
        domain::MessageBody::PersonalFeedback(feedback) => {
            wire::HubEvent::PersonalFeedback(personal_feedback(feedback))
        }
        domain::MessageBody::RrAck { seq } => wire::HubEvent::RrAck(wire::RrAck { seq: *seq }),
        domain::MessageBody::Pacer(value) => wire::HubEvent::Pacer(pacer(value)),
    }
}

/// The event for one engine broadcast.
pub fn broadcast_event(broadcast: &domain::Broadcast) -> wire::HubEvent {
    match broadcast {
        domain::Broadcast::ParticipantCount {
            participant_count, ..
        } => wire::HubEvent::ParticipantUpdate(wire::ParticipantUpdate {
            participant_count: *participant_count,
        }),
        domain::Broadcast::GroupMetrics(group) => {
            wire::HubEvent::GroupMetricsUpdate(Box::new(wire::GroupMetricsUpdate {
                group_metrics: group_metrics(group),
            }))
        }
        domain::Broadcast::PhaseChanged(change) => {
            wire::HubEvent::PhaseChanged(wire::PhaseChanged {
                session_id: change.session_id.to_string(),
                phase: phase(change.phase),
                started_at: wire_ms(change.started_at_ms),
                ends_at: wire_ms(change.ends_at_ms.unwrap_or(change.started_at_ms)),
            })
        }
        domain::Broadcast::SessionComplete {
            session_id,
            ended_at_ms,
            summary,
        } => wire::HubEvent::SessionComplete(Box::new(wire::SessionComplete {
            session_id: session_id.to_string(),
            summary: session_summary(*ended_at_ms, summary),
        })),
        domain::Broadcast::RoomSnapshot(snapshot) => {
            wire::HubEvent::RoomSnapshot(room_snapshot(snapshot))
        }
        domain::Broadcast::Pacer(value) => wire::HubEvent::Pacer(pacer(value)),
    }
}

fn secs_to_ms(secs: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Rounded, clamped ≥ 0.
    let ms = (secs * 1000.0).round().max(0.0) as u64;
    ms
}

fn session_summary(ended_at_ms: i64, summary: &record::SessionSummary) -> wire::SessionSummary {
    wire::SessionSummary {
        started_at: wire_ms(ended_at_ms - summary.duration_ms),
        ended_at: wire_ms(ended_at_ms),
        duration: wire_ms(summary.duration_ms),
        participant_count: summary.participants,
        average_coherence: summary.average_coherence.unwrap_or(0.0),
        peak_coherence: summary.peak_coherence.unwrap_or(0.0),
        time_in_phase: wire::TimeInPhase {
            low: secs_to_ms(summary.secs_low),
            medium: secs_to_ms(summary.secs_medium),
            high: secs_to_ms(summary.secs_high),
        },
    }
}

fn room_snapshot(snapshot: &domain::RoomSnapshot) -> wire::RoomSnapshot {
    wire::RoomSnapshot {
        timestamp: wire_ms(snapshot.at_ms),
        session_id: Some(snapshot.session_id.to_string()),
        phase: phase(snapshot.phase),
        phase_time_left: wire_ms(snapshot.phase_ends_at_ms - snapshot.at_ms),
        session_time_left: wire_ms(snapshot.time_left_ms),
        participants: snapshot
            .petals
            .iter()
            .map(|petal| wire::SnapshotParticipant {
                slot: petal.slot,
                coherence: petal.coherence.unwrap_or(0.0),
                phase: band(Band::from_score(petal.coherence.unwrap_or(0.0))),
                quality: petal
                    .quality
                    .map_or(wire::SignalQuality::WarmingUp, quality),
            })
            .collect(),
    }
}

/// The engine's schedule as `GET /api/hub` shows it. A rolling slot is the three phases back
/// to back, so `slotMinutes` is their total, rounded up.
pub fn schedule_to_wire(schedule: &domain::ScheduleConfig) -> rest::Schedule {
    let phases = &schedule.phases;
    let total_secs = u64::try_from(phases.total_ms() / 1000).unwrap_or(0);
    rest::Schedule {
        mode: match schedule.mode {
            ScheduleMode::Rolling => rest::ScheduleMode::Rolling,
            ScheduleMode::Manual => rest::ScheduleMode::Manual,
        },
        slot_minutes: u32::try_from(total_secs.div_ceil(60)).unwrap_or(u32::MAX),
        phases: rest::PhaseSecs {
            preparation: phases.preparation_secs,
            active: phases.active_secs,
            integration: phases.integration_secs,
        },
    }
}

pub fn schedule_from_wire(schedule: &rest::Schedule) -> domain::ScheduleConfig {
    domain::ScheduleConfig {
        mode: match schedule.mode {
            rest::ScheduleMode::Rolling => ScheduleMode::Rolling,
            rest::ScheduleMode::Manual => ScheduleMode::Manual,
        },
        phases: domain::PhaseDurations {
            preparation_secs: schedule.phases.preparation,
            active_secs: schedule.phases.active,
            integration_secs: schedule.phases.integration,
        },
    }
}

/// A participant of the room for the console (no ids).
pub fn participant_summary(view: &domain::ParticipantView) -> rest::ParticipantSummary {
    rest::ParticipantSummary {
        slot: view.slot,
        source: device_to_wire(view.device),
        connected: view.connected,
        coherence: view.coherence,
        phase: view.coherence.map(|score| band(Band::from_score(score))),
        quality: match view.source {
            Some(record::ScoreSource::Hub) => view.quality.map(quality),
            _ => None,
        },
        strap_battery: None,
        strap_code: None,
    }
}

/// A strap for the console; `assignment` is the wearer's label and slot.
pub fn strap(
    status: &synchub_ble::StrapStatus,
    assignment: Option<(String, Option<u32>)>,
) -> rest::Strap {
    rest::Strap {
        id: status.id.as_str().to_owned(),
        code: status.code.clone(),
        name: status.name.clone(),
        model: status.model.clone(),
        manufacturer: status.manufacturer.clone(),
        state: match status.state {
            synchub_ble::StrapState::Discovered => rest::StrapState::Discovered,
            synchub_ble::StrapState::Connected => rest::StrapState::Connected,
            synchub_ble::StrapState::NoContact => rest::StrapState::NoContact,
            synchub_ble::StrapState::Reconnecting => rest::StrapState::Reconnecting,
            // Heard, not connected: the wire has no state of its own for this yet.
            synchub_ble::StrapState::NoFreeConnection => rest::StrapState::Discovered,
        },
        rssi: status.rssi,
        battery_pct: status.battery_pct,
        battery_low: status.battery_low,
        heart_rate_bpm: status.heart_rate_bpm,
        smoothed_rr_warning: status.smoothed_rr_warning.clone(),
        assigned: assignment.map(|(label, slot)| rest::StrapAssignment { label, slot }),
    }
}

/// The stable wire code of an engine refusal.
pub fn engine_error_code(error: &domain::EngineError) -> wire::ErrorCode {
    match error {
        domain::EngineError::NoActiveSession => wire::ErrorCode::NoActiveSession,
        domain::EngineError::SessionFull { .. } => wire::ErrorCode::SessionFull,
        domain::EngineError::UnknownParticipant(_) => wire::ErrorCode::NotJoined,
        domain::EngineError::StaleBeats { .. } => wire::ErrorCode::StaleBeats,
        domain::EngineError::UnknownSession => wire::ErrorCode::NotFound,
        domain::EngineError::SessionInProgress | domain::EngineError::WrongPhase(_) => {
            wire::ErrorCode::Conflict
        }
        _ => wire::ErrorCode::InvalidPayload,
    }
}

/// Group figures before the first 1 Hz tick of a session: nobody measured yet.
pub fn empty_group(session: &domain::SessionInfo) -> GroupSnapshot {
    GroupSnapshot {
        session_id: session.session_id,
        at_ms: session.started_at_ms,
        phase: session.phase,
        participant_count: session.participant_count,
        active_count: 0,
        average_coherence: 0.0,
        median_coherence: 0.0,
        std_coherence: 0.0,
        peak_coherence: 0.0,
        coherence_phase: Band::Low,
        distribution_low: 0,
        distribution_medium: 0,
        distribution_high: 0,
        synchrony_index: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_only_feedback_has_no_quality() {
        let feedback = domain::PersonalFeedback {
            session_id: domain::SessionId(uuid::Uuid::nil()),
            at_ms: 1,
            your_coherence: 70.0,
            group_average: 50.0,
            contribution: domain::Contribution::HelpingLift,
            coherence_phase: Band::High,
            session_phase: Phase::Active,
            coherence_ratio: None,
            heart_rate_bpm: None,
            breaths_per_min: None,
            quality: Quality::Good,
        };
        let wire = personal_feedback(&feedback);
        assert_eq!(wire.quality, None);
        assert_eq!(wire.contribution, wire::Contribution::HelpingLift);
        assert_eq!(wire.phase, wire::CoherencePhase::High);
    }

    #[test]
    fn rolling_slot_minutes_round_up_the_phase_total() {
        let schedule = domain::ScheduleConfig {
            mode: ScheduleMode::Rolling,
            phases: domain::PhaseDurations {
                preparation_secs: 10,
                active_secs: 100,
                integration_secs: 20,
            },
        };
        let wire = schedule_to_wire(&schedule);
        assert_eq!(wire.slot_minutes, 3);
        assert_eq!(schedule_from_wire(&wire), schedule);
    }
}
