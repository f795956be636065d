//! Synthetic heartbeats that look like people: one deterministic RR stream per simulated
//! participant, with a coherence profile.
//!
//! The hub's analysis must see what it would see from a real room, otherwise a demo shows
//! nothing and a load test measures the wrong work. So the stream is built from the parts a real
//! tachogram is made of:
//!
//! - **respiratory sinus arrhythmia**: RR follows the breath; at about 6 breaths per minute the
//!   baroreflex resonates and this rhythm dominates (that is what coherence measures);
//! - **broadband wander**: three slow random processes (time constants 4 s, 15 s, 45 s) that
//!   give the 1/f-like drift of a restless, talking, shifting person;
//! - a weak **Mayer wave** near 0.1 Hz that is always there;
//! - **beat-to-beat jitter**;
//! - for [`Profile::Irregular`], **artifacts**: missed beats (two intervals merged), extra beats
//!   (one interval split) and ectopic beats (a premature beat and its compensatory pause).
//!
//! Everything is drawn from one seed: the same seed gives the same participant and the same
//! beats, and different seeds give participants with different heart rates, variability and
//! breathing.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How a simulated participant's heart rhythm behaves over a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Restless at first, then over a few minutes settles into paced breathing near 6 breaths
    /// per minute: coherence rises from low to high.
    Settling,
    /// Paced breathing at 5.5–6.5 breaths per minute from the start: high coherence.
    Coherent,
    /// Broadband wander and fast breathing (16.5–22 per minute): low coherence.
    Restless,
    /// Coherent breathing with occasional missed, extra and ectopic beats, to exercise the
    /// hub's artifact cleaning.
    Irregular,
}

impl Profile {
    /// Every profile, in declaration order.
    pub const ALL: [Profile; 4] = [
        Profile::Settling,
        Profile::Coherent,
        Profile::Restless,
        Profile::Irregular,
    ];

    /// The profile of participant `index` in a mixed room: half settle, a sixth each are
    /// coherent, restless and irregular, spread so that any prefix of the room is mixed too.
    pub fn for_mixed_room(index: usize) -> Profile {
        const ORDER: [Profile; 6] = [
            Profile::Settling,
            Profile::Restless,
            Profile::Coherent,
            Profile::Settling,
            Profile::Irregular,
            Profile::Settling,
        ];
        ORDER[index % ORDER.len()]
    }

    /// Lower-case name, as the command line spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Settling => "settling",
            Profile::Coherent => "coherent",
            Profile::Restless => "restless",
            Profile::Irregular => "irregular",
        }
    }
}

/// One participant's physiology, drawn from the seed (see [`ParticipantParams::draw`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticipantParams {
    /// Resting mean RR interval (60 000 / heart rate), ms.
    pub mean_rr_ms: f64,
    /// Multiplies every variability amplitude: some people have much more HRV than others.
    pub variability_scale: f64,
    /// Breathing rate when restless, breaths per minute (above the coherence peak search).
    pub restless_breaths_per_min: f64,
    /// Breathing rate when coherent, breaths per minute.
    pub coherent_breaths_per_min: f64,
    /// [`Profile::Settling`]: how long the participant stays restless before settling, s.
    pub settle_start_secs: f64,
    /// [`Profile::Settling`]: how long the transition from restless to coherent takes, s.
    pub settle_secs: f64,
    /// [`Profile::Irregular`]: probability that a beat is an artifact.
    pub artifact_probability: f64,
}

impl ParticipantParams {
    /// Draws a plausible adult at rest: heart rate 56–90 bpm, variability ×0.6–1.4, restless
    /// breathing 16.5–22 per minute, coherent breathing 5.5–6.5 per minute, restless for
    /// 50–100 s then settling over 90–240 s, 0.5–1.5 % artifacts.
    pub fn draw(rng: &mut impl Rng) -> Self {
        let heart_rate_bpm = rng.random_range(56.0..90.0);
        ParticipantParams {
            mean_rr_ms: 60_000.0 / heart_rate_bpm,
            variability_scale: rng.random_range(0.6..1.4),
            restless_breaths_per_min: rng.random_range(16.5..22.0),
            coherent_breaths_per_min: rng.random_range(5.5..6.5),
            settle_start_secs: rng.random_range(50.0..100.0),
            settle_secs: rng.random_range(90.0..240.0),
            artifact_probability: rng.random_range(0.005..0.015),
        }
    }

