//! The hub's one clock, handed to whoever needs time instead of being read from the operating
//! system in place, so tests run the hub on virtual time.
//!
//! # Three readings, and why
//!
//! - **Hub time** ([`Clock::hub_ms`]): milliseconds since the Unix epoch as the hub counts
//!   them — the wall clock read once when the clock is made, plus the time elapsed since on a
//!   clock that never jumps and keeps counting while the computer sleeps. It is the session
//!   engine's `now`, so every deadline (1 Hz ticks, phase ends, resume grace, the age of beats)
//!   runs on it, and it is the label on everything the hub stores and sends (`time_sync`'s
//!   `hubTime`, beat times, phase times), so a phone that follows `time_sync` stamps beats on
//!   the same axis the hub stamps its own records.
//! - **Wall time** ([`Clock::wall_ms`]): the operating system's clock. It can be stepped by an
//!   NTP correction or a user (an hour either way, across a time-zone mistake) at any moment.
//!   The hub reads it only to notice such a step and say so; a step changes no phase length,
//!   stops no broadcast and makes no beat stale, because hub time does not follow it. The
//!   price: after a step, the hub's labels differ from the system clock by the step until the
//!   hub restarts (and re-anchors). A session is consistent with itself, which is what the
//!   report, the resume grace and the stale-beat check need; the log names the step.
//! - **Monotonic time** ([`Clock::now`], tokio's instant): what the hub sleeps on. On Linux it
//!   stands still while the computer is suspended.
//!
//! # A laptop that sleeps
//!
//! Hub time counts the sleep (CLOCK_BOOTTIME semantics on Linux): after a 10-minute sleep it is
//! 10 minutes later for the room too, so the session continues with the sleep as a gap — phases
//! end at their scheduled times (caught up at once on waking), no group figures are invented for
//! the gap, and the labels stay true. Counting the sleep this way is what lets phones' beats,
//! measured on their own clocks during the sleep, land where they belong. The hub also learns
//! that the computer slept ([`Clock::suspended_ms`], boot time minus monotonic time), so the
//! engine can give participants back the grace the sleep took from them and not count the
//! sleep in a beat's age (`Engine::handle_suspended`).
//!
//! On other systems hub time follows the standard monotonic clock (`std::time::Instant`):
//! Windows counts a sleep there too; macOS does not, so a sleep is then invisible to the hub
//! (the session simply runs that much longer) and no suspend is reported.
//!
//! [`Clock::system`] reads the operating system. [`Clock::manual`] follows tokio's clock, so on
//! a paused runtime (`#[tokio::test(start_paused = true)]`) time moves only when tokio's does —
//! by auto-advance while every task waits, or by `tokio::time::advance` — and a 15-minute
//! session runs in well under a second; [`Clock::step_wall`] steps its wall clock and
//! [`Clock::suspend`] models a sleep: wall and hub time move on while tokio's instant does not.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The hub's clock. Cheap to clone; clones share the anchor (and a manual clock's steps).
#[derive(Debug, Clone)]
pub struct Clock {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    System(SystemAnchor),
    Manual(Arc<ManualTime>),
}

/// Where hub time starts on the system clock.
#[derive(Debug, Clone, Copy)]
struct SystemAnchor {
    /// Wall time when the clock was made.
    wall_ms: i64,
    /// The running clock (sleep included) when the clock was made.
    running: Duration,
}

/// A clock that starts at a chosen wall time and then moves with tokio's clock.
#[derive(Debug)]
struct ManualTime {
    /// Wall (and hub) time at `origin`.
    start_wall_ms: i64,
    origin: Instant,
    /// The sum of every [`Clock::step_wall`] so far.
    wall_steps_ms: AtomicI64,
    /// The sum of every [`Clock::suspend`] so far.
    suspended_ms: AtomicI64,
}

impl Clock {
    /// The operating system's clocks; hub time starts at the wall time of this call.
    pub fn system() -> Clock {
        Clock {
            source: Source::System(SystemAnchor {
                wall_ms: Self::system_wall_ms(),
                running: os::running(),
            }),
        }
    }

    /// A clock whose wall and hub time read `start_wall_ms` now and then advance with tokio's
    /// clock (paused in tests). Its monotonic reading is tokio's instant.
    pub fn manual(start_wall_ms: i64) -> Clock {
        Clock {
            source: Source::Manual(Arc::new(ManualTime {
                start_wall_ms,
                origin: Instant::now(),
                wall_steps_ms: AtomicI64::new(0),
                suspended_ms: AtomicI64::new(0),
            })),
        }
    }

    /// Hub time, ms since the Unix epoch: the session engine's `now` and the label on
    /// everything the hub stamps (see the module doc). Never jumps with the wall clock; moves
    /// on through a sleep.
    pub fn hub_ms(&self) -> i64 {
        match &self.source {
            Source::System(anchor) => anchor
                .wall_ms
                .saturating_add(millis(os::running().saturating_sub(anchor.running))),
            Source::Manual(time) => time
                .start_wall_ms
                .saturating_add(millis(time.origin.elapsed()))
                .saturating_add(time.suspended_ms.load(Ordering::Relaxed)),
        }
    }

