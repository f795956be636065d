//! Breathing rates behind the scores, and how close the room came to the pacer.
//!
//! A score's breathing rate is `60 × peak_hz` of its 64 s window (coherence.md §2), so it is
//! only compared with a pacer setting whose span holds that whole window: scores in the
//! first 64 s after a change still reflect the previous rate.

use super::Timeline;
use super::coherence::counts;
use crate::input::{MetricRow, SessionData};
use crate::report::{BreathingBin, BreathingFigures, PacerFigures, PacerSpan, PhaseBreathing};
use crate::stats::{median, quantile_linear};

/// The coherence peak band, 0.04–0.26 Hz, is 2.4–15.6 breaths per minute.
const HISTOGRAM_FROM_PER_MIN: f64 = 2.0;
const HISTOGRAM_TO_PER_MIN: f64 = 16.0;
const WINDOW_MS: i64 = 64_000;

pub(super) fn breathing(data: &SessionData, timeline: &Timeline) -> BreathingFigures {
    let rows: Vec<&MetricRow> = data
        .participants
        .iter()
        .flat_map(|participant| &participant.metrics)
        .filter(|row| counts(row) && row.breaths_per_min.is_some_and(f64::is_finite))
        .collect();
    let rate = |row: &&MetricRow| row.breaths_per_min.unwrap_or(f64::NAN);
    let rates: Vec<f64> = rows.iter().map(rate).collect();
    let bins = (HISTOGRAM_TO_PER_MIN - HISTOGRAM_FROM_PER_MIN) as usize;
    let mut histogram: Vec<BreathingBin> = (0..bins)
        .map(|bin| BreathingBin {
            from_per_min: HISTOGRAM_FROM_PER_MIN + bin as f64,
            to_per_min: HISTOGRAM_FROM_PER_MIN + bin as f64 + 1.0,
            scores: 0,
        })
        .collect();
    let mut outside_histogram = 0;
    for &value in &rates {
        let offset = value - HISTOGRAM_FROM_PER_MIN;
        if (0.0..(bins as f64)).contains(&offset) {
            histogram[offset.floor() as usize].scores += 1;
        } else {
            outside_histogram += 1;
        }
    }
    let by_phase = timeline
        .spans
        .iter()
        .map(|&(phase, _, _)| {
            let in_phase: Vec<f64> = rows
                .iter()
                .filter(|row| timeline.phase_at(row.at_ms) == phase)
                .map(rate)
                .collect();
            PhaseBreathing {
                phase,
                scores: in_phase.len() as u64,
                median_per_min: median(&in_phase),
            }
        })
        .collect();
    BreathingFigures {
        scores: rates.len() as u64,
        median_per_min: median(&rates),
        q1_per_min: quantile_linear(&rates, 0.25),
        q3_per_min: quantile_linear(&rates, 0.75),
        histogram,
        outside_histogram,
        by_phase,
        pacer: pacer(data, timeline, &rows),
    }
}

fn pacer(data: &SessionData, timeline: &Timeline, rows: &[&MetricRow]) -> PacerFigures {
    let mut settings = data.pacer.clone();
    settings.sort_by_key(|setting| setting.at_ms);
    let mut spans = Vec::new();
    let mut all_distances = Vec::new();
    for (index, setting) in settings.iter().enumerate() {
        let Some(pacer_rate) = setting.breaths_per_min.filter(|rate| rate.is_finite()) else {
            continue;
        };
        let start_ms = setting.at_ms.max(timeline.start_ms);
        let end_ms = settings
            .get(index + 1)
            .map_or(timeline.end_ms, |next| next.at_ms)
            .min(timeline.end_ms);
        if end_ms <= start_ms {
            continue;
        }
        let rates: Vec<f64> = rows
            .iter()
            .filter(|row| row.at_ms >= start_ms + WINDOW_MS && row.at_ms < end_ms)
            .filter_map(|row| row.breaths_per_min)
            .collect();
        let distances: Vec<f64> = rates.iter().map(|rate| (rate - pacer_rate).abs()).collect();
        all_distances.extend_from_slice(&distances);
        spans.push(PacerSpan {
            start_secs: timeline.secs_of(start_ms),
            end_secs: timeline.secs_of(end_ms),
            breaths_per_min: pacer_rate,
            scores: rates.len() as u64,
            median_breaths_per_min: median(&rates),
            median_distance_per_min: median(&distances),
            share_within_one_per_min: share_within_one(&distances),
        });
    }
    PacerFigures {
        spans,
        scores: all_distances.len() as u64,
        median_distance_per_min: median(&all_distances),
        share_within_one_per_min: share_within_one(&all_distances),
    }
}

fn share_within_one(distances: &[f64]) -> Option<f64> {
    (!distances.is_empty()).then(|| {
        distances
            .iter()
            .filter(|distance| **distance <= 1.0)
            .count() as f64
            / distances.len() as f64
    })
}
