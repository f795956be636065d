//! REST bodies: the live and stored sessions of `GET /api/sessions…`, the schedule of
//! `GET /api/hub` and `PUT /api/schedule`, and the room's participants for the console.

use synchub_hrv::CoherencePhase as Band;
use synchub_protocol as wire;
use synchub_protocol::rest;
use synchub_session as domain;
use synchub_session::record::{self, GroupSnapshot, ScheduleMode};

use super::events::{audio_track, group_metrics, schedule_span, session_summary};
use super::{band, device_to_wire, phase, quality, wire_ms};

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
            // A stored session keeps the mean index only; its chance level is in the report.
            synchrony_baseline: None,
        },
        audio_track: audio_track(duration_ms),
        phase_ends_at: None,
        summary: session
            .ended_at_ms
            .zip(summary)
            .map(|(ended_at_ms, summary)| session_summary(ended_at_ms, summary)),
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

#[cfg(test)]
mod tests {
    use super::*;

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
