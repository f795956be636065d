//! One participant live (coherence.md §1–2): beats go in as they arrive, a coherence result
//! comes out every 5 s of beat time over the last 64 s, with bounded memory.
//!
//! Cleaning needs look-ahead, so a beat becomes final once 5 later beats have arrived; every
//! result is computed on final beats only and ends at the newest one (`S = t_final − 64`).
//! Between 32 and 64 s of final beats the result covers what there is and is marked
//! [`Quality::WarmingUp`]. Memory is the last window plus a margin, in ring buffers, so an
//! analyser can run for days.
//!
//! A hub runs one analyser per participant, thousands of them, so an analyser keeps only what
//! must persist between beats: the held beats, the cleaner's history and look-ahead, the
//! schedule of results and the latest result (about 3 KiB for a normal heart rate). The FFT
//! plan, the spectrum, the spline and the cleaning features are only needed while a beat is
//! decided or a window computed; they live in one [`StreamWorkspace`] that the caller owns and
//! passes in, one per engine (or per thread) rather than one per participant (they were about
//! 110 KiB per analyser when each analyser owned them).

use std::collections::VecDeque;

use crate::clean::{CleaningScratch, StreamingCleaner};
use crate::coherence::{CoherenceAnalyzer, CoherenceWindow, Quality, SAMPLE_RATE_HZ, WINDOW_KNOTS};
use crate::spline::CubicSpline;
use crate::time_domain::{TimeDomain, time_domain_of};
use crate::{Beat, InvalidRr, validate_rr_ms};

/// Beats kept beyond the window, seconds: one knot before the window start is always kept on
/// top of this.
const MARGIN_SECS: f64 = 2.0;
/// Hard bound on beats held, whatever the input: 64 s of beats at 250 ms is 256, so this only
/// matters with cleaning off and absurd input.
const MAX_HELD_BEATS: usize = 4096;

/// How a participant's stream is analysed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamConfig {
    /// Window length, seconds (64).
    pub window_secs: f64,
    /// Beat time between results, seconds (5).
    pub step_secs: f64,
    /// Final beats needed before the first (warming-up) result, seconds (32).
    pub warmup_secs: f64,
    /// Correct artifacts (5 beats of look-ahead).
    pub clean: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            window_secs: 64.0,
            step_secs: 5.0,
            warmup_secs: 32.0,
            clean: true,
        }
    }
}

/// Why a beat was not accepted. Rejected beats change nothing.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum BeatRejected {
    /// The RR value can never be a heartbeat.
    #[error(transparent)]
    Invalid(InvalidRr),
    /// Not after the previous beat (duplicates included).
    #[error("beat at {time_secs} s is not after the previous beat at {last_time_secs} s")]
    OutOfOrder {
        /// The rejected beat's time.
        time_secs: f64,
        /// The newest accepted beat's time.
        last_time_secs: f64,
    },
    /// The beat time is NaN or infinite.
    #[error("beat time is not a finite number")]
    InvalidTime,
}

/// The working space of live analysis, shared by any number of [`StreamingAnalyzer`]s: the
/// coherence window's FFT plan and buffers ([`CoherenceAnalyzer`]), the cleaning features, and
/// the spline of [`StreamingAnalyzer::heart_rate_series`]. Nothing in it outlives one call, so
/// which workspace a call gets changes no result. Own one per engine (or per thread) and pass
/// it to every analyser's [`StreamingAnalyzer::push`], [`StreamingAnalyzer::poll_result`] and
/// [`StreamingAnalyzer::heart_rate_series`]; it is about 130 KiB, and once it has seen a
/// window it allocates nothing more.
#[derive(Debug)]
pub struct StreamWorkspace {
    coherence: CoherenceAnalyzer,
    cleaning: CleaningScratch,
    spline: CubicSpline,
    knots_x: Vec<f64>,
    knots_y: Vec<f64>,
}

impl Default for StreamWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamWorkspace {
    /// Plans the FFT and sizes the buffers for a 64 s window.
    pub fn new() -> Self {
        Self {
            coherence: CoherenceAnalyzer::new(),
            cleaning: CleaningScratch::default(),
            spline: CubicSpline::with_capacity(WINDOW_KNOTS),
            knots_x: Vec::with_capacity(WINDOW_KNOTS),
            knots_y: Vec::with_capacity(WINDOW_KNOTS),
        }
    }
}

/// Live analysis of one participant's beats. It holds the participant's state only; the
/// working space of a computation is a [`StreamWorkspace`] passed to each call.
#[derive(Debug)]
pub struct StreamingAnalyzer {
    config: StreamConfig,
    cleaner: Option<StreamingCleaner>,
    // Final beats, oldest first.
    times_secs: VecDeque<f64>,
    rr_ms: VecDeque<f64>,
    artifact: VecDeque<bool>,
    last_pushed_secs: Option<f64>,
    first_final_secs: Option<f64>,
    next_due_secs: Option<f64>,
    latest: Option<CoherenceWindow>,
}

