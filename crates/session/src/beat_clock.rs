//! A participant's beat clock: which beats of a batch are new, and whether the participant's
//! beats stay behind the hub's clock.
//!
//! A heart beats about once a second, so a participant's beats can cover at most the time
//! that has passed. Two rules make that hold whatever a client sends:
//!
//! - **Each beat is stored once.** The participant's accepted batches cover stretches of beat
//!   time ([`crate::beat_spans`]); a beat falling in one (or within
//!   [`crate::beat_spans::SAME_BEAT_WITHIN_MS`] of its ends, the jitter of clock offsets between
//!   a batch and its resend) is a repeat and is dropped, whether its batch carries a `seq` or
//!   not: overlapping batches under fresh seqs store each beat once, like overlapping batches
//!   without one. A batch the hub refused was never added, so its resend — even after newer
//!   batches went through — fills its gap and is stored. A batch whose beats were all repeats is still acknowledged (its `seq` goes to the
//!   store empty), so a phone stops resending it.
//! - **Beats cost time.** Each new beat spends at least [`MIN_BEAT_COST_MS`] of the
//!   participant's beat time, even when its RR value is smaller, so a stream of tiny RR values
//!   cannot pack thousands of beats into a second. The spent time (the *reach*) may not run
//!   ahead of the hub's clock by more than [`BEAT_REACH_SLACK_MS`]; a batch that would is
//!   refused whole (`rate_limited`) and the client may send it again later.
//!
//! An occasional short RR (a strap's double detection) makes the reach run ahead of the beats
//! by a little; [`REACH_CATCH_UP`] of every later RR gives that back, so a real strap's
//! artifacts never add up to a refusal over a session.

use crate::beat_spans::{AcceptedSpans, Span};

/// The least beat time one beat spends: 200 ms, a heart rate of 300 bpm. Real RR values are
/// above it; only artifacts and floods are below.
pub const MIN_BEAT_COST_MS: f64 = 200.0;

/// How far a participant's reach may run ahead of the hub's clock: the 5 s a beat time may be
/// ahead (clock offsets) and 5 s for artifacts.
pub const BEAT_REACH_SLACK_MS: f64 = 10_000.0;

/// The share of every RR interval that pays back reach spent on short RR values.
pub const REACH_CATCH_UP: f64 = 0.02;

/// One participant's beat clock (see the module's documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BeatClock {
    /// The beat time accepted batches cover.
    accepted: AcceptedSpans,
    /// How far the accepted beats reach when each costs at least [`MIN_BEAT_COST_MS`]; `None`
    /// before the first beat.
    reach_ms: Option<f64>,
}

/// What [`BeatClock::admit`] found in a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Admission {
    /// Per beat of the batch, in order: whether it is new (`false`: a repeat, dropped).
    new: Vec<bool>,
    /// The beat time the batch covers, repeats included; `None` when it adds no beat.
    span: Option<Span>,
    /// The reach after the new beats.
    reach_ms: Option<f64>,
}

impl Admission {
    /// Beats of the batch that repeat accepted ones.
    pub fn repeated(&self) -> usize {
        self.new.iter().filter(|&&new| !new).count()
    }

    /// Whether the batch's beat at `index` is new.
    pub fn is_new(&self, index: usize) -> bool {
        self.new.get(index).copied().unwrap_or(false)
    }
}

/// A batch whose new beats would make the participant's beat time outrun the hub's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OutrunsTime {
    /// How far ahead of the hub's clock the reach would be, ms.
    pub ahead_ms: f64,
}

impl BeatClock {
    /// Checks a batch of `(time_ms, rr_ms)` beats (times ascending, hub time) at `now_ms`
    /// without changing the clock.
    pub fn admit(&self, beats: &[(f64, f64)], now_ms: f64) -> Result<Admission, OutrunsTime> {
        let mut reach_ms = self.reach_ms;
        let new: Vec<bool> = beats
            .iter()
            .map(|&(time_ms, rr_ms)| {
                // Beats of this batch are not compared with each other: a short RR inside a
                // batch is an artifact, stored like any beat.
                if self.accepted.covers(time_ms) {
                    return false;
                }
                reach_ms = Some(reach_ms.map_or(time_ms, |reach_ms| {
                    (reach_ms + rr_ms.max(MIN_BEAT_COST_MS) - REACH_CATCH_UP * rr_ms).max(time_ms)
                }));
                true
            })
            .collect();
        let adds_beats = new.contains(&true);
        if adds_beats && let Some(reach_ms) = reach_ms {
            let ahead_ms = reach_ms - now_ms;
            if ahead_ms > BEAT_REACH_SLACK_MS {
                return Err(OutrunsTime { ahead_ms });
            }
        }
        Ok(Admission {
            span: Span::of_batch(beats).filter(|_| adds_beats),
            new,
            reach_ms,
        })
    }

