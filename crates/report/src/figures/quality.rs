//! Data quality per participant slot: what each person's figures stand on.

use std::collections::BTreeSet;

use super::{GRID_MS, Timeline, mean};
use crate::input::{BeatCoverage, Quality, ScoreSource, SessionData, gaps_between};
use crate::report::{GapSpan, SlotQuality};

pub(super) fn quality(data: &SessionData, timeline: &Timeline) -> Vec<SlotQuality> {
    data.participants
        .iter()
        .map(|participant| {
            let rows = &participant.metrics;
            let of_source = |source| rows.iter().filter(|row| row.source == source).count() as u64;
            // Score-only participants have no beats: their scores are their data.
            let coverage = if participant.beats.beats > 0 {
                participant.beats.clone()
            } else {
                let mut times: Vec<f64> = rows.iter().map(|row| row.at_ms as f64).collect();
                times.sort_by(f64::total_cmp);
                BeatCoverage {
                    beats: 0,
                    first_ms: times.first().copied(),
                    last_ms: times.last().copied(),
                    gaps: gaps_between(&times),
                }
            };
            let (from_ms, to_ms) = (timeline.start_ms as f64, timeline.end_ms as f64);
            let data_secs = coverage.data_ms_within(from_ms, to_ms) / 1000.0;
            let scored_windows = rows
                .iter()
                .map(|row| (row.at_ms - timeline.start_ms).div_euclid(GRID_MS))
                .collect::<BTreeSet<_>>()
                .len() as u64;
            SlotQuality {
                slot: participant.slot,
                source: participant.source,
                joined_secs: timeline.secs_of(participant.joined_at_ms),
                left_secs: participant.left_at_ms.map(|ms| timeline.secs_of(ms)),
                beats: participant.beats.beats,
                scores: rows.len() as u64,
                hub_scores: of_source(ScoreSource::Hub),
                client_scores: of_source(ScoreSource::Client),
                low_quality_scores: rows
                    .iter()
                    .filter(|row| row.quality == Quality::Low)
                    .count() as u64,
                mean_artifact_fraction: mean(
                    rows.iter()
                        .filter(|row| row.source == ScoreSource::Hub)
                        .filter_map(|row| row.artifact_fraction),
                ),
                data_secs,
                scored_windows,
                expected_windows: (data_secs / (GRID_MS as f64 / 1000.0)).floor() as u64,
                gaps: coverage
                    .gaps
                    .iter()
                    .filter(|gap| gap.end_ms > from_ms && gap.start_ms < to_ms)
                    .map(|gap| GapSpan {
                        start_secs: timeline.secs(gap.start_ms),
                        length_secs: gap.length_ms() / 1000.0,
                    })
                    .collect(),
            }
        })
        .collect()
}
