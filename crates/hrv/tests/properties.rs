//! Properties over arbitrary input: nothing panics, invalid values are rejected with their
//! reason, and valid results stay in range.

use proptest::prelude::*;
use synchub_hrv::clean::clean_beats;
use synchub_hrv::{
    AnalysisError, Beat, BeatRejected, CoherenceAnalyzer, RecordingOptions, StreamConfig,
    StreamWorkspace, StreamingAnalyzer, analyze_beats, analyze_recording, time_domain,
    validate_rr_ms,
};

/// Any f64 at all, with the awkward ones over-represented.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(60_000.0),
        Just(60_000.000_001),
        -1e6..1e6f64,
        any::<f64>(),
    ]
}

/// Plausible-looking RR values with occasional artifacts.
fn rr_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 600.0..1200.0f64,
        1 => 100.0..400.0f64,
        1 => 1500.0..5000.0f64,
    ]
}

fn check_window_ranges(score: f64, ratio: f64, fraction: f64, coverage: f64) {
    assert!((0.0..=100.0).contains(&score), "score {score}");
    assert!(ratio >= 0.0 && ratio.is_finite(), "ratio {ratio}");
    assert!((0.0..=1.0).contains(&fraction));
    assert!((0.0..=1.0).contains(&coverage));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn recordings_never_panic_and_name_the_first_invalid_value(
        rr in prop::collection::vec(any_value(), 0..300),
    ) {
        let result = analyze_recording(&rr, &RecordingOptions::default());
        match rr.iter().position(|&v| validate_rr_ms(v).is_err()) {
            Some(index) => match result {
                Err(AnalysisError::InvalidRr { index: reported, reason, .. }) => {
                    prop_assert_eq!(reported, index);
                    prop_assert_eq!(Err(reason), validate_rr_ms(rr[index]));
                }
                other => prop_assert!(false, "expected InvalidRr at {}, got {:?}", index, other),
            },
            None => {
                if let Ok(report) = result {
                    for w in &report.windows {
                        check_window_ranges(w.score, w.ratio, w.artifact_fraction, w.coverage);
                    }
                }
            }
        }
    }

    #[test]
    fn valid_recordings_of_any_shape_give_results_in_range(
        rr in prop::collection::vec(rr_value(), 0..400),
        clean in any::<bool>(),
    ) {
        let options = RecordingOptions { clean, ..RecordingOptions::default() };
        match analyze_recording(&rr, &options) {
            Ok(report) => {
                prop_assert!(!report.windows.is_empty());
                for w in &report.windows {
                    check_window_ranges(w.score, w.ratio, w.artifact_fraction, w.coverage);
                    prop_assert!((0.04..=0.26).contains(&w.peak_hz));
                }
                prop_assert!(report.time.sdnn_ms.is_finite());
            }
            Err(AnalysisError::TooShort { .. }) => {}
            Err(other) => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn cleaning_keeps_time_order_and_plausible_intervals(
        rr in prop::collection::vec(rr_value(), 0..400),
    ) {
        let beats = synchub_hrv::beats_from_rr_ms(&rr);
        let cleaned = clean_beats(&beats);
        prop_assert_eq!(cleaned.artifact.len(), cleaned.beats.len());
        prop_assert_eq!(cleaned.corrected, cleaned.detected.len());
        for pair in cleaned.beats.windows(2) {
            prop_assert!(pair[1].time_secs > pair[0].time_secs, "{:?}", pair);
        }
        if cleaned.beats.len() > 1 {
            for beat in &cleaned.beats {
                prop_assert!(beat.rr_ms > 0.0 && beat.rr_ms.is_finite(), "{:?}", beat);
            }
        }
    }

    #[test]
    fn explicit_beats_never_panic(
        beats in prop::collection::vec((any_value(), any_value()), 0..200),
    ) {
        let beats: Vec<Beat> = beats
            .into_iter()
            .map(|(time_secs, rr_ms)| Beat { time_secs, rr_ms })
            .collect();
        let _ = analyze_beats(&beats, &RecordingOptions::default());
        let _ = clean_beats(&beats);
        let times: Vec<f64> = beats.iter().map(|b| b.time_secs).collect();
        let rr: Vec<f64> = beats.iter().map(|b| b.rr_ms).collect();
        let _ = time_domain(&rr);
        let mut analyzer = CoherenceAnalyzer::new();
        for start in [f64::NAN, 0.0, -1e300, times.first().copied().unwrap_or(0.0)] {
            for window in [64.0, 0.0, -1.0, f64::INFINITY, 1e9, 33.3] {
                if let Some(w) = analyzer.analyze_window(&times, &rr, &[], start, window) {
                    check_window_ranges(w.score, w.ratio, w.artifact_fraction, w.coverage);
                }
            }
        }
    }

    #[test]
    fn streams_never_panic_and_reject_with_the_reason(
        beats in prop::collection::vec((any_value(), any_value()), 0..300),
        clean in any::<bool>(),
    ) {
        let mut analyzer = StreamingAnalyzer::new(StreamConfig { clean, ..StreamConfig::default() });
        let mut workspace = StreamWorkspace::new();
        let mut last: Option<f64> = None;
        for (time_secs, rr_ms) in beats {
            let result = analyzer.push(Beat { time_secs, rr_ms }, &mut workspace);
            match (validate_rr_ms(rr_ms), result) {
                (Err(reason), Err(rejected)) => prop_assert_eq!(rejected, BeatRejected::Invalid(reason)),
                (Err(reason), Ok(())) => prop_assert!(false, "accepted invalid {:?}", reason),
                (Ok(()), Ok(())) => {
                    prop_assert!(time_secs.is_finite() && last.is_none_or(|l| time_secs > l));
                    last = Some(time_secs);
                }
                (Ok(()), Err(_)) => {
                    prop_assert!(!time_secs.is_finite() || last.is_some_and(|l| time_secs <= l));
                }
            }
            while let Some(w) = analyzer.poll_result(&mut workspace) {
                check_window_ranges(w.score, w.ratio, w.artifact_fraction, w.coverage);
            }
        }
        let mut series = Vec::new();
        let _ = analyzer.heart_rate_series(last.unwrap_or(0.0), 64.0, &mut series, &mut workspace);
        let _ = analyzer.window_time_domain();
    }

    #[test]
    fn streams_of_plausible_beats_give_results_in_range(
        rr in prop::collection::vec(rr_value(), 0..400),
    ) {
        let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
        let mut workspace = StreamWorkspace::new();
        for beat in synchub_hrv::beats_from_rr_ms(&rr) {
            prop_assert_eq!(analyzer.push(beat, &mut workspace), Ok(()));
            while let Some(w) = analyzer.poll_result(&mut workspace) {
                check_window_ranges(w.score, w.ratio, w.artifact_fraction, w.coverage);
            }
            prop_assert!(analyzer.held_beats() < 400);
        }
    }
}