    /// Takes the admitted batch's new beats as accepted. `oldest_arrivable_ms`: no beat older
    /// than this can be accepted any more (what is older is forgotten).
    pub fn apply(&mut self, admission: &Admission, oldest_arrivable_ms: f64) {
        self.reach_ms = admission.reach_ms;
        if let Some(span) = admission.span {
            self.accepted.insert(span, oldest_arrivable_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing accepted is too old to be resent, in these tests.
    const LONG_AGO: f64 = f64::NEG_INFINITY;

    fn beats(first_ms: f64, rr_ms: f64, count: usize) -> Vec<(f64, f64)> {
        (0..count)
            .map(|index| (first_ms + rr_ms * index as f64, rr_ms))
            .collect()
    }

    fn accept(clock: &mut BeatClock, batch: &[(f64, f64)], now_ms: f64) -> Admission {
        let admitted = clock.admit(batch, now_ms).expect("within time");
        clock.apply(&admitted, LONG_AGO);
        admitted
    }

    #[test]
    fn a_resent_batch_is_all_repeats_and_an_overlapping_one_only_adds_its_new_beats() {
        let mut clock = BeatClock::default();
        let first = beats(0.0, 1_000.0, 10);
        assert_eq!(accept(&mut clock, &first, 10_000.0).repeated(), 0);
        // The same beats, their clock offset 40 ms later: all repeats.
        let shifted: Vec<_> = first.iter().map(|&(time, rr)| (time + 40.0, rr)).collect();
        assert_eq!(accept(&mut clock, &shifted, 10_000.0).repeated(), 10);
        // Beats 5..15: the first five repeat.
        let overlapping = accept(&mut clock, &beats(5_000.0, 1_000.0, 10), 15_000.0);
        assert_eq!(overlapping.repeated(), 5);
        assert!((0..10).all(|index| overlapping.is_new(index) == (index >= 5)));
    }

    #[test]
    fn a_batch_spanning_a_gap_adds_only_the_beats_in_the_gap() {
        let mut clock = BeatClock::default();
        accept(&mut clock, &beats(0.0, 1_000.0, 10), 10_000.0); // 0–9 s
        accept(&mut clock, &beats(20_000.0, 1_000.0, 10), 30_000.0); // 20–29 s
        // 5–24 s: 5–9 and 20–24 repeat; 10–19 are new.
        let spanning = accept(&mut clock, &beats(5_000.0, 1_000.0, 20), 31_000.0);
        assert_eq!(spanning.repeated(), 10);
        assert!((0..20).all(|index| spanning.is_new(index) == (5..15).contains(&index)));
        // Now all of 0–29 s is accepted.
        assert_eq!(
            accept(&mut clock, &beats(0.0, 1_000.0, 30), 32_000.0).repeated(),
            30
        );
    }

    #[test]
    fn a_repeat_is_a_repeat_whatever_the_batch_and_a_refused_batch_can_come_again() {
        let mut clock = BeatClock::default();
        // Seconds 10–19 went through while the batch of seconds 0–9 was refused: it was never
        // added, so its resend is stored whole.
        accept(&mut clock, &beats(10_000.0, 1_000.0, 10), 20_000.0);
        let resent = accept(&mut clock, &beats(0.0, 1_000.0, 10), 21_000.0);
        assert_eq!(resent.repeated(), 0, "every beat of the resend is stored");
        // Once accepted, it is a repeat however often (and under whichever seq) it comes.
        assert_eq!(
            accept(&mut clock, &beats(0.0, 1_000.0, 10), 22_000.0).repeated(),
            10
        );
        assert_eq!(
            accept(&mut clock, &beats(19_000.0, 1_000.0, 3), 22_000.0).repeated(),
            1
        );
    }

    #[test]
    fn a_batch_of_repeats_costs_no_time_and_a_refusal_changes_nothing() {
        let mut clock = BeatClock::default();
        // 50 beats of 1 ms right now cost 9.8 s: inside the slack.
        accept(&mut clock, &beats(0.0, 1.0, 50), 0.0);
        let before = clock.clone();
        // The same beats again: all repeats, so nothing is spent and nothing refused.
        let again = clock
            .admit(&beats(0.0, 1.0, 50), 0.0)
            .expect("repeats cost nothing");
        assert_eq!(again.repeated(), 50);
        clock.apply(&again, LONG_AGO);
        assert_eq!(clock, before);
        // Ten new ones would reach 11.8 s ahead: refused whole, the clock unchanged.
        let refused = clock.admit(&beats(300.0, 1.0, 10), 0.0).unwrap_err();
        assert!(refused.ahead_ms > BEAT_REACH_SLACK_MS, "{refused:?}");
        assert_eq!(clock, before);
    }

    #[test]
    fn tiny_rr_values_cannot_pack_beats_faster_than_time() {
        let mut clock = BeatClock::default();
        // 60 beats of 1 ms right now: they cost 12 s of beat time.
        let refused = clock.admit(&beats(0.0, 1.0, 60), 0.0).unwrap_err();
        assert!(refused.ahead_ms > BEAT_REACH_SLACK_MS, "{refused:?}");
        assert_eq!(clock, BeatClock::default(), "a refusal changes nothing");
        // Fifty cost 9.8 s: inside the slack.
        accept(&mut clock, &beats(0.0, 1.0, 50), 0.0);
        // Twenty more (4 s of beat time) only once the hub's clock has caught up.
        assert!(clock.admit(&beats(200.0, 1.0, 20), 200.0).is_err());
        assert!(clock.admit(&beats(200.0, 1.0, 20), 5_000.0).is_ok());
    }

    #[test]
    fn a_strap_with_artifacts_is_never_refused_over_a_session() {
        let mut clock = BeatClock::default();
        let mut time_ms = 0.0;
        // An hour at 75 bpm where every tenth beat is split into 60 + 740 ms.
        for second in 0..3_600 {
            let mut batch = Vec::new();
            for beat in 0..2 {
                let rr_ms = if (second * 2 + beat) % 10 == 0 {
                    60.0
                } else {
                    740.0
                };
                time_ms += rr_ms;
                batch.push((time_ms, rr_ms));
            }
            let admitted = clock
                .admit(&batch, time_ms)
                .expect("a real strap is never refused");
            clock.apply(&admitted, time_ms - 300_000.0);
        }
    }
}