impl StreamingAnalyzer {
    /// A fresh analyser. Out-of-range settings are brought into range (window 2..=512 s, step
    /// and warm-up at least one sample, warm-up at most the window).
    pub fn new(config: StreamConfig) -> Self {
        let finite_or = |value: f64, default: f64| if value.is_finite() { value } else { default };
        let window_secs = finite_or(config.window_secs, 64.0).clamp(2.0, 512.0);
        let config = StreamConfig {
            window_secs,
            step_secs: finite_or(config.step_secs, 5.0).max(1.0 / SAMPLE_RATE_HZ),
            warmup_secs: finite_or(config.warmup_secs, 32.0).clamp(2.0, window_secs),
            clean: config.clean,
        };
        // Room for the window and margin at 120 bpm; a faster heart grows the buffers once
        // (they never shrink), so the steady state still allocates nothing.
        let capacity = ((window_secs + MARGIN_SECS) * 2.0) as usize + 8;
        Self {
            config,
            cleaner: config.clean.then(StreamingCleaner::new),
            times_secs: VecDeque::with_capacity(capacity),
            rr_ms: VecDeque::with_capacity(capacity),
            artifact: VecDeque::with_capacity(capacity),
            last_pushed_secs: None,
            first_final_secs: None,
            next_due_secs: None,
            latest: None,
        }
    }

    /// The configuration in use (after bringing it into range).
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Beats must come in time order; duplicates/out-of-order beats are rejected, not
    /// panicked on. `workspace` is scratch for the cleaning decisions (any workspace will do).
    pub fn push(
        &mut self,
        beat: Beat,
        workspace: &mut StreamWorkspace,
    ) -> Result<(), BeatRejected> {
        validate_rr_ms(beat.rr_ms).map_err(BeatRejected::Invalid)?;
        if !beat.time_secs.is_finite() {
            return Err(BeatRejected::InvalidTime);
        }
        if let Some(last_time_secs) = self.last_pushed_secs
            && beat.time_secs <= last_time_secs
        {
            return Err(BeatRejected::OutOfOrder {
                time_secs: beat.time_secs,
                last_time_secs,
            });
        }
        self.last_pushed_secs = Some(beat.time_secs);
        match &mut self.cleaner {
            Some(cleaner) => {
                cleaner.push(beat);
                while let Some((final_beat, corrected)) = cleaner.pop_final(&mut workspace.cleaning)
                {
                    Self::hold(
                        &mut self.times_secs,
                        &mut self.rr_ms,
                        &mut self.artifact,
                        final_beat,
                        corrected,
                    );
                }
            }
            None => Self::hold(
                &mut self.times_secs,
                &mut self.rr_ms,
                &mut self.artifact,
                beat,
                false,
            ),
        }
        if self.first_final_secs.is_none() {
            self.first_final_secs = self.times_secs.front().copied();
        }
        self.forget_old_beats();
        Ok(())
    }

    fn hold(
        times_secs: &mut VecDeque<f64>,
        rr_ms: &mut VecDeque<f64>,
        artifact: &mut VecDeque<bool>,
        beat: Beat,
        corrected: bool,
    ) {
        // Corrections can move a beat's time by a fraction of an interval; never let the held
        // series go backwards.
        if times_secs
            .back()
            .is_some_and(|&last| beat.time_secs <= last)
        {
            return;
        }
        times_secs.push_back(beat.time_secs);
        rr_ms.push_back(beat.rr_ms);
        artifact.push_back(corrected);
    }

    /// Keep one beat at or before `t_final − window − margin` and everything after it.
    fn forget_old_beats(&mut self) {
        let Some(&newest) = self.times_secs.back() else {
            return;
        };
        let keep_from = newest - self.config.window_secs - MARGIN_SECS;
        while self.times_secs.len() > MAX_HELD_BEATS
            || (self.times_secs.len() > 2 && self.times_secs[1] <= keep_from)
        {
            self.times_secs.pop_front();
            self.rr_ms.pop_front();
            self.artifact.pop_front();
        }
    }

