//! The engine's outputs as hub events: its messages to one participant and its broadcasts, and
//! the pieces of them that REST bodies share (group figures, summaries).

use synchub_hrv::CoherencePhase as Band;
use synchub_protocol as wire;
use synchub_session as domain;
use synchub_session::record::{self, GroupSnapshot};

use super::{band, phase, quality, secs_to_ms, wire_ms};

/// The original platform's audio track, kept for its clients (they show its name).
const AUDIO_TRACK_ID: &str = "om-chant-432hz";

const AUDIO_TRACK_NAME: &str = "Om Chant 432Hz";

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
        synchrony_baseline: group.synchrony_baseline,
    }
}

pub(super) fn audio_track(duration_ms: i64) -> wire::AudioTrack {
    wire::AudioTrack {
        id: AUDIO_TRACK_ID.to_owned(),
        name: AUDIO_TRACK_NAME.to_owned(),
        duration: wire_ms(duration_ms),
    }
}

/// The original `(startedAt, duration)` pair: the schedule's start and its length so far.
pub(super) fn schedule_span(session: &domain::SessionInfo) -> (u64, i64) {
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

/// The answer to `time_sync`: the client's time echoed, the hub's time at arrival.
pub fn time_sync_reply(client_time_ms: f64, hub_now_ms: i64) -> wire::HubEvent {
    wire::HubEvent::TimeSync(wire::TimeSyncReply {
        client_time: client_time_ms,
        hub_time: wire_ms(hub_now_ms),
    })
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

pub(super) fn session_summary(
    ended_at_ms: i64,
    summary: &record::SessionSummary,
) -> wire::SessionSummary {
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
        synchrony_baseline: None,
    }
}

#[cfg(test)]
mod tests {
    use synchub_hrv::Quality;
    use synchub_session::record::Phase;

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
}
