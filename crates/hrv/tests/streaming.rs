//! The live analyser: results every 5 s of beat time, warm-up from 32 s, rejected beats,
//! agreement with the whole-recording window, and bounded memory.

use synchub_hrv::clean::clean_beats;
use synchub_hrv::{
    Beat, BeatRejected, CoherenceAnalyzer, CoherenceWindow, InvalidRr, Quality, StreamConfig,
    StreamWorkspace, StreamingAnalyzer,
};

use crate::util::{beats, paced_sine, white_noise};

/// Push every beat, polling after each; returns the results in order.
fn run(
    analyzer: &mut StreamingAnalyzer,
    workspace: &mut StreamWorkspace,
    beats: &[Beat],
) -> Vec<CoherenceWindow> {
    let mut results = Vec::new();
    for &beat in beats {
        analyzer.push(beat, workspace).expect("beats in order");
        while let Some(result) = analyzer.poll_result(workspace) {
            results.push(result);
        }
    }
    results
}

#[test]
fn results_come_every_five_seconds_of_beat_time() {
    let beats = beats(&paced_sine(300.0));
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let results = run(&mut analyzer, &mut workspace, &beats);
    // Due every 5 s from the first result, each window ending at the first final beat at or
    // after its due time (beats here are 0.92–1.08 s apart).
    let first_end = results[0].end_secs;
    for (m, result) in results.iter().enumerate() {
        let due = first_end + 5.0 * m as f64;
        assert!(
            (due..due + 1.1).contains(&result.end_secs),
            "{m}: {result:?}"
        );
    }
    let span = results.last().unwrap().end_secs - first_end;
    assert!(span > 300.0 - 32.0 - 5.0 - 5.0 - 6.0, "{span}");
    assert_eq!(analyzer.latest(), results.last());
}

#[test]
fn warming_up_between_32_and_64_seconds() {
    let beats = beats(&paced_sine(200.0));
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let results = run(&mut analyzer, &mut workspace, &beats);
    let first_final = beats[0].time_secs;
    let first = results[0];
    // No score before 32 s of final beats; the first one right after.
    assert!(
        (32.0..33.1).contains(&(first.end_secs - first_final)),
        "{first:?}"
    );
    for result in &results {
        let span = result.end_secs - first_final;
        if span < 64.0 {
            assert_eq!(result.quality, Quality::WarmingUp, "{result:?}");
            assert_eq!(result.start_secs, first_final);
        } else {
            assert_eq!(result.quality, Quality::Good, "{result:?}");
            assert_eq!(result.end_secs - result.start_secs, 64.0);
        }
    }
    assert!(results.iter().any(|r| r.quality == Quality::WarmingUp));
    // Even half a window of paced breathing finds the rhythm.
    assert!((first.peak_hz - 0.1).abs() < 0.01, "{first:?}");
}

#[test]
fn out_of_order_and_invalid_beats_are_rejected_and_change_nothing() {
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let beat = |time_secs, rr_ms| Beat { time_secs, rr_ms };
    analyzer.push(beat(10.0, 800.0), &mut workspace).unwrap();
    assert_eq!(
        analyzer.push(beat(10.0, 800.0), &mut workspace),
        Err(BeatRejected::OutOfOrder {
            time_secs: 10.0,
            last_time_secs: 10.0
        })
    );
    assert_eq!(
        analyzer.push(beat(9.0, 800.0), &mut workspace),
        Err(BeatRejected::OutOfOrder {
            time_secs: 9.0,
            last_time_secs: 10.0
        })
    );
    assert_eq!(
        analyzer.push(beat(11.0, f64::NAN), &mut workspace),
        Err(BeatRejected::Invalid(InvalidRr::NotFinite))
    );
    assert_eq!(
        analyzer.push(beat(11.0, 0.0), &mut workspace),
        Err(BeatRejected::Invalid(InvalidRr::NotPositive { rr_ms: 0.0 }))
    );
    assert_eq!(
        analyzer.push(beat(f64::NAN, 800.0), &mut workspace),
        Err(BeatRejected::InvalidTime)
    );
    analyzer.push(beat(10.8, 800.0), &mut workspace).unwrap();
}

#[test]
fn a_full_streaming_window_equals_the_whole_recording_window() {
    // Cleaning on for the sine (nothing to correct), off for the noise (Gaussian tails look
    // like artifacts, and the live cleaner sees less look-ahead than the offline one).
    for (name, rr, clean) in [
        ("sine", paced_sine(200.0), true),
        ("noise", white_noise(200.0, 2), false),
    ] {
        let beats = beats(&rr);
        let config = StreamConfig {
            clean,
            ..StreamConfig::default()
        };
        let mut analyzer = StreamingAnalyzer::new(config);
        let mut workspace = StreamWorkspace::new();
        let results = run(&mut analyzer, &mut workspace, &beats);

        let cleaned = clean_beats(&beats);
        let cleaned = if clean {
            assert_eq!(
                cleaned.corrected, 0,
                "{name}: the comparison needs artifact-free beats"
            );
            cleaned
        } else {
            synchub_hrv::clean::CleanedBeats {
                artifact: vec![false; beats.len()],
                beats: beats.clone(),
                corrected: 0,
                detected: Vec::new(),
            }
        };
        let times: Vec<f64> = cleaned.beats.iter().map(|b| b.time_secs).collect();
        let rr_ms: Vec<f64> = cleaned.beats.iter().map(|b| b.rr_ms).collect();
        let mut whole = CoherenceAnalyzer::new();
        let full: Vec<_> = results
            .iter()
            .filter(|r| r.quality != Quality::WarmingUp)
            .collect();
        assert!(full.len() > 10);
        for live in full {
            let offline = whole
                .analyze_window(&times, &rr_ms, &cleaned.artifact, live.start_secs, 64.0)
                .unwrap();
            assert!(
                (live.score - offline.score).abs() < 1e-9,
                "{name}: {live:?} {offline:?}"
            );
            assert!((live.total_power_ms2 / offline.total_power_ms2 - 1.0).abs() < 1e-9);
            assert_eq!(live.peak_hz, offline.peak_hz);
            assert_eq!(live.quality, offline.quality);
        }
    }
}