    /// When a [`Profile::Settling`] participant is fully settled, s from the stream start.
    pub fn settled_at_secs(&self) -> f64 {
        self.settle_start_secs + self.settle_secs
    }
}

/// A slow random process (Ornstein–Uhlenbeck, sampled at each beat) with a stationary
/// standard deviation of 1: the building block of the broadband wander.
#[derive(Debug, Clone, Copy)]
struct Wander {
    value: f64,
    time_constant_secs: f64,
}

impl Wander {
    fn step(&mut self, dt_secs: f64, rng: &mut SmallRng) {
        let decay = (-dt_secs / self.time_constant_secs).exp();
        self.value = self.value * decay + (1.0 - decay * decay).sqrt() * standard_normal(rng);
    }
}

/// A standard normal draw (Box–Muller): one function instead of another dependency.
fn standard_normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln never sees 0
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// Smooth 0 → 1 ramp over `[0, 1]` (zero slope at both ends, like a person settling).
fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

fn lerp(from: f64, to: f64, amount: f64) -> f64 {
    from + (to - from) * amount
}

/// Amplitudes (ms, before `variability_scale`) at the restless (0) and coherent (1) ends.
const RSA_AMPLITUDE_MS: (f64, f64) = (12.0, 70.0);
const WANDER_AMPLITUDE: (f64, f64) = (1.0, 0.4);
/// Stationary standard deviations of the three wander processes at full wander, ms.
const WANDER_SIGMA_MS: [f64; 3] = [28.0, 22.0, 20.0];
const WANDER_TIME_CONSTANTS_SECS: [f64; 3] = [4.0, 15.0, 45.0];
const JITTER_MS: (f64, f64) = (14.0, 10.0);
const MAYER_AMPLITUDE_MS: f64 = 6.0;
/// Breathing is never perfectly regular: its rate wanders by this much (breaths per minute)
/// at the restless and coherent ends.
const BREATH_RATE_WANDER_PER_MIN: (f64, f64) = (1.5, 0.12);
/// Relaxation slows the heart a little.
const SETTLED_RR_LENGTHENING: f64 = 0.05;
const MIN_RR_MS: f64 = 300.0;
const MAX_RR_MS: f64 = 2000.0;

/// A deterministic stream of RR intervals for one participant.
///
/// Time starts at 0 when the stream is created; beat `i` ends at the sum of the first `i + 1`
/// intervals (the convention of `coherence.md`). [`RrStream::next_beat`] yields beats one by
/// one; [`RrStream::beats_until`] yields the beats that have ended by a given time, which is how
/// a live client batches them by wall-clock second.
///
/// ```
/// use synchub_sim::rr::{Profile, RrStream};
///
/// let mut stream = RrStream::new(Profile::Coherent, 7);
/// let mut batch = Vec::new();
/// stream.beats_until(10.0, &mut batch);
/// assert!(batch.len() >= 8 && batch.len() <= 16);
/// assert!(batch.iter().all(|rr_ms| (300.0..=2000.0).contains(rr_ms)));
/// // Same seed, same beats.
/// let mut twin = RrStream::new(Profile::Coherent, 7);
/// assert_eq!(twin.next_beat(), batch[0]);
/// ```
#[derive(Debug, Clone)]
pub struct RrStream {
    profile: Profile,
    params: ParticipantParams,
    rng: SmallRng,
    /// End time of the last beat generated (possibly held in `lookahead`), s.
    generated_secs: f64,
    /// End time of the last beat handed out, s.
    elapsed_secs: f64,
    breath_phase_rad: f64,
    mayer_phase_rad: f64,
    wander: [Wander; 3],
    breath_rate_wander: Wander,
    /// Beats already decided (artifacts come in pairs), oldest first.
    queued_rr_ms: VecDeque<f64>,
    /// The next beat and its end time, generated but not yet handed out by `beats_until`.
    lookahead: Option<(f64, f64)>,
}

impl RrStream {
    /// A participant whose physiology is drawn from `seed`.
    pub fn new(profile: Profile, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let params = ParticipantParams::draw(&mut rng);
        Self::with_params(profile, params, rng)
    }

