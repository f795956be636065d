//! The caller's computer slept: a laptop closed mid-session. The caller's time (hub time)
//! counted the sleep, so on waking the schedule catches up — phases end at their scheduled
//! times, the ticks the sleep missed are skipped and one runs for the present, so the sleep
//! stays a gap in the figures. Two things would be unfair to the room if the sleep counted like time the hub was
//! awake, and this seam takes them back:
//!
//! - **Resume grace.** A participant whose connection had dropped before the sleep could not
//!   come back while the hub slept; their grace is moved on by the length of the sleep, so they
//!   still resume with their token (same id and slot, counted once).
//! - **The age of beats.** Phones keep measuring while the hub sleeps and resend the batches it
//!   did not acknowledge; a beat's age at arrival does not count the time the hub slept, so a
//!   sleep longer than the 5-minute limit does not turn those beats into `stale_beats`.
//!
//! A few sleeps are remembered (the newest [`REMEMBERED_SLEEPS`]), enough for every beat that
//! could still be accepted; a sleep costs one pass over the room.

use std::cmp::Reverse;

use super::Engine;
use crate::participant::Connection;
use crate::timing::{MAX_BEAT_AGE_MS, TICK_MS};

/// How many sleeps the beat-age check remembers.
pub(super) const REMEMBERED_SLEEPS: usize = 4;

/// One sleep of the caller's computer, in hub time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sleep {
    pub(super) from_ms: i64,
    pub(super) to_ms: i64,
}

impl Engine {
    /// The caller's computer was suspended for `slept_ms`, ending at (about) `now_ms` in hub
    /// time, which counted the sleep. Call it on waking, before any other input: resume graces
    /// still running when the sleep began are moved on by `slept_ms`, the sleep is left out of
    /// the age of beats that arrive from now on, and then the schedule catches up to `now_ms`.
    pub fn handle_suspended(&mut self, now_ms: i64, slept_ms: i64) {
        if slept_ms <= 0 {
            self.advance_to(now_ms);
            return;
        }
        let to_ms = now_ms.max(self.now_ms);
        let from_ms = to_ms - slept_ms;
        if self.sleeps.len() == REMEMBERED_SLEEPS {
            self.sleeps.remove(0);
        }
        self.sleeps.push(Sleep { from_ms, to_ms });
        if let Some(session) = self.session.as_mut() {
            // No figures for the sleep: the ticks it missed are skipped rather than caught up
            // between the phase changes inside it; the tick of the present runs.
            let latest_tick_ms = session.tick_origin_ms
                + (to_ms - session.tick_origin_ms).div_euclid(TICK_MS) * TICK_MS;
            session.next_tick_ms = session.next_tick_ms.max(latest_tick_ms);
            for participant in session.slots.iter_mut().flatten() {
                if let Connection::Disconnected {
                    since_ms,
                    grace_ends_ms,
                } = participant.connection
                    && grace_ends_ms > from_ms
                {
                    let grace_ends_ms = grace_ends_ms + slept_ms;
                    participant.connection = Connection::Disconnected {
                        since_ms,
                        grace_ends_ms,
                    };
                    // The old heap entry no longer matches and is skipped when it comes up.
                    session.grace.push(Reverse((grace_ends_ms, participant.id)));
                }
            }
        }
        self.advance_to(now_ms);
    }
}

/// How much of `[from_ms, to_ms]` the caller's computer spent asleep, as far as `sleeps`
/// tell. A free function so it can be asked while a participant is borrowed.
pub(super) fn asleep_between(sleeps: &[Sleep], from_ms: f64, to_ms: f64) -> f64 {
    sleeps
        .iter()
        .map(|sleep| {
            #[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
            let (start, end) = (sleep.from_ms as f64, sleep.to_ms as f64);
            (end.min(to_ms) - start.max(from_ms)).max(0.0)
        })
        .sum()
}

/// The oldest beat time a batch arriving at `now_ms` or later can still have: 5 minutes of
/// awake time back, plus every remembered sleep (they do not count as age). What a participant
/// accepted before it can be forgotten.
pub(super) fn oldest_arrivable_ms(sleeps: &[Sleep], now_ms: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // Sleeps are far shorter than 2^53 ms.
    let slept_ms: f64 = sleeps
        .iter()
        .map(|sleep| (sleep.to_ms - sleep.from_ms) as f64)
        .sum();
    now_ms - MAX_BEAT_AGE_MS - slept_ms
}
