//! Heart-rhythm signal processing for Sync Hub: artifact cleaning, classic HRV metrics,
//! HeartMath-style coherence and synchrony between participants.
//!
//! The crate is pure: it does no I/O, reads no clock and spawns nothing. Time comes in as beat
//! times (`f64` seconds on any origin the caller chooses) and results come out as values.
//! Every number it uses is fixed by the algorithm version [`ALGORITHM`]
//! (`synchub-coherence/1`); a change to any of them is a new version.
//!
//! # Roles
//!
//! - [`Beat`], [`validate_rr_ms`], [`beats_from_rr_ms`]: what a heartbeat is, which RR values
//!   can never be one, and the beats of a plain RR list.
//! - [`clean`]: artifact correction (Lipponen & Tarvainen 2019, as Kubios and NeuroKit2 do it):
//!   missed, extra, ectopic, long/short and impossible beats are corrected, never deleted.
//! - [`CoherenceAnalyzer`]: one coherence window (resample at 4 Hz with a not-a-knot cubic
//!   spline, detrend, Hann, 2048-point periodogram, peak ± 0.015 Hz against 0.0033–0.4 Hz).
//!   It owns its FFT plan and scratch buffers and allocates nothing per window.
//! - [`StreamingAnalyzer`]: one participant live: beats in, a result every 5 s of beat time
//!   out, with 5 beats of look-ahead for cleaning and bounded memory. It keeps only the
//!   participant's state (about 3 KiB); the FFT plan and every scratch buffer live in a
//!   [`StreamWorkspace`] that the caller shares between all its analysers.
//! - [`analyze_recording`], [`analyze_beats`]: whole recordings (cleaning, time and frequency
//!   domain, all coherence windows).
//! - [`time_domain()`], [`frequency_domain`]: classic HRV metrics (Task Force 1996).
//! - [`synchrony`]: synchrony between participants' heart rates.
//!
//! # Example
//!
//! ```
//! use synchub_hrv::{analyze_recording, CoherencePhase, RecordingOptions};
//!
//! // Five minutes of paced breathing at 6 breaths per minute: RR = 1000 + 80·sin(2π·0.1·t).
//! let mut rr_ms = Vec::new();
//! let mut t_secs = 0.0;
//! while t_secs < 300.0 {
//!     let rr = 1000.0 + 80.0 * (2.0 * std::f64::consts::PI * 0.1 * t_secs).sin();
//!     t_secs += rr / 1000.0;
//!     rr_ms.push(rr);
//! }
//! let report = analyze_recording(&rr_ms, &RecordingOptions::default()).unwrap();
//! assert_eq!(report.algorithm, "synchub-coherence/1");
//! let first = &report.windows[0];
//! assert!((first.peak_hz - 0.1).abs() <= 1.0 / 512.0);
//! assert_eq!(CoherencePhase::from_score(first.score), CoherencePhase::High);
//! assert!((first.breaths_per_min - 6.0).abs() < 0.2);
//! ```
//!
//! # Limits of the method
//!
//! - A 64 s window cannot see rhythms slower than 0.04 Hz (one cycle every 25 s needs more
//!   than two cycles in the window to be told apart from a trend); the peak search starts at
//!   0.04 Hz, and slower waves only count in the total power, pulling the score down.
//! - LF/HF and the other frequency-domain metrics need at least 2 minutes of beats
//!   ([`frequency_domain`] returns `None` below 120 s); shorter recordings get time-domain
//!   metrics only.
//! - Optical (PPG) sensors report pulse-to-pulse intervals that the device has smoothed and
//!   that lag the electrical beat; their beat-to-beat variability (RMSSD, HF power) is
//!   underestimated and artifact detection sees fewer artifacts than there were.
//! - The score measures how much of the variability sits in one narrow peak; it does not know
//!   why. Slow paced breathing produces it, and so can anything else that drives a regular
//!   0.04–0.26 Hz rhythm.
//! - Cleaning corrects isolated artifacts; long runs of bad beats or gaps are not invented
//!   back. They show as `artifact_fraction > 0.2` or `coverage < 0.8`, and the window is then
//!   [`Quality::Low`].
//! - The coherence ratio is reported unsquared (`peak / (total − peak)`); a secondary source
//!   quotes HeartMath's published ratio squared.

mod beat;
pub mod clean;
mod coherence;
mod frequency;
mod recording;
mod spectrum;
mod spline;
mod stream;
pub mod synchrony;
mod time_domain;

pub use beat::{Beat, InvalidRr, MAX_RR_MS, beats_from_rr_ms, validate_rr_ms};
pub use coherence::{
    CoherenceAnalyzer, CoherencePhase, CoherenceWindow, Quality, SAMPLE_RATE_HZ, SPECTRUM_POINTS,
};
pub use frequency::{FrequencyDomain, MIN_FREQUENCY_DOMAIN_SECS, frequency_domain};
pub use recording::{
    AnalysisError, RecordingOptions, RecordingReport, analyze_beats, analyze_recording,
};
pub use stream::{BeatRejected, StreamConfig, StreamWorkspace, StreamingAnalyzer};
pub use time_domain::{TimeDomain, time_domain};

/// The version of every number in this crate; stored with every score.
pub const ALGORITHM: &str = "synchub-coherence/1";
