//! A participant's beat clock: which beats of a batch are new, and whether the participant's
//! beats stay behind the hub's clock.
//!
//! A heart beats about once a second, so a participant's beats can cover at most the time
//! that has passed. Two rules make that hold whatever a client sends:
//!
//! - **Beat time only moves forward for batches without a `seq`.** In such a batch a beat at or
//!   before the last accepted beat (within [`SAME_BEAT_WITHIN_MS`], the jitter of clock offsets
//!   between a batch and its resend) is a repeat and is dropped: overlapping batches store each
//!   beat once. A batch *with* a new `seq` is kept whole even when it is older than beats
//!   already accepted: it is a phone's resend of a batch the hub refused earlier (the store
//!   could not write, the hub was busy) while newer batches went through, and dropping its
//!   beats as repeats would acknowledge beats that were never stored. Its `seq` is what
//!   deduplicates it; the reach below still bounds how many beats such batches can add.
//! - **Beats cost time.** Each new beat spends at least [`MIN_BEAT_COST_MS`] of the
//!   participant's beat time, even when its RR value is smaller, so a stream of tiny RR values
//!   cannot pack thousands of beats into a second. The spent time (the *reach*) may not run
//!   ahead of the hub's clock by more than [`BEAT_REACH_SLACK_MS`]; a batch that would is
//!   refused whole (`rate_limited`) and the client may send it again later.
//!
//! An occasional short RR (a strap's double detection) makes the reach run ahead of the beats
//! by a little; [`REACH_CATCH_UP`] of every later RR gives that back, so a real strap's
//! artifacts never add up to a refusal over a session.

/// Beats this close to the last accepted one are the same beat sent again (a resend whose
/// clock offset moved a little): 150 ms is shorter than any real RR interval that is not an
/// artifact (400 bpm).
pub const SAME_BEAT_WITHIN_MS: f64 = 150.0;

/// The least beat time one beat spends: 200 ms, a heart rate of 300 bpm. Real RR values are
/// above it; only artifacts and floods are below.
pub const MIN_BEAT_COST_MS: f64 = 200.0;

/// How far a participant's reach may run ahead of the hub's clock: the 5 s a beat time may be
/// ahead (clock offsets) and 5 s for artifacts.
pub const BEAT_REACH_SLACK_MS: f64 = 10_000.0;

/// The share of every RR interval that pays back reach spent on short RR values.
pub const REACH_CATCH_UP: f64 = 0.02;

/// One participant's beat clock (see the module's documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct BeatClock {
    /// Hub time of the last accepted beat.
    last_beat_ms: Option<f64>,
    /// How far the accepted beats reach when each costs at least [`MIN_BEAT_COST_MS`].
    reach_ms: f64,
}

/// What [`BeatClock::admit`] found in a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Admission {
    /// Leading beats of the batch that repeat accepted ones.
    pub repeated: usize,
    /// The clock after the new beats; [`BeatClock::apply`] makes it the participant's.
    next: BeatClock,
}

