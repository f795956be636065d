//! The figures of a report, on sessions built as data: what counts, where the windows fall,
//! who is compared, and what the statistics say.

use synchub_protocol::CoherencePhase;
use synchub_report::{
    BeatCoverage, ExclusionReason, PacerSetting, Phase, Quality, Report, StrengthPoint,
    SynchronyRound, WindowKind,
};

use crate::util::{T0_MS, participant, score, scores, session};

#[test]
fn only_fresh_scores_that_are_not_low_quality_count_in_the_group() {
    let mut data = session(60, 120, 0);
    let mut low = score(10.0, 20.0);
    low.quality = Quality::Low;
    data.participants = vec![
        participant(1, vec![score(10.0, 70.0)]),
        participant(2, vec![low]),
    ];
    let report = Report::build(&data, 1);
    let at = |secs: f64| {
        *report
            .coherence
            .series
            .iter()
            .find(|point| point.at_secs == secs)
            .expect("grid point")
    };
    assert_eq!(at(5.0).active, 0, "before any score");
    assert_eq!((at(10.0).active, at(10.0).mean), (1, Some(70.0)));
    assert_eq!(
        (at(25.0).active, at(25.0).high),
        (1, 1),
        "15 s old is still fresh"
    );
    assert_eq!(
        (at(30.0).active, at(30.0).mean),
        (0, None),
        "20 s old is stale"
    );
    assert_eq!(report.coherence.series.len(), 37, "0 to 180 s every 5 s");
}

#[test]
fn quartiles_and_bands_follow_numpy_and_the_thresholds() {
    let mut data = session(0, 60, 0);
    data.participants = [10.0, 39.9, 40.0, 60.0]
        .into_iter()
        .enumerate()
        .map(|(index, value)| participant(index as u32 + 1, vec![score(5.0, value)]))
        .collect();
    let report = Report::build(&data, 1);
    let point = report.coherence.series[1];
    assert_eq!(point.at_secs, 5.0);
    let close = |value: Option<f64>, expected: f64| {
        assert!(
            (value.expect("someone active") - expected).abs() < 1e-12,
            "{value:?} vs {expected}"
        );
    };
    close(point.q1, 32.425);
    close(point.median, 39.95);
    close(point.q3, 45.0);
    assert_eq!((point.low, point.medium, point.high), (2, 1, 1));
}

#[test]
fn time_in_band_adds_up_to_each_phase_and_the_peak_needs_half_the_room() {
    let mut data = session(60, 120, 60);
    // Slot 1 alone scores 95 early in the preparation; later everyone is around 50-70.
    let mut lonely = vec![score(10.0, 95.0)];
    lonely.extend(scores(60, 240, |secs| 40.0 + secs / 10.0));
    data.participants = vec![
        participant(1, lonely),
        participant(2, scores(60, 240, |secs| 45.0 + secs / 10.0)),
    ];
    let report = Report::build(&data, 1);
    let peak = report.coherence.peak.expect("a peak");
    assert_eq!(
        peak.min_active, 1,
        "half of the most active (2), rounded up"
    );
    // The lonely 95 is still the highest point and one participant is enough here; with three
    // participants the bar would be two.
    assert_eq!(
        (peak.at_secs, peak.mean, peak.band),
        (10.0, 95.0, CoherencePhase::High)
    );
    data.participants
        .push(participant(3, scores(60, 240, |_| 50.0)));
    let report = Report::build(&data, 1);
    let peak = report.coherence.peak.expect("a peak");
    assert_eq!(peak.min_active, 2);
    assert_eq!(peak.phase, Phase::Integration);
    for bands in &report.coherence.time_in_band {
        let points = report
            .coherence
            .series
            .iter()
            .filter(|point| point.phase == bands.phase)
            .count() as f64;
        let secs = bands.group_secs;
        assert_eq!(
            secs.low + secs.medium + secs.high + secs.no_data,
            points * 5.0
        );
    }
    let active = report.coherence.time_in_band[1];
    assert_eq!(active.phase, Phase::Active);
    assert_eq!(active.group_secs.no_data, 0.0);
}