    /// A participant with given physiology; `rng` drives the beat-to-beat randomness.
    pub fn with_params(profile: Profile, params: ParticipantParams, mut rng: SmallRng) -> Self {
        let mut wander = WANDER_TIME_CONSTANTS_SECS.map(|time_constant_secs| Wander {
            value: 0.0,
            time_constant_secs,
        });
        // Start from the stationary distribution so the first minute is not special.
        for process in &mut wander {
            process.value = standard_normal(&mut rng);
        }
        let breath_phase_rad = rng.random_range(0.0..TAU);
        let mayer_phase_rad = rng.random_range(0.0..TAU);
        RrStream {
            profile,
            params,
            rng,
            generated_secs: 0.0,
            elapsed_secs: 0.0,
            breath_phase_rad,
            mayer_phase_rad,
            wander,
            breath_rate_wander: Wander {
                value: 0.0,
                time_constant_secs: 20.0,
            },
            queued_rr_ms: VecDeque::new(),
            lookahead: None,
        }
    }

    /// The profile this stream follows.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The participant's physiology.
    pub fn params(&self) -> &ParticipantParams {
        &self.params
    }

    /// End time of the last beat handed out, s since the stream start.
    pub fn elapsed_secs(&self) -> f64 {
        self.elapsed_secs
    }

    /// How coherent the breathing is at time `time_secs`: 0 restless, 1 paced at ~6/min.
    pub fn coherence_level(&self, time_secs: f64) -> f64 {
        match self.profile {
            Profile::Coherent | Profile::Irregular => 1.0,
            Profile::Restless => 0.0,
            Profile::Settling => {
                smoothstep((time_secs - self.params.settle_start_secs) / self.params.settle_secs)
            }
        }
    }

    /// The next RR interval, ms.
    pub fn next_beat(&mut self) -> f64 {
        let rr_ms = match self.lookahead.take() {
            Some((rr_ms, _)) => rr_ms,
            None => self.generate(),
        };
        self.elapsed_secs += rr_ms / 1000.0;
        rr_ms
    }

    /// Appends to `out` every beat that ends at or before `until_secs` (s since the stream
    /// start) and has not been handed out yet.
    pub fn beats_until(&mut self, until_secs: f64, out: &mut Vec<f64>) {
        loop {
            let (rr_ms, ends_at_secs) = match self.lookahead {
                Some(next) => next,
                None => {
                    let rr_ms = self.generate();
                    let next = (rr_ms, self.generated_secs);
                    self.lookahead = Some(next);
                    next
                }
            };
            if ends_at_secs > until_secs {
                return;
            }
            self.lookahead = None;
            self.elapsed_secs = ends_at_secs;
            out.push(rr_ms);
        }
    }

    /// Generates the next interval and advances the generator's own clock.
    fn generate(&mut self) -> f64 {
        let rr_ms = match self.queued_rr_ms.pop_front() {
            Some(rr_ms) => rr_ms,
            None => {
                let rr_ms = self.physiological_beat();
                if self.profile == Profile::Irregular
                    && self.rng.random_bool(self.params.artifact_probability)
                {
                    self.artifact(rr_ms)
                } else {
                    rr_ms
                }
            }
        };
        self.generated_secs += rr_ms / 1000.0;
        rr_ms
    }

    /// Turns a clean interval into an artifact; may queue a second interval.
    fn artifact(&mut self, rr_ms: f64) -> f64 {
        match self.rng.random_range(0..3) {
            // Missed beat: the detector saw nothing, two intervals become one.
            0 => rr_ms + self.physiological_beat(),
            // Extra beat: a spurious detection splits the interval.
            1 => {
                let first = rr_ms * self.rng.random_range(0.35..0.65);
                self.queued_rr_ms.push_back(rr_ms - first);
                first
            }
            // Ectopic beat: premature, then a compensatory pause; the pair keeps the rhythm.
            _ => {
                let next = self.physiological_beat();
                let premature = rr_ms * 0.7;
                self.queued_rr_ms.push_back(next + rr_ms - premature);
                premature
            }
        }
    }

