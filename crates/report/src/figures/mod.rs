//! From [`SessionData`] to [`Report`]: one module per section of the page.
//!
//! Every section reads the session through one [`Timeline`] (where each phase really began
//! and ended, and where the report's time axis stops), so a score, a synchrony round and a
//! pacer setting are always placed in phases the same way.

mod breathing;
mod change;
mod coherence;
mod overview;
mod quality;
mod synchrony;

pub(crate) use coherence::counts;

use crate::input::{Phase, SessionData};
use crate::report::{Report, SCHEMA};

/// The grid of the group series and the slot length of "scored windows": the live engine's
/// 5 s step.
pub(crate) const GRID_MS: i64 = 5_000;
/// A score counts in the group while at most this old (the live engine's `FRESH_MS`).
pub(crate) const FRESH_MS: i64 = 15_000;

pub(crate) fn build(data: &SessionData, seed: u64) -> Report {
    let timeline = Timeline::of(data);
    Report {
        schema: SCHEMA,
        seed,
        overview: overview::overview(data, &timeline),
        coherence: coherence::coherence(data, &timeline),
        synchrony: synchrony::synchrony(data, &timeline),
        change: change::change(data, &timeline, seed),
        breathing: breathing::breathing(data, &timeline),
        quality: quality::quality(data, &timeline),
    }
}

/// When each phase ran, in ms since the epoch.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub start_ms: i64,
    /// The end of the session, or its newest data while it runs.
    pub end_ms: i64,
    /// Running phases in order: `(phase, start_ms, end_ms)`.
    pub spans: Vec<(Phase, i64, i64)>,
}

impl Timeline {
    pub fn of(data: &SessionData) -> Self {
        let session = &data.session;
        let start_ms = session.started_at_ms;
        let end_ms = session
            .ended_at_ms
            .unwrap_or_else(|| newest_data_ms(data))
            .max(start_ms);
        let mut changes = session.phase_changes.clone();
        changes.sort_by_key(|change| change.at_ms);
        let mut spans = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            if change.phase == Phase::Complete || change.at_ms >= end_ms {
                continue;
            }
            let next_ms = changes
                .get(index + 1)
                .map_or(end_ms, |next| next.at_ms)
                .min(end_ms);
            if next_ms > change.at_ms {
                spans.push((change.phase, change.at_ms.max(start_ms), next_ms));
            }
        }
        if spans.is_empty() {
            // No recorded phase changes: the planned schedule, cut at the end.
            let planned = session.planned;
            let mut at_ms = start_ms;
            for (phase, secs) in [
                (Phase::Preparation, planned.preparation_secs),
                (Phase::Active, planned.active_secs),
                (Phase::Integration, planned.integration_secs),
            ] {
                let until_ms = (at_ms + i64::from(secs) * 1000).min(end_ms);
                if until_ms > at_ms {
                    spans.push((phase, at_ms, until_ms));
                }
                at_ms = until_ms;
            }
        }
        Self {
            start_ms,
            end_ms,
            spans,
        }
    }

    pub fn secs(&self, at_ms: f64) -> f64 {
        (at_ms - self.start_ms as f64) / 1000.0
    }

    pub fn secs_of(&self, at_ms: i64) -> f64 {
        self.secs(at_ms as f64)
    }

    /// The phase running at `at_ms` (before the first phase: the first; after: the last).
    pub fn phase_at(&self, at_ms: i64) -> Phase {
        self.spans
            .iter()
            .rev()
            .find(|(_, start, _)| *start <= at_ms)
            .or(self.spans.first())
            .map_or(Phase::Preparation, |(phase, _, _)| *phase)
    }

    /// The first span of `phase`: `(start_ms, end_ms)`.
    pub fn span(&self, phase: Phase) -> Option<(i64, i64)> {
        self.spans
            .iter()
            .find(|(candidate, _, _)| *candidate == phase)
            .map(|(_, start, end)| (*start, *end))
    }
}

fn newest_data_ms(data: &SessionData) -> i64 {
    let participants = data.participants.iter().flat_map(|participant| {
        let metric = participant.metrics.last().map(|row| row.at_ms);
        let beat = participant.beats.last_ms.map(|ms| ms.ceil() as i64);
        metric.into_iter().chain(beat)
    });
    let rounds = data.synchrony.iter().map(|round| round.at_ms);
    let phases = data.session.phase_changes.iter().map(|change| change.at_ms);
    participants
        .chain(rounds)
        .chain(phases)
        .max()
        .unwrap_or(data.session.started_at_ms)
}

/// Mean of the values, `None` when there are none.
pub(crate) fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0_u64), |(sum, count), value| (sum + value, count + 1));
    (count > 0).then(|| sum / count as f64)
}
