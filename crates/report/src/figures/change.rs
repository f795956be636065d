//! Change from baseline: per participant, mean coherence (and mean pairwise synchrony
//! strength) in a baseline window vs. the end of the active phase, and across participants
//! the median change with a seeded bootstrap interval, the Wilcoxon signed-rank test and the
//! rank-biserial effect size.
//!
//! Windows: the baseline is the preparation phase when it lasted at least 2 minutes,
//! otherwise the first 2 minutes of the active phase; the end window is the last 5 minutes of
//! the active phase, or the whole active phase when shorter — but never overlapping a baseline
//! taken from the active phase (then it is the active phase after the baseline).

use std::collections::BTreeSet;

use super::coherence::counts;
use super::{GRID_MS, Timeline, mean};
use crate::input::{Phase, SessionData};
use crate::report::{
    ChangeFigures, ChangeStats, ChangeWindows, Excluded, ExclusionReason, GroupSynchronyChange,
    ParticipantChange, Window, WindowKind,
};
use crate::stats::{BOOTSTRAP_RESAMPLES, median, seeded_median_interval, wilcoxon_signed_rank};

const BASELINE_MS: i64 = 120_000;
const END_MS: i64 = 300_000;
/// A participant is compared only with scores in at least this many distinct 5 s slots of
/// each window (30 s of data).
const MIN_COVERED_SLOTS: usize = 6;
const CONFIDENCE_LEVEL: f64 = 0.95;

pub(super) fn change(data: &SessionData, timeline: &Timeline, seed: u64) -> ChangeFigures {
    let Some((baseline_span, end_span)) = windows(timeline) else {
        return ChangeFigures {
            windows: None,
            min_covered_secs: min_covered_secs(),
            coherence: compare((Vec::new(), Vec::new()), seed),
            synchrony: compare((Vec::new(), Vec::new()), seed),
            group_synchrony: None,
        };
    };
    let (baseline, end) = ((baseline_span.0, baseline_span.1), (end_span.0, end_span.1));
    let coherence = data
        .participants
        .iter()
        .map(|participant| {
            let values = |window: (i64, i64)| {
                participant
                    .metrics
                    .iter()
                    .filter(|row| counts(row) && inside(row.at_ms, window))
                    .map(|row| (row.at_ms, row.score))
                    .collect::<Vec<_>>()
            };
            (participant.slot, values(baseline), values(end))
        })
        .collect::<Vec<_>>();
    let synchrony = data
        .participants
        .iter()
        .map(|participant| {
            let values = |window: (i64, i64)| {
                participant
                    .synchrony_strength
                    .iter()
                    .filter(|point| point.mean_strength.is_finite() && inside(point.at_ms, window))
                    .map(|point| (point.at_ms, point.mean_strength))
                    .collect::<Vec<_>>()
            };
            (participant.slot, values(baseline), values(end))
        })
        // Participants who never took part in a synchrony round are not "excluded": they had
        // no beats for the hub to compare (score-only clients).
        .filter(|(_, before, after)| !before.is_empty() || !after.is_empty())
        .collect::<Vec<_>>();
    let rounds_in = |window: (i64, i64)| {
        data.synchrony
            .iter()
            .filter(move |round| inside(round.at_ms, window))
    };
    let count = |window| u32::try_from(rounds_in(window).count()).unwrap_or(u32::MAX);
    let group_synchrony = (!data.synchrony.is_empty()).then(|| GroupSynchronyChange {
        baseline_rounds: count(baseline),
        end_rounds: count(end),
        baseline_mean_index: mean(rounds_in(baseline).map(|round| round.index)),
        end_mean_index: mean(rounds_in(end).map(|round| round.index)),
        baseline_mean_surrogate_index: mean(rounds_in(baseline).map(|r| r.surrogate_index)),
        end_mean_surrogate_index: mean(rounds_in(end).map(|r| r.surrogate_index)),
    });
    ChangeFigures {
        windows: Some(ChangeWindows {
            baseline: Window {
                kind: baseline_span.2,
                start_secs: timeline.secs_of(baseline.0),
                end_secs: timeline.secs_of(baseline.1),
            },
            end: Window {
                kind: end_span.2,
                start_secs: timeline.secs_of(end.0),
                end_secs: timeline.secs_of(end.1),
            },
        }),
        min_covered_secs: min_covered_secs(),
        coherence: compare(per_participant(coherence, baseline, end), seed),
        // A different stream of draws, so the two intervals are independent.
        synchrony: compare(
            per_participant(synchrony, baseline, end),
            seed.wrapping_add(1),
        ),
        group_synchrony,
    }
}

