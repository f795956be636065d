//! Whole recordings: validate, clean, and report time domain, frequency domain and every
//! coherence window, for files and for the end-of-session report.

use crate::beat::beats_from_rr_ms;
use crate::clean::clean_beats;
use crate::coherence::{CoherenceAnalyzer, CoherenceWindow};
use crate::frequency::{FrequencyDomain, frequency_domain};
use crate::time_domain::{TimeDomain, time_domain};
use crate::{ALGORITHM, Beat, InvalidRr, validate_rr_ms};

/// Most windows one report holds: 11 days at 5 s steps. Bounds the work an absurd time
/// column can ask for.
const MAX_WINDOWS: usize = 200_000;

/// How to analyse a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordingOptions {
    /// Correct artifacts first (coherence.md §1). Off: analyse the raw intervals.
    pub clean: bool,
    /// Coherence window length, seconds (64).
    pub window_secs: f64,
    /// Distance between window starts, seconds (5).
    pub step_secs: f64,
}

impl Default for RecordingOptions {
    fn default() -> Self {
        Self {
            clean: true,
            window_secs: 64.0,
            step_secs: 5.0,
        }
    }
}

/// Everything the crate says about one recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingReport {
    /// [`ALGORITHM`].
    pub algorithm: &'static str,
    /// Beats given as input (before correction).
    pub beats: usize,
    /// `t_last − t_0` of the analysed (corrected) beats, seconds.
    pub duration_secs: f64,
    /// Analysed beats touched by a correction / analysed beats (0 without cleaning).
    pub artifact_fraction: f64,
    /// Time domain over all analysed beats.
    pub time: TimeDomain,
    /// Frequency domain; `None` below 120 s.
    pub frequency: Option<FrequencyDomain>,
    /// Windows `S_m = t_0 + step·m` for `m = 0, 1, …` while `S_m + window ≤ t_last`.
    pub windows: Vec<CoherenceWindow>,
    /// Mean score over all windows (low-quality ones included: this is the recording's own
    /// figure, not a group average).
    pub mean_score: f64,
    /// Mean ratio over all windows.
    pub mean_ratio: f64,
}

/// Why a recording could not be analysed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// An interval that can never be a heartbeat.
    #[error("beat {index}: {reason}")]
    InvalidRr {
        /// Position of the beat in the input.
        index: usize,
        /// The rejected value.
        rr_ms: f64,
        /// Why it was rejected.
        reason: InvalidRr,
    },
    /// A beat time that is not finite or not after the previous beat's.
    #[error("beat {index}: time {time_secs} s is not finite or not after the previous beat")]
    InvalidTime {
        /// Position of the beat in the input.
        index: usize,
        /// The rejected time.
        time_secs: f64,
    },
    /// Not even one full coherence window.
    #[error("recording lasts {duration_secs} s, a coherence window needs {needed_secs} s")]
    TooShort {
        /// `t_last − t_0`, seconds (0 with fewer than two beats).
        duration_secs: f64,
        /// The window length.
        needed_secs: f64,
    },
    /// Window or step out of range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

/// Analyse an RR list (times from the cumulative sum).
pub fn analyze_recording(
    rr_ms: &[f64],
    options: &RecordingOptions,
) -> Result<RecordingReport, AnalysisError> {
    // Validate before summing so that the error names the bad value, not a NaN time.
    for (index, &rr) in rr_ms.iter().enumerate() {
        validate_rr_ms(rr).map_err(|reason| AnalysisError::InvalidRr {
            index,
            rr_ms: rr,
            reason,
        })?;
    }
    analyze_beats(&beats_from_rr_ms(rr_ms), options)
}

/// Analyse beats with explicit times (e.g. a CSV time column); times must increase strictly.
pub fn analyze_beats(
    beats: &[Beat],
    options: &RecordingOptions,
) -> Result<RecordingReport, AnalysisError> {
    check_options(options)?;
    let mut previous_time = f64::NEG_INFINITY;
    for (index, beat) in beats.iter().enumerate() {
        validate_rr_ms(beat.rr_ms).map_err(|reason| AnalysisError::InvalidRr {
            index,
            rr_ms: beat.rr_ms,
            reason,
        })?;
        if !beat.time_secs.is_finite() || beat.time_secs <= previous_time {
            return Err(AnalysisError::InvalidTime {
                index,
                time_secs: beat.time_secs,
            });
        }
        previous_time = beat.time_secs;
    }

    let (analysed, artifact) = if options.clean {
        let cleaned = clean_beats(beats);
        (cleaned.beats, cleaned.artifact)
    } else {
        (beats.to_vec(), vec![false; beats.len()])
    };
    let too_short = |duration_secs: f64| AnalysisError::TooShort {
        duration_secs,
        needed_secs: options.window_secs,
    };
    let (Some(first), Some(last)) = (analysed.first(), analysed.last()) else {
        return Err(too_short(0.0));
    };
    let (t_0, t_last) = (first.time_secs, last.time_secs);
    let duration_secs = t_last - t_0;
    let times_secs: Vec<f64> = analysed.iter().map(|b| b.time_secs).collect();
    let rr_ms: Vec<f64> = analysed.iter().map(|b| b.rr_ms).collect();
    let time = time_domain(&rr_ms).ok_or_else(|| too_short(duration_secs))?;
    let window_count = ((duration_secs - options.window_secs) / options.step_secs).floor() + 1.0;
    if window_count > MAX_WINDOWS as f64 {
        return Err(AnalysisError::InvalidOptions(format!(
            "{window_count} windows is more than the {MAX_WINDOWS} a report holds; \
             analyse the recording in parts or with a larger step"
        )));
    }

    let mut analyzer = CoherenceAnalyzer::new();
    let mut windows = Vec::new();
    for m in 0..MAX_WINDOWS {
        let start_secs = t_0 + options.step_secs * m as f64;
        if start_secs + options.window_secs > t_last {
            break;
        }
        if let Some(window) = analyzer.analyze_window(
            &times_secs,
            &rr_ms,
            &artifact,
            start_secs,
            options.window_secs,
        ) {
            windows.push(window);
        }
    }
    if windows.is_empty() {
        return Err(too_short(duration_secs));
    }
    let count = windows.len() as f64;
    let mean_score = windows.iter().map(|w| w.score).sum::<f64>() / count;
    let mean_ratio = windows.iter().map(|w| w.ratio).sum::<f64>() / count;
    let corrected = artifact.iter().filter(|&&a| a).count();

    Ok(RecordingReport {
        algorithm: ALGORITHM,
        beats: beats.len(),
        duration_secs,
        artifact_fraction: corrected as f64 / analysed.len() as f64,
        time,
        frequency: frequency_domain(&analysed),
        windows,
        mean_score,
        mean_ratio,
    })
}

fn check_options(options: &RecordingOptions) -> Result<(), AnalysisError> {
    // The 2048-point spectrum holds at most 512 s at 4 Hz; below 2 s there is no rhythm.
    if !(2.0..=512.0).contains(&options.window_secs) {
        return Err(AnalysisError::InvalidOptions(format!(
            "window_secs must be within 2..=512, got {}",
            options.window_secs
        )));
    }
    // Steps below one sample would only repeat windows.
    if !(options.step_secs.is_finite() && options.step_secs >= 0.25) {
        return Err(AnalysisError::InvalidOptions(format!(
            "step_secs must be at least 0.25, got {}",
            options.step_secs
        )));
    }
    Ok(())
}