#[test]
fn memory_stays_bounded_over_hours_of_beats() {
    let beats = beats(&white_noise(6.0 * 3600.0, 9));
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let mut most_held = 0;
    let mut results = 0;
    for &beat in &beats {
        analyzer.push(beat, &mut workspace).unwrap();
        while analyzer.poll_result(&mut workspace).is_some() {
            results += 1;
        }
        most_held = most_held.max(analyzer.held_beats());
    }
    // 66 s of beats at ~800 ms, whatever the duration.
    assert!(most_held < 100, "{most_held}");
    // One result per 5 s of beat time, from 32 s on (final beats lag by five beats).
    assert!(
        (6 * 3600 / 5 - 10..=6 * 3600 / 5).contains(&results),
        "{results}"
    );
}

#[test]
fn heart_rate_series_covers_only_what_the_beats_reach() {
    let beats = beats(&paced_sine(120.0));
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    run(&mut analyzer, &mut workspace, &beats);
    let last = analyzer.last_beat_time_secs().unwrap();
    let mut series = Vec::new();
    assert!(analyzer.heart_rate_series(last, 64.0, &mut series, &mut workspace));
    assert_eq!(series.len(), 256);
    // RR 920–1080 ms is 55.6–65.2 bpm.
    assert!(
        series.iter().all(|bpm| (55.0..66.0).contains(bpm)),
        "{series:?}"
    );
    assert!(!analyzer.heart_rate_series(last + 10.0, 64.0, &mut series, &mut workspace));
    assert!(series.is_empty());
    let time = analyzer.window_time_domain().unwrap();
    assert!((time.mean_rr_ms - 1000.0).abs() < 10.0, "{time:?}");
}

#[test]
fn live_cleaning_removes_missed_and_extra_beats() {
    // Every full window of the clean sine scores 89.2; with 1 % missed/extra beats and live
    // cleaning (5 beats of look-ahead), every full window stays within 5 points of that.
    let damaged = crate::behaviour::with_missed_and_extra_beats(&paced_sine(600.0), 1);
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let results = run(&mut analyzer, &mut workspace, &beats(&damaged));
    assert!(
        analyzer.artifacts_corrected() >= 5,
        "{}",
        analyzer.artifacts_corrected()
    );
    let full: Vec<_> = results
        .iter()
        .filter(|r| r.quality != Quality::WarmingUp)
        .collect();
    assert!(full.len() > 90);
    for result in full {
        assert!((result.score - 89.2).abs() <= 5.0, "{result:?}");
        assert!(result.artifact_fraction < 0.1);
    }
}

#[test]
fn a_shared_workspace_changes_no_result() {
    // The hub shares one workspace between every participant's analyser; interleaving two
    // participants through one workspace gives exactly what each gets with its own.
    let (sine, noise) = (beats(&paced_sine(200.0)), beats(&white_noise(200.0, 3)));
    let alone = |beats: &[Beat]| {
        let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
        let mut workspace = StreamWorkspace::new();
        let results = run(&mut analyzer, &mut workspace, beats);
        let mut series = Vec::new();
        let end = analyzer.last_beat_time_secs().unwrap();
        assert!(analyzer.heart_rate_series(end, 64.0, &mut series, &mut workspace));
        (results, series)
    };
    let mut shared = StreamWorkspace::new();
    let mut analyzers = [
        StreamingAnalyzer::new(StreamConfig::default()),
        StreamingAnalyzer::new(StreamConfig::default()),
    ];
    let mut results = [Vec::new(), Vec::new()];
    for (a, b) in sine.iter().zip(&noise) {
        for (k, beat) in [a, b].into_iter().enumerate() {
            analyzers[k].push(*beat, &mut shared).unwrap();
            while let Some(result) = analyzers[k].poll_result(&mut shared) {
                results[k].push(result);
            }
        }
    }
    for (k, beats) in [
        &sine[..sine.len().min(noise.len())],
        &noise[..sine.len().min(noise.len())],
    ]
    .into_iter()
    .enumerate()
    {
        let (expected, expected_series) = alone(beats);
        assert!(!expected.is_empty());
        assert_eq!(results[k], expected);
        let mut series = Vec::new();
        let end = analyzers[k].last_beat_time_secs().unwrap();
        assert!(analyzers[k].heart_rate_series(end, 64.0, &mut series, &mut shared));
        assert_eq!(series, expected_series);
    }
}

#[test]
fn at_enormous_beat_times_a_poll_still_yields_at_most_one_result_per_beat() {
    // At 1e17 s adjacent doubles are 16 s apart, so the 5 s result step vanishes in rounding;
    // the analyser must still move past each beat instead of yielding results forever.
    let mut analyzer = StreamingAnalyzer::new(StreamConfig {
        clean: false,
        ..StreamConfig::default()
    });
    let mut workspace = StreamWorkspace::new();
    let start = 1e17_f64;
    for k in 0..40_u32 {
        let beat = Beat {
            time_secs: start + 16.0 * f64::from(k),
            rr_ms: 1000.0,
        };
        analyzer.push(beat, &mut workspace).expect("beats in order");
        let results = std::iter::from_fn(|| analyzer.poll_result(&mut workspace))
            .take(3)
            .count();
        assert!(results <= 1, "beat {k}: {results} results from one beat");
    }
}
