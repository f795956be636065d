//! The overview: room, dates, planned and real lengths, phases, who took part, algorithms.

use std::collections::BTreeMap;

use super::Timeline;
use crate::input::{Phase, ScoreSource, SessionData, SourceKind};
use crate::report::{AlgorithmCount, Overview, ParticipantCounts, PhaseSpan, SourceCount};

pub(super) fn overview(data: &SessionData, timeline: &Timeline) -> Overview {
    let session = &data.session;
    let planned = session.planned;
    let phases = timeline
        .spans
        .iter()
        .map(|&(phase, start_ms, end_ms)| PhaseSpan {
            phase,
            planned_secs: match phase {
                Phase::Preparation => planned.preparation_secs,
                Phase::Active => planned.active_secs,
                Phase::Integration => planned.integration_secs,
                Phase::Complete => 0,
            },
            start_secs: timeline.secs_of(start_ms),
            end_secs: timeline.secs_of(end_ms),
        })
        .collect();
    Overview {
        room_name: session.room_name.clone(),
        mode: session.mode,
        started_at_ms: session.started_at_ms,
        ended_at_ms: session.ended_at_ms,
        report_ends_at_ms: timeline.end_ms,
        closed_on_recovery: session.closed_on_recovery,
        planned,
        planned_secs: planned.total_secs(),
        real_secs: timeline.secs_of(timeline.end_ms),
        phases,
        participants: participant_counts(data),
        algorithms: algorithms(data),
    }
}

fn participant_counts(data: &SessionData) -> ParticipantCounts {
    let count = |filter: &dyn Fn(&crate::input::ParticipantData) -> bool| {
        u32::try_from(data.participants.iter().filter(|p| filter(p)).count()).unwrap_or(u32::MAX)
    };
    let by_source = SourceKind::ALL
        .into_iter()
        .map(|source| SourceCount {
            source,
            joined: count(&|p| p.source == source),
            with_data: count(&|p| p.source == source && !p.metrics.is_empty()),
        })
        .filter(|entry| entry.joined > 0)
        .collect();
    ParticipantCounts {
        joined: count(&|_| true),
        with_data: count(&|p| !p.metrics.is_empty()),
        consented: count(&|p| p.research_consent),
        by_source,
    }
}

fn algorithms(data: &SessionData) -> Vec<AlgorithmCount> {
    let mut counts: BTreeMap<(bool, Option<&str>), u64> = BTreeMap::new();
    for row in data.participants.iter().flat_map(|p| &p.metrics) {
        let key = (row.source == ScoreSource::Client, row.algorithm.as_deref());
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((client, algorithm), scores)| AlgorithmCount {
            source: if client {
                ScoreSource::Client
            } else {
                ScoreSource::Hub
            },
            algorithm: algorithm.map(str::to_owned),
            scores,
        })
        .collect()
}