fn min_covered_secs() -> f64 {
    (MIN_COVERED_SLOTS as i64 * GRID_MS) as f64 / 1000.0
}

fn inside(at_ms: i64, (start, end): (i64, i64)) -> bool {
    start <= at_ms && at_ms < end
}

/// `(start_ms, end_ms, kind)` of a window.
type Span = (i64, i64, WindowKind);

fn windows(timeline: &Timeline) -> Option<(Span, Span)> {
    let (active_start, active_end) = timeline.span(Phase::Active)?;
    let preparation = timeline
        .span(Phase::Preparation)
        .filter(|(start, end)| end - start >= BASELINE_MS);
    let (baseline, end) = match preparation {
        Some((start, end)) => {
            let baseline = (start, end, WindowKind::Preparation);
            let end = if active_end - active_start > END_MS {
                (
                    active_end - END_MS,
                    active_end,
                    WindowKind::LastFiveMinutesOfActive,
                )
            } else {
                (active_start, active_end, WindowKind::WholeActive)
            };
            (baseline, end)
        }
        None => {
            let baseline_end = (active_start + BASELINE_MS).min(active_end);
            let baseline = (
                active_start,
                baseline_end,
                WindowKind::FirstTwoMinutesOfActive,
            );
            let end = if active_end - END_MS >= baseline_end {
                (
                    active_end - END_MS,
                    active_end,
                    WindowKind::LastFiveMinutesOfActive,
                )
            } else {
                (baseline_end, active_end, WindowKind::ActiveAfterBaseline)
            };
            (baseline, end)
        }
    };
    (baseline.0 < baseline.1 && end.0 < end.1).then_some((baseline, end))
}

type Samples = Vec<(u32, Vec<(i64, f64)>, Vec<(i64, f64)>)>;

fn per_participant(
    samples: Samples,
    baseline: (i64, i64),
    end: (i64, i64),
) -> (Vec<ParticipantChange>, Vec<Excluded>) {
    let mut compared = Vec::new();
    let mut excluded = Vec::new();
    for (slot, before, after) in samples {
        let enough_before = covered_slots(&before, baseline) >= needed_slots(baseline);
        let enough_after = covered_slots(&after, end) >= needed_slots(end);
        let reason = match (enough_before, enough_after) {
            (true, true) => None,
            (false, true) => Some(ExclusionReason::TooLittleBaselineData),
            (true, false) => Some(ExclusionReason::TooLittleEndData),
            (false, false) => Some(ExclusionReason::TooLittleDataInBoth),
        };
        match (
            reason,
            mean(before.iter().map(|v| v.1)),
            mean(after.iter().map(|v| v.1)),
        ) {
            (None, Some(baseline_mean), Some(end_mean)) => compared.push(ParticipantChange {
                slot,
                baseline: baseline_mean,
                end: end_mean,
                change: end_mean - baseline_mean,
            }),
            (reason, _, _) => excluded.push(Excluded {
                slot,
                reason: reason.unwrap_or(ExclusionReason::TooLittleDataInBoth),
            }),
        }
    }
    (compared, excluded)
}

/// Distinct 5 s slots of the window with at least one value.
fn covered_slots(values: &[(i64, f64)], (start, _): (i64, i64)) -> usize {
    values
        .iter()
        .map(|(at_ms, _)| (at_ms - start) / GRID_MS)
        .collect::<BTreeSet<_>>()
        .len()
}

/// Six slots, or every slot of a window shorter than 30 s.
fn needed_slots((start, end): (i64, i64)) -> usize {
    let slots = usize::try_from((end - start).div_euclid(GRID_MS).max(1)).unwrap_or(1);
    MIN_COVERED_SLOTS.min(slots)
}

fn compare(
    (participants, excluded): (Vec<ParticipantChange>, Vec<Excluded>),
    seed: u64,
) -> ChangeStats {
    let changes: Vec<f64> = participants.iter().map(|p| p.change).collect();
    ChangeStats {
        median_change: median(&changes),
        median_change_ci: seeded_median_interval(
            &changes,
            BOOTSTRAP_RESAMPLES,
            seed,
            CONFIDENCE_LEVEL,
        ),
        bootstrap_resamples: BOOTSTRAP_RESAMPLES as u32,
        test: wilcoxon_signed_rank(&changes),
        participants,
        excluded,
    }
}