    /// The operating system's wall clock, ms since the Unix epoch. It can jump; the hub
    /// compares it with hub time only to report a step.
    pub fn wall_ms(&self) -> i64 {
        match &self.source {
            Source::System(_) => Self::system_wall_ms(),
            Source::Manual(time) => self
                .hub_ms()
                .saturating_add(time.wall_steps_ms.load(Ordering::Relaxed)),
        }
    }

    /// The monotonic clock, for deadlines and sleeps: it never jumps.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// How long the computer has been suspended in all (since boot for the system clock, since
    /// it was made for a manual one). Only its growth means anything: a reading larger than
    /// the last says the computer slept for the difference in between.
    pub fn suspended_ms(&self) -> i64 {
        match &self.source {
            Source::System(_) => millis(os::suspended()),
            Source::Manual(time) => time.suspended_ms.load(Ordering::Relaxed),
        }
    }

    /// Moves a manual clock's wall time by `delta_ms` (either way) without moving its hub or
    /// monotonic time, as an NTP correction or a user changing the time would. The system
    /// clock belongs to the operating system: on it this does nothing.
    pub fn step_wall(&self, delta_ms: i64) {
        if let Source::Manual(time) = &self.source {
            time.wall_steps_ms.fetch_add(delta_ms, Ordering::Relaxed);
        }
    }

    /// Makes a manual clock's computer sleep for `duration` at once: wall and hub time move on
    /// by `duration`, tokio's instant does not (as Linux's monotonic clock stands still during
    /// a suspend), and [`Clock::suspended_ms`] grows by it. Nothing on the system clock.
    pub fn suspend(&self, duration: Duration) {
        if let Source::Manual(time) = &self.source {
            time.suspended_ms
                .fetch_add(millis(duration), Ordering::Relaxed);
        }
    }

    /// The system's wall clock in ms since the Unix epoch, for the few readers that take a
    /// plain function rather than a clock (the Bluetooth strap manager).
    pub fn system_wall_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, millis)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The running clock (counts a suspend) and the time spent suspended, on Linux from
/// `CLOCK_BOOTTIME` and `CLOCK_MONOTONIC` (read through the vDSO: a few tens of nanoseconds).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    use std::time::Duration;

    use rustix::time::{ClockId, clock_gettime};

    fn read(id: ClockId) -> Duration {
        let time = clock_gettime(id);
        Duration::new(
            u64::try_from(time.tv_sec).unwrap_or(0),
            u32::try_from(time.tv_nsec).unwrap_or(0),
        )
    }

    pub fn running() -> Duration {
        read(ClockId::Boottime)
    }

    /// Boot time runs on through a suspend, monotonic time does not: the difference is the
    /// total time suspended since boot.
    pub fn suspended() -> Duration {
        let monotonic = read(ClockId::Monotonic);
        read(ClockId::Boottime).saturating_sub(monotonic)
    }
}

/// Elsewhere, the standard monotonic clock (which counts a sleep on Windows, not on macOS) and
/// no knowledge of suspends.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod os {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static ORIGIN: OnceLock<Instant> = OnceLock::new();

    pub fn running() -> Duration {
        ORIGIN.get_or_init(Instant::now).elapsed()
    }

    pub fn suspended() -> Duration {
        Duration::ZERO
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
        assert_eq!(clock.hub_ms(), 1_000_000);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.wall_ms(), 1_090_000);
        assert_eq!(clock.hub_ms(), 1_090_000);
        assert_eq!(clock.now() - started, Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wall_step_leaves_hub_time_and_the_monotonic_clock_alone() {
        let clock = Clock::manual(1_000_000);
        let started = clock.now();
        clock.clone().step_wall(-3_600_000);
        assert_eq!(clock.wall_ms(), 1_000_000 - 3_600_000);
        assert_eq!(clock.hub_ms(), 1_000_000);
        assert_eq!(clock.now(), started);
        clock.step_wall(7_200_000);
        assert_eq!(clock.wall_ms(), 1_000_000 + 3_600_000);
        assert_eq!(clock.hub_ms(), 1_000_000);
        assert_eq!(clock.suspended_ms(), 0, "a step is not a sleep");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_moves_wall_and_hub_time_but_not_the_monotonic_clock() {
        let clock = Clock::manual(1_000_000);
        let started = clock.now();
        clock.suspend(Duration::from_secs(600));
        assert_eq!(clock.hub_ms(), 1_600_000);
        assert_eq!(clock.wall_ms(), 1_600_000);
        assert_eq!(clock.now(), started);
        assert_eq!(clock.suspended_ms(), 600_000);
    }

    #[test]
    fn the_system_clock_starts_hub_time_at_the_wall_time_and_runs_forward() {
        let clock = Clock::system();
        let wall = Clock::system_wall_ms();
        let hub = clock.hub_ms();
        assert!((hub - wall).abs() < 1_000, "hub {hub}, wall {wall}");
        let later = clock.hub_ms();
        assert!(later >= hub);
        assert!(clock.suspended_ms() >= 0);
    }
}