#[test]
fn baseline_is_the_preparation_when_it_lasts_two_minutes() {
    let mut data = session(120, 600, 60);
    // Everyone rises by 10 points except slot 4, who only arrives in the active phase.
    data.participants = (1..=8)
        .map(|slot| {
            let offset = f64::from(slot);
            participant(
                slot,
                scores(0, 780, move |secs| {
                    if secs < 420.0 {
                        30.0 + offset
                    } else {
                        40.0 + offset * 1.5
                    }
                }),
            )
        })
        .collect();
    data.participants[3]
        .metrics
        .retain(|row| row.at_ms >= T0_MS + 120_000);
    let report = Report::build(&data, 1);
    let windows = report.change.windows.expect("windows");
    assert_eq!(windows.baseline.kind, WindowKind::Preparation);
    assert_eq!(
        (windows.baseline.start_secs, windows.baseline.end_secs),
        (0.0, 120.0)
    );
    assert_eq!(windows.end.kind, WindowKind::LastFiveMinutesOfActive);
    assert_eq!(
        (windows.end.start_secs, windows.end.end_secs),
        (420.0, 720.0)
    );
    let coherence = &report.change.coherence;
    assert_eq!(coherence.participants.len(), 7);
    assert_eq!(coherence.excluded.len(), 1);
    assert_eq!(coherence.excluded[0].slot, 4);
    assert_eq!(
        coherence.excluded[0].reason,
        ExclusionReason::TooLittleBaselineData
    );
    // Changes 10 + slot/2 for slots 1, 2, 3, 5, 6, 7, 8: median at slot 5.
    assert_eq!(coherence.median_change, Some(12.5));
    let test = coherence.test.as_ref().expect("a test");
    assert_eq!(test.pairs, 7);
    assert_eq!(test.rank_biserial, 1.0);
    assert_eq!(test.p_value, 2.0 / 128.0, "exact: all 7 up");
    let interval = coherence.median_change_ci.expect("an interval");
    assert!(
        interval.low <= 12.5 && 12.5 <= interval.high,
        "{interval:?}"
    );
    assert!(
        interval.low >= 10.5 && interval.high <= 14.0,
        "{interval:?}"
    );
}

#[test]
fn a_short_preparation_moves_the_baseline_into_the_active_phase() {
    let mut data = session(30, 360, 0);
    data.participants = vec![participant(1, scores(0, 390, |secs| secs / 10.0))];
    let report = Report::build(&data, 1);
    let windows = report.change.windows.expect("windows");
    assert_eq!(windows.baseline.kind, WindowKind::FirstTwoMinutesOfActive);
    assert_eq!(
        (windows.baseline.start_secs, windows.baseline.end_secs),
        (30.0, 150.0)
    );
    // 6 minutes of active: the last 5 would overlap the baseline, so the end is what follows it.
    assert_eq!(windows.end.kind, WindowKind::ActiveAfterBaseline);
    assert_eq!(
        (windows.end.start_secs, windows.end.end_secs),
        (150.0, 390.0)
    );
    let change = report.change.coherence.participants[0];
    assert!((change.baseline - 8.75).abs() < 1e-9, "{change:?}");
    assert!((change.end - 26.75).abs() < 1e-9, "{change:?}");
    // One participant: a change but nothing to test across participants beyond n = 1.
    assert_eq!(
        report.change.coherence.test.as_ref().map(|t| t.pairs),
        Some(1)
    );
}

#[test]
fn without_an_active_phase_there_is_nothing_to_compare() {
    let mut data = session(300, 0, 0);
    data.participants = vec![participant(1, scores(0, 300, |_| 50.0))];
    let report = Report::build(&data, 1);
    assert_eq!(report.change.windows, None);
    assert!(report.change.coherence.participants.is_empty());
    assert_eq!(report.change.coherence.test, None);
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let mut data = session(120, 600, 0);
    data.participants = (1..=12)
        .map(|slot| {
            let wobble = f64::from(slot) * 0.7 + f64::from(slot % 3);
            participant(
                slot,
                scores(0, 720, move |secs| 30.0 + wobble + secs / 60.0 * wobble),
            )
        })
        .collect();
    let first = Report::build(&data, 42);
    assert_eq!(first.to_json(), Report::build(&data, 42).to_json());
    let other = Report::build(&data, 43);
    assert_eq!(other.seed, 43);
    assert_eq!(first.change.coherence.test, other.change.coherence.test);
    let median = first.change.coherence.median_change.expect("a median");
    for report in [&first, &other] {
        let interval = report
            .change
            .coherence
            .median_change_ci
            .expect("an interval");
        assert!(
            interval.low <= median && median <= interval.high,
            "{interval:?}"
        );
    }
}

#[test]
fn synchrony_above_chance_is_measured_against_the_surrogates_95th_percentile() {
    let mut data = session(60, 100, 0);
    // Surrogates 0.10, 0.11, ... 0.29 over 20 rounds, every 5 s from 60 s on... and before.
    data.synchrony = (0..32)
        .map(|round| SynchronyRound {
            at_ms: T0_MS + i64::from(round) * 5_000,
            participants: 3,
            index: if round >= 12 && round % 2 == 0 {
                0.5
            } else {
                0.1
            },
            surrogate_index: 0.1 + f64::from(round % 20) / 100.0,
        })
        .collect();
    let report = Report::build(&data, 1);
    let synchrony = &report.synchrony;
    let p95 = synchrony.surrogate_p95.expect("rounds");
    assert!(p95 > 0.27 && p95 < 0.29, "{p95}");
    assert_eq!(synchrony.active_rounds, 20, "60 s to 160 s");
    assert_eq!(synchrony.active_rounds_above_surrogate_p95, 10);
    assert_eq!(synchrony.active_share_above_surrogate_p95, Some(0.5));
    assert_eq!(synchrony.by_phase[0].rounds, 12);
}