    /// Call after pushing: returns a result each time the newest final beat's time has
    /// advanced by `step_secs` (on a fixed grid from the first result: on average exactly one
    /// result per `step_secs` of beat time), warming-up results once `warmup_secs` of final
    /// beats exist, full windows from `window_secs`. Returns at most one result per call;
    /// call until `None`. The window is computed in `workspace` (any workspace will do).
    pub fn poll_result(&mut self, workspace: &mut StreamWorkspace) -> Option<CoherenceWindow> {
        let final_secs = *self.times_secs.back()?;
        let first_secs = self.first_final_secs?;
        let span_secs = final_secs - first_secs;
        if span_secs < self.config.warmup_secs {
            return None;
        }
        if self.next_due_secs.is_some_and(|due| final_secs < due) {
            return None;
        }
        // Results are due on a fixed 5 s grid of beat time (so a participant yields 12 per
        // minute whatever their heart rate); each window ends at the first final beat at or
        // after its due time. After a gap, the missed steps are skipped, not replayed. The
        // step counts as taken even if the window cannot be computed, so a bad stretch is
        // retried one step later rather than at every beat.
        let step = self.config.step_secs;
        let mut next_due = self.next_due_secs.unwrap_or(final_secs) + step;
        if next_due <= final_secs {
            next_due += ((final_secs - next_due) / step).floor() * step + step;
        }
        if next_due <= final_secs {
            // Beat times so large that a step is lost in rounding (beyond ~4.5e16 s): still move
            // past this beat, so a poll never yields more than one result per new beat.
            next_due = final_secs.next_up();
        }
        self.next_due_secs = Some(next_due);
        let warming_up = span_secs < self.config.window_secs;
        let (start_secs, window_secs) = if warming_up {
            (first_secs, span_secs)
        } else {
            (
                final_secs - self.config.window_secs,
                self.config.window_secs,
            )
        };
        let times = self.times_secs.make_contiguous();
        let rr = self.rr_ms.make_contiguous();
        let artifact = self.artifact.make_contiguous();
        let mut window =
            workspace
                .coherence
                .analyze_window(times, rr, artifact, start_secs, window_secs)?;
        if warming_up && window.quality == Quality::Good {
            window.quality = Quality::WarmingUp;
        }
        self.latest = Some(window);
        Some(window)
    }

    /// The most recent result.
    pub fn latest(&self) -> Option<&CoherenceWindow> {
        self.latest.as_ref()
    }

    /// Time domain over the final beats of the latest result's window (read in place:
    /// nothing is allocated).
    pub fn window_time_domain(&self) -> Option<TimeDomain> {
        let window = self.latest.as_ref()?;
        // Held beats are sorted by time, so the window's beats are one range.
        let first = self.times_secs.partition_point(|&t| t < window.start_secs);
        let end = self.times_secs.partition_point(|&t| t <= window.end_secs);
        time_domain_of(self.rr_ms.range(first..end.max(first)).copied())
    }

    /// Instantaneous heart rate (bpm, `60 000 / rr`) of the final beats, resampled at 4 Hz
    /// with the same not-a-knot spline on `g_n = end − window + n/4` for `n/4 < window`, into
    /// `out` (cleared first). False, with `out` empty, when the held beats do not reach from
    /// at or before the first grid point to at or after the last. The spline is fitted in
    /// `workspace` (any workspace will do), so a call allocates nothing once `out` and the
    /// workspace have grown to the window.
    pub fn heart_rate_series(
        &self,
        end_secs: f64,
        window_secs: f64,
        out: &mut Vec<f64>,
        workspace: &mut StreamWorkspace,
    ) -> bool {
        out.clear();
        if !end_secs.is_finite() || !window_secs.is_finite() || window_secs <= 0.0 {
            return false;
        }
        let samples = (window_secs * SAMPLE_RATE_HZ - 1e-9).ceil().max(1.0);
        if samples > 1e6 {
            return false;
        }
        let samples = samples as usize;
        let start_secs = end_secs - window_secs;
        let last_grid_offset = (samples - 1) as f64 / SAMPLE_RATE_HZ;
        let times = &self.times_secs;
        let after_first = times.partition_point(|&t| t <= start_secs);
        let Some(first) = after_first.checked_sub(1) else {
            return false;
        };
        let last = times.partition_point(|&t| t - start_secs < last_grid_offset);
        if last >= times.len() {
            return false;
        }
        let StreamWorkspace {
            spline,
            knots_x,
            knots_y,
            ..
        } = workspace;
        knots_x.clear();
        knots_y.clear();
        knots_x.extend((first..=last).map(|i| times[i] - start_secs));
        knots_y.extend((first..=last).map(|i| 60_000.0 / self.rr_ms[i]));
        if !spline.fit(knots_x, knots_y) {
            return false;
        }
        out.resize(samples, 0.0);
        spline.evaluate_grid(0.0, 1.0 / SAMPLE_RATE_HZ, out);
        true
    }

    /// Time of the newest final beat (the newest beat cleaning will no longer change).
    pub fn last_beat_time_secs(&self) -> Option<f64> {
        self.times_secs.back().copied()
    }

    /// Artifacts cleaning has corrected since the start (0 with cleaning off).
    pub fn artifacts_corrected(&self) -> usize {
        self.cleaner.as_ref().map_or(0, StreamingCleaner::detected)
    }

    /// Final beats currently held (bounded by the window plus a margin).
    pub fn held_beats(&self) -> usize {
        self.times_secs.len()
    }
}