    /// One clean interval at the generator's current time; advances the rhythms by it.
    fn physiological_beat(&mut self) -> f64 {
        let time_secs = self.generated_secs + self.queued_rr_ms.iter().sum::<f64>() / 1000.0;
        let level = self.coherence_level(time_secs);
        let scale = self.params.variability_scale;

        let rsa_ms = scale * lerp(RSA_AMPLITUDE_MS.0, RSA_AMPLITUDE_MS.1, level);
        let wander_ms: f64 = scale
            * lerp(WANDER_AMPLITUDE.0, WANDER_AMPLITUDE.1, level)
            * self
                .wander
                .iter()
                .zip(WANDER_SIGMA_MS)
                .map(|(process, sigma_ms)| process.value * sigma_ms)
                .sum::<f64>();
        let jitter_ms = scale * lerp(JITTER_MS.0, JITTER_MS.1, level);
        let mean_rr_ms = self.params.mean_rr_ms * (1.0 + SETTLED_RR_LENGTHENING * level);

        let rr_ms = (mean_rr_ms
            + rsa_ms * self.breath_phase_rad.sin()
            + wander_ms
            + scale * MAYER_AMPLITUDE_MS * self.mayer_phase_rad.sin()
            + jitter_ms * standard_normal(&mut self.rng))
        .clamp(MIN_RR_MS, MAX_RR_MS);

        let dt_secs = rr_ms / 1000.0;
        let breaths_per_min = lerp(
            self.params.restless_breaths_per_min,
            self.params.coherent_breaths_per_min,
            level,
        ) + lerp(
            BREATH_RATE_WANDER_PER_MIN.0,
            BREATH_RATE_WANDER_PER_MIN.1,
            level,
        ) * self.breath_rate_wander.value;
        self.breath_phase_rad =
            (self.breath_phase_rad + TAU * breaths_per_min / 60.0 * dt_secs) % TAU;
        self.mayer_phase_rad = (self.mayer_phase_rad + TAU * 0.1 * dt_secs) % TAU;
        for process in &mut self.wander {
            process.step(dt_secs, &mut self.rng);
        }
        self.breath_rate_wander.step(dt_secs, &mut self.rng);
        rr_ms
    }
}

impl Iterator for RrStream {
    type Item = f64;

