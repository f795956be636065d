//! The hub's one clock, handed to whoever needs time instead of being read from the operating
//! system in place, so tests run the hub on virtual time.
//!
//! Two readings: wall time ([`Clock::wall_ms`], milliseconds since the Unix epoch) for
//! timestamps, labels and the session engine's `now`; and a monotonic instant
//! ([`Clock::now`], tokio's) for deadlines and sleeps. They are separate on purpose: a wall
//! clock can jump (an NTP correction, a user changing the time) and a laptop can sleep (wall time
//! moves on while the monotonic clock stands still), and only the monotonic one is safe to
//! sleep on.
//!
//! [`Clock::system`] reads the operating system. [`Clock::manual`] follows tokio's clock, so on a
//! paused runtime (`#[tokio::test(start_paused = true)]`) time moves only when tokio's does —
//! by auto-advance while every task waits, or by `tokio::time::advance` — and a 15-minute
//! session runs in well under a second; [`Clock::step_wall`] makes its wall clock jump while
//! the monotonic clock does not. A laptop sleep is the same shape: the wall clock (and a
//! boot-time clock, when one is added) advance while tokio's instant does not.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The hub's clock. Cheap to clone; clones of a manual clock share its steps.
#[derive(Debug, Clone)]
pub struct Clock {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    System,
    Manual(Arc<ManualTime>),
}

/// A wall clock that starts at a chosen time and then moves with tokio's clock.
#[derive(Debug)]
struct ManualTime {
    /// Wall time at `origin`.
    start_wall_ms: i64,
    origin: Instant,
    /// The sum of every [`Clock::step_wall`] so far.
    wall_steps_ms: AtomicI64,
}

impl Clock {
    /// The operating system's clocks.
    pub fn system() -> Clock {
        Clock {
            source: Source::System,
        }
    }

    /// A clock whose wall time reads `start_wall_ms` now and then advances with tokio's clock
    /// (paused in tests). Its monotonic reading is tokio's instant.
    pub fn manual(start_wall_ms: i64) -> Clock {
        Clock {
            source: Source::Manual(Arc::new(ManualTime {
                start_wall_ms,
                origin: Instant::now(),
                wall_steps_ms: AtomicI64::new(0),
            })),
        }
    }

    /// Milliseconds since the Unix epoch: what the engine gets as `now` and what timestamps say.
    pub fn wall_ms(&self) -> i64 {
        match &self.source {
            Source::System => Self::system_wall_ms(),
            Source::Manual(time) => {
                let elapsed_ms =
                    i64::try_from(time.origin.elapsed().as_millis()).unwrap_or(i64::MAX);
                time.start_wall_ms
                    .saturating_add(elapsed_ms)
                    .saturating_add(time.wall_steps_ms.load(Ordering::Relaxed))
            }
        }
    }

    /// The monotonic clock, for deadlines and sleeps: it never jumps.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Moves a manual clock's wall time by `delta_ms` (either way) without moving its
    /// monotonic time, as an NTP correction or a user changing the time would. The system
    /// clock belongs to the operating system: on it this does nothing.
    pub fn step_wall(&self, delta_ms: i64) {
        if let Source::Manual(time) = &self.source {
            time.wall_steps_ms.fetch_add(delta_ms, Ordering::Relaxed);
        }
    }

    /// The system's wall clock in ms since the Unix epoch, for the few readers that take a
    /// plain function rather than a clock (the Bluetooth strap manager).
    pub fn system_wall_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
            })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_manual_clock_follows_tokio_time() {
        let clock = Clock::manual(1_000_000);
        let started = clock.now();
        assert_eq!(clock.wall_ms(), 1_000_000);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.wall_ms(), 1_090_000);
        assert_eq!(clock.now() - started, Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wall_step_leaves_the_monotonic_clock_alone() {
        let clock = Clock::manual(1_000_000);
        let started = clock.now();
        clock.clone().step_wall(-3_600_000);
        assert_eq!(clock.wall_ms(), 1_000_000 - 3_600_000);
        assert_eq!(clock.now(), started);
        clock.step_wall(7_200_000);
        assert_eq!(clock.wall_ms(), 1_000_000 + 3_600_000);
    }
}