/// Whether a batch's beats that repeat accepted ones are dropped: [`Repeats::Drop`] for a
/// batch without a `seq`, [`Repeats::Keep`] for a batch with a new one (see the module's
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeats {
    Drop,
    Keep,
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
    pub fn admit(
        &self,
        beats: impl IntoIterator<Item = (f64, f64)>,
        repeats: Repeats,
        now_ms: f64,
    ) -> Result<Admission, OutrunsTime> {
        let mut next = *self;
        let mut repeated = 0;
        for (time_ms, rr_ms) in beats {
            // Times ascend: only a leading run of the batch can repeat accepted beats; after
            // the first new beat, every beat is new (a short RR inside a batch is an artifact,
            // stored like any beat).
            if repeats == Repeats::Drop
                && next == *self
                && self
                    .last_beat_ms
                    .is_some_and(|last| time_ms <= last + SAME_BEAT_WITHIN_MS)
            {
                repeated += 1;
                continue;
            }
            next.reach_ms = match next.last_beat_ms {
                None => time_ms,
                Some(_) => (next.reach_ms + rr_ms.max(MIN_BEAT_COST_MS) - REACH_CATCH_UP * rr_ms)
                    .max(time_ms),
            };
            // A kept older batch never moves the last beat back.
            next.last_beat_ms = Some(next.last_beat_ms.map_or(time_ms, |last| last.max(time_ms)));
        }
        let ahead_ms = next.reach_ms - now_ms;
        if next != *self && ahead_ms > BEAT_REACH_SLACK_MS {
            return Err(OutrunsTime { ahead_ms });
        }
        Ok(Admission { repeated, next })
    }

    /// Takes the admitted batch's beats as accepted.
    pub fn apply(&mut self, admission: Admission) {
        *self = admission.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(first_ms: f64, rr_ms: f64, count: usize) -> Vec<(f64, f64)> {
        (0..count)
            .map(|index| (first_ms + rr_ms * index as f64, rr_ms))
            .collect()
    }

    #[test]
    fn a_resent_batch_is_all_repeats_and_an_overlapping_one_only_adds_its_new_beats() {
        let mut clock = BeatClock::default();
        let first = beats(0.0, 1_000.0, 10);
        let admitted = clock.admit(first.clone(), Repeats::Drop, 10_000.0).unwrap();
        assert_eq!(admitted.repeated, 0);
        clock.apply(admitted);
        // The same beats, their clock offset 40 ms later: all repeats.
        let shifted = first.iter().map(|&(time, rr)| (time + 40.0, rr));
        let again = clock.admit(shifted, Repeats::Drop, 10_000.0).unwrap();
        assert_eq!(again.repeated, 10);
        clock.apply(again);
        // Beats 5..15: the first five repeat.
        let overlapping = clock
            .admit(beats(5_000.0, 1_000.0, 10), Repeats::Drop, 15_000.0)
            .unwrap();
        assert_eq!(overlapping.repeated, 5);
    }

    #[test]
    fn an_older_batch_with_a_new_seq_is_kept_whole_and_leaves_the_last_beat_where_it_was() {
        let mut clock = BeatClock::default();
        // Seconds 10–19 went through while the batch of seconds 0–9 was refused.
        let newer = clock.admit(beats(10_000.0, 1_000.0, 10), Repeats::Keep, 20_000.0);
        clock.apply(newer.unwrap());
        let resent = clock
            .admit(beats(0.0, 1_000.0, 10), Repeats::Keep, 21_000.0)
            .expect("a resend of refused beats is not a flood");
        assert_eq!(resent.repeated, 0, "every beat of the resend is stored");
        clock.apply(resent);
        let without_seq = clock
            .admit(beats(19_000.0, 1_000.0, 3), Repeats::Drop, 22_000.0)
            .unwrap();
        assert_eq!(without_seq.repeated, 1, "the last beat is still second 19");
    }

    #[test]
    fn tiny_rr_values_cannot_pack_beats_faster_than_time() {
        let mut clock = BeatClock::default();
        // 60 beats of 1 ms right now: they cost 12 s of beat time.
        let refused = clock
            .admit(beats(0.0, 1.0, 60), Repeats::Drop, 0.0)
            .unwrap_err();
        assert!(refused.ahead_ms > BEAT_REACH_SLACK_MS, "{refused:?}");
        assert_eq!(clock, BeatClock::default(), "a refusal changes nothing");
        // Fifty cost 9.8 s: inside the slack.
        let admitted = clock
            .admit(beats(0.0, 1.0, 50), Repeats::Drop, 0.0)
            .unwrap();
        clock.apply(admitted);
        // Twenty more (4 s of beat time) only once the hub's clock has caught up.
        assert!(
            clock
                .admit(beats(200.0, 1.0, 20), Repeats::Drop, 200.0)
                .is_err()
        );
        assert!(
            clock
                .admit(beats(200.0, 1.0, 20), Repeats::Drop, 5_000.0)
                .is_ok()
        );
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
                .admit(batch, Repeats::Drop, time_ms)
                .expect("a real strap is never refused");
            clock.apply(admitted);
        }
    }
}