    /// Never ends: a heart keeps beating.
    fn next(&mut self) -> Option<f64> {
        Some(self.next_beat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synchub_hrv::{RecordingOptions, analyze_recording};

    /// RR intervals of `minutes` of a participant's stream.
    fn recording(profile: Profile, seed: u64, minutes: f64) -> (RrStream, Vec<f64>) {
        let mut stream = RrStream::new(profile, seed);
        let mut rr_ms = Vec::new();
        stream.beats_until(minutes * 60.0, &mut rr_ms);
        (stream, rr_ms)
    }

    /// Scores of every 64 s window that starts at or after `from_secs`.
    fn window_scores(rr_ms: &[f64], from_secs: f64) -> Vec<f64> {
        let report = analyze_recording(rr_ms, &RecordingOptions::default()).unwrap();
        report
            .windows
            .iter()
            .filter(|window| window.start_secs >= from_secs)
            .map(|window| window.score)
            .collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    #[test]
    fn same_seed_same_beats_and_different_seeds_differ() {
        let (_, first) = recording(Profile::Settling, 42, 2.0);
        let (_, again) = recording(Profile::Settling, 42, 2.0);
        let (_, other) = recording(Profile::Settling, 43, 2.0);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn twelve_participants_have_different_physiology() {
        let params: Vec<ParticipantParams> = (0..12)
            .map(|seed| *RrStream::new(Profile::Coherent, seed).params())
            .collect();
        let mut heart_rates: Vec<f64> = params.iter().map(|p| 60_000.0 / p.mean_rr_ms).collect();
        heart_rates.sort_by(f64::total_cmp);
        assert!(heart_rates[11] - heart_rates[0] > 15.0, "{heart_rates:?}");
        assert!(heart_rates.windows(2).all(|pair| pair[1] > pair[0]));
        for p in &params {
            assert!((56.0..90.0).contains(&(60_000.0 / p.mean_rr_ms)));
            assert!((5.5..6.5).contains(&p.coherent_breaths_per_min));
            assert!((16.5..22.0).contains(&p.restless_breaths_per_min));
        }
    }

    #[test]
    fn mean_heart_rate_matches_the_drawn_one() {
        for seed in 0..6 {
            let (stream, rr_ms) = recording(Profile::Restless, seed, 5.0);
            let drawn = stream.params().mean_rr_ms;
            let measured = mean(&rr_ms);
            assert!(
                (measured - drawn).abs() < 0.05 * drawn,
                "{measured} vs {drawn}"
            );
        }
    }

    #[test]
    fn next_beat_and_beats_until_agree() {
        let mut one_by_one = RrStream::new(Profile::Irregular, 9);
        let mut batched = RrStream::new(Profile::Irregular, 9);
        let mut batches = Vec::new();
        let mut second = 0.0;
        while batches.len() < 300 {
            second += 1.0;
            batched.beats_until(second, &mut batches);
            // Every beat handed out has ended by the requested time.
            assert!(batched.elapsed_secs() <= second);
        }
        let singles: Vec<f64> = (0..batches.len()).map(|_| one_by_one.next_beat()).collect();
        assert_eq!(singles, batches);
    }

    #[test]
    fn coherent_participants_score_high_in_every_window() {
        for seed in 0..6 {
            let (stream, rr_ms) = recording(Profile::Coherent, seed, 5.0);
            let scores = window_scores(&rr_ms, 0.0);
            assert!(scores.len() >= 40);
            let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(
                lowest >= 60.0,
                "seed {seed} {:?}: lowest {lowest}",
                stream.params()
            );
        }
    }

    #[test]
    fn coherent_peak_is_the_breathing_rate() {
        let (stream, rr_ms) = recording(Profile::Coherent, 3, 5.0);
        let report = analyze_recording(&rr_ms, &RecordingOptions::default()).unwrap();
        let breathing = stream.params().coherent_breaths_per_min;
        for window in &report.windows {
            assert!(
                (window.breaths_per_min - breathing).abs() < 0.6,
                "{window:?}"
            );
        }
    }

    #[test]
    fn restless_participants_score_low() {
        for seed in 0..6 {
            let (_, rr_ms) = recording(Profile::Restless, seed, 5.0);
            let scores = window_scores(&rr_ms, 0.0);
            let low = scores.iter().filter(|&&score| score < 40.0).count();
            assert!(mean(&scores) < 40.0, "seed {seed}: mean {}", mean(&scores));
            assert!(low * 10 >= scores.len() * 8, "seed {seed}: {scores:?}");
        }
    }

    #[test]
    fn settling_participants_start_low_and_end_high() {
        for seed in 0..6 {
            let (stream, rr_ms) = recording(Profile::Settling, seed, 8.0);
            let params = *stream.params();
            let report = analyze_recording(&rr_ms, &RecordingOptions::default()).unwrap();
            let early: Vec<f64> = report
                .windows
                .iter()
                .filter(|w| w.end_secs <= params.settle_start_secs + 20.0)
                .map(|w| w.score)
                .collect();
            let late = window_scores(&rr_ms, params.settled_at_secs());
            assert!(!early.is_empty() && !late.is_empty(), "{params:?}");
            assert!(mean(&early) < 40.0, "seed {seed}: early {early:?}");
            let lowest_late = late.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(lowest_late >= 60.0, "seed {seed}: late {late:?}");
        }
    }

    #[test]
    fn irregular_participants_have_artifacts_that_cleaning_removes() {
        let mut cleaned_means = Vec::new();
        let mut raw_means = Vec::new();
        for seed in 0..6 {
            let (_, rr_ms) = recording(Profile::Irregular, seed, 5.0);
            let median = {
                let mut sorted = rr_ms.clone();
                sorted.sort_by(f64::total_cmp);
                sorted[sorted.len() / 2]
            };
            let artifacts = rr_ms
                .iter()
                .filter(|&&rr| rr > 1.5 * median || rr < 0.75 * median)
                .count();
            assert!(
                artifacts >= 1,
                "seed {seed}: no artifacts in {} beats",
                rr_ms.len()
            );
            cleaned_means.push(mean(&window_scores(&rr_ms, 0.0)));
            let raw = analyze_recording(
                &rr_ms,
                &RecordingOptions {
                    clean: false,
                    ..RecordingOptions::default()
                },
            )
            .unwrap();
            let raw_scores: Vec<f64> = raw.windows.iter().map(|w| w.score).collect();
            raw_means.push(mean(&raw_scores));
        }
        // After the hub's cleaning they are coherent breathers; without it, clearly less.
        assert!(mean(&cleaned_means) >= 70.0, "cleaned {cleaned_means:?}");
        assert!(
            mean(&cleaned_means) >= mean(&raw_means) + 5.0,
            "cleaned {cleaned_means:?} raw {raw_means:?}"
        );
    }
}