#[test]
fn per_participant_synchrony_is_compared_like_coherence() {
    let mut data = session(120, 300, 0);
    data.participants = (1..=5)
        .map(|slot| {
            let mut p = participant(slot, scores(0, 420, |_| 50.0));
            p.synchrony_strength = (0..84)
                .map(|round| StrengthPoint {
                    at_ms: T0_MS + i64::from(round) * 5_000,
                    mean_strength: if round < 24 {
                        0.3
                    } else {
                        0.3 + f64::from(slot) / 20.0
                    },
                })
                .collect();
            p
        })
        .collect();
    // A score-only participant takes no part in synchrony and is not listed as excluded.
    data.participants
        .push(participant(6, scores(0, 420, |_| 50.0)));
    let report = Report::build(&data, 1);
    let synchrony = &report.change.synchrony;
    assert_eq!(synchrony.participants.len(), 5);
    assert!(synchrony.excluded.is_empty());
    assert!((synchrony.median_change.expect("median") - 0.15).abs() < 1e-12);
    assert_eq!(report.change.coherence.median_change, Some(0.0));
    assert_eq!(report.change.coherence.test, None, "no non-zero change");
}

#[test]
fn breathing_rates_fill_the_histogram_and_meet_the_pacer_after_one_window() {
    let mut data = session(0, 300, 0);
    let mut rows = scores(0, 300, |_| 70.0);
    for (index, row) in rows.iter_mut().enumerate() {
        // 6.0 before 100 s, then 6.5 — but ramping 8.0 in the first 64 s after the change.
        let secs = index as f64 * 5.0;
        row.breaths_per_min = Some(if secs < 100.0 {
            6.0
        } else if secs < 164.0 {
            8.0
        } else {
            6.5
        });
    }
    rows[0].breaths_per_min = Some(30.0);
    data.participants = vec![participant(1, rows)];
    data.pacer = vec![
        PacerSetting {
            at_ms: T0_MS,
            breaths_per_min: Some(6.0),
        },
        PacerSetting {
            at_ms: T0_MS + 100_000,
            breaths_per_min: Some(6.5),
        },
        PacerSetting {
            at_ms: T0_MS + 250_000,
            breaths_per_min: None,
        },
    ];
    let report = Report::build(&data, 1);
    let breathing = &report.breathing;
    assert_eq!(breathing.scores, 60);
    assert_eq!(breathing.outside_histogram, 1);
    let bin = |from: f64| {
        breathing
            .histogram
            .iter()
            .find(|b| b.from_per_min == from)
            .expect("bin")
            .scores
    };
    assert_eq!((bin(6.0), bin(8.0)), (19 + 27, 13));
    let pacer = &breathing.pacer;
    assert_eq!(
        pacer.spans.len(),
        2,
        "the switched-off span is not a pacer span"
    );
    // First span: scores from 64 s to 100 s (65..95 → 7 scores), all at 6.0.
    assert_eq!(
        (
            pacer.spans[0].scores,
            pacer.spans[0].median_distance_per_min
        ),
        (7, Some(0.0))
    );
    // Second: from 164 s to 250 s, all 6.5.
    assert_eq!(pacer.spans[1].scores, 17);
    assert_eq!(pacer.share_within_one_per_min, Some(1.0));
    assert!(
        Report::build(&session(0, 60, 0), 1)
            .breathing
            .pacer
            .spans
            .is_empty()
    );
}

#[test]
fn data_quality_counts_windows_against_the_time_with_beats_and_lists_gaps() {
    let mut data = session(0, 300, 0);
    let mut p = participant(1, scores(40, 300, |_| 50.0));
    let mut beat_times: Vec<f64> = (0..300).map(|s| (T0_MS + s * 1000) as f64).collect();
    beat_times.retain(|t| !(100_000.0..130_000.0).contains(&(t - T0_MS as f64)));
    p.beats = BeatCoverage::from_beat_times(&beat_times);
    p.metrics
        .retain(|row| !(100_000..160_000).contains(&(row.at_ms - T0_MS)));
    p.metrics[0].quality = Quality::Low;
    data.participants = vec![p];
    let report = Report::build(&data, 1);
    let slot = &report.quality[0];
    assert_eq!(slot.gaps.len(), 1);
    assert_eq!(
        (slot.gaps[0].start_secs, slot.gaps[0].length_secs),
        (99.0, 31.0)
    );
    assert_eq!(slot.data_secs, 299.0 - 31.0);
    assert_eq!(slot.expected_windows, 53);
    assert_eq!(slot.scored_windows, 40);
    assert_eq!(slot.low_quality_scores, 1);
    assert_eq!(slot.mean_artifact_fraction, Some(0.0));
}
