//! The group's coherence over time, recomputed on a 5 s grid from the stored scores.
//!
//! At each grid point every participant's latest score counts when it is fresh (at most 15 s
//! old) and not low quality — the live engine's rule (coherence.md §5) — so the curve is the
//! one the room saw, with quartiles the live engine never sent.

use synchub_protocol::CoherencePhase;

use super::{FRESH_MS, GRID_MS, Timeline};
use crate::bands::band_of;
use crate::input::{MetricRow, Quality, SessionData};
use crate::report::{BandSecs, BandShares, CoherenceFigures, GroupPoint, PeakMoment, PhaseBands};
use crate::stats::quantile_of_sorted;

pub(super) fn coherence(data: &SessionData, timeline: &Timeline) -> CoherenceFigures {
    let series = group_series(data, timeline);
    CoherenceFigures {
        grid_secs: GRID_MS as f64 / 1000.0,
        fresh_secs: FRESH_MS as f64 / 1000.0,
        time_in_band: time_in_band(&series, timeline),
        peak: peak(&series),
        mean_of_group_means: super::mean(series.iter().filter_map(|point| point.mean)),
        series,
    }
}

/// A score that can count in the group (low-quality scores never do).
pub(crate) fn counts(row: &MetricRow) -> bool {
    row.quality != Quality::Low && row.score.is_finite()
}

fn group_series(data: &SessionData, timeline: &Timeline) -> Vec<GroupPoint> {
    // One cursor per participant into their time-ordered scores: O(grid + scores) each.
    let mut cursors = vec![0_usize; data.participants.len()];
    let mut scores = Vec::with_capacity(data.participants.len());
    let mut series = Vec::new();
    let mut at_ms = timeline.start_ms;
    while at_ms <= timeline.end_ms {
        scores.clear();
        for (participant, cursor) in data.participants.iter().zip(cursors.iter_mut()) {
            let rows = &participant.metrics;
            while *cursor < rows.len() && rows[*cursor].at_ms <= at_ms {
                *cursor += 1;
            }
            if let Some(latest) = cursor.checked_sub(1).map(|index| &rows[index])
                && at_ms - latest.at_ms <= FRESH_MS
                && counts(latest)
            {
                scores.push(latest.score);
            }
        }
        series.push(point(timeline, at_ms, &mut scores));
        at_ms += GRID_MS;
    }
    series
}

fn point(timeline: &Timeline, at_ms: i64, scores: &mut [f64]) -> GroupPoint {
    scores.sort_by(f64::total_cmp);
    let (mut low, mut medium, mut high) = (0, 0, 0);
    for &score in scores.iter() {
        match band_of(score) {
            CoherencePhase::Low => low += 1,
            CoherencePhase::Medium => medium += 1,
            CoherencePhase::High => high += 1,
        }
    }
    let any = !scores.is_empty();
    GroupPoint {
        at_secs: timeline.secs_of(at_ms),
        phase: timeline.phase_at(at_ms),
        active: u32::try_from(scores.len()).unwrap_or(u32::MAX),
        mean: super::mean(scores.iter().copied()),
        median: any.then(|| quantile_of_sorted(scores, 0.5)),
        q1: any.then(|| quantile_of_sorted(scores, 0.25)),
        q3: any.then(|| quantile_of_sorted(scores, 0.75)),
        low,
        medium,
        high,
    }
}

fn time_in_band(series: &[GroupPoint], timeline: &Timeline) -> Vec<PhaseBands> {
    let step_secs = GRID_MS as f64 / 1000.0;
    timeline
        .spans
        .iter()
        .map(|&(phase, _, _)| {
            let mut group_secs = BandSecs::default();
            let (mut low, mut medium, mut high) = (0_u64, 0_u64, 0_u64);
            for point in series.iter().filter(|point| point.phase == phase) {
                match point.mean.map(band_of) {
                    Some(CoherencePhase::Low) => group_secs.low += step_secs,
                    Some(CoherencePhase::Medium) => group_secs.medium += step_secs,
                    Some(CoherencePhase::High) => group_secs.high += step_secs,
                    None => group_secs.no_data += step_secs,
                }
                low += u64::from(point.low);
                medium += u64::from(point.medium);
                high += u64::from(point.high);
            }
            let total = (low + medium + high) as f64;
            PhaseBands {
                phase,
                group_secs,
                participant_share: (total > 0.0).then(|| BandShares {
                    low: low as f64 / total,
                    medium: medium as f64 / total,
                    high: high as f64 / total,
                }),
            }
        })
        .collect()
}

fn peak(series: &[GroupPoint]) -> Option<PeakMoment> {
    let most_active = series.iter().map(|point| point.active).max()?;
    let min_active = most_active.div_ceil(2).max(1);
    let mut best: Option<(&GroupPoint, f64)> = None;
    for point in series.iter().filter(|point| point.active >= min_active) {
        if let Some(mean) = point.mean
            && best.is_none_or(|(_, best_mean)| mean > best_mean)
        {
            best = Some((point, mean));
        }
    }
    best.map(|(point, mean)| PeakMoment {
        at_secs: point.at_secs,
        phase: point.phase,
        mean,
        band: band_of(mean),
        active: point.active,
        min_active,
    })
}
