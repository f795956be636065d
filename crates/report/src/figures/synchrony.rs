//! Synchrony over time against its surrogate (chance) level.
//!
//! The chance level of the session is the 95th percentile (numpy linear) of all its rounds'
//! surrogate indices; the share of active-phase rounds whose real index is strictly above it
//! says how much of the practice the room spent in synchrony that chance rarely produces.

use super::{Timeline, mean};
use crate::input::{Phase, SessionData};
use crate::report::{PhaseSynchrony, SynchronyFigures, SynchronyPoint};
use crate::stats::quantile_linear;

pub(super) fn synchrony(data: &SessionData, timeline: &Timeline) -> SynchronyFigures {
    let mut rounds: Vec<SynchronyPoint> = data
        .synchrony
        .iter()
        .filter(|round| round.index.is_finite() && round.surrogate_index.is_finite())
        .map(|round| SynchronyPoint {
            at_secs: timeline.secs_of(round.at_ms),
            phase: timeline.phase_at(round.at_ms),
            participants: round.participants,
            index: round.index,
            surrogate_index: round.surrogate_index,
        })
        .collect();
    rounds.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    let surrogates: Vec<f64> = rounds.iter().map(|round| round.surrogate_index).collect();
    let surrogate_p95 = quantile_linear(&surrogates, 0.95);
    let active: Vec<&SynchronyPoint> = rounds
        .iter()
        .filter(|round| round.phase == Phase::Active)
        .collect();
    let above = surrogate_p95.map_or(0, |level| {
        active.iter().filter(|round| round.index > level).count()
    });
    let by_phase = timeline
        .spans
        .iter()
        .map(|&(phase, _, _)| {
            let in_phase = || rounds.iter().filter(move |round| round.phase == phase);
            PhaseSynchrony {
                phase,
                rounds: u32::try_from(in_phase().count()).unwrap_or(u32::MAX),
                mean_index: mean(in_phase().map(|round| round.index)),
                mean_surrogate_index: mean(in_phase().map(|round| round.surrogate_index)),
            }
        })
        .collect();
    SynchronyFigures {
        surrogate_p95,
        active_rounds: u32::try_from(active.len()).unwrap_or(u32::MAX),
        active_rounds_above_surrogate_p95: u32::try_from(above).unwrap_or(u32::MAX),
        active_share_above_surrogate_p95: (!active.is_empty())
            .then(|| above as f64 / active.len() as f64),
        by_phase,
        rounds,
    }
}
