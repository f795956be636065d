//! The per-connection and per-IP guards that run at the edge before anything reaches the
//! engine: a token bucket per connection (20 messages/s), a limit on wrong room codes per
//! address, and a constant-time comparison for secrets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `rate_per_sec` messages a second on average, bursts up to `burst`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        RateLimit {
            rate_per_sec: f64::from(rate_per_sec),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// The default of protocol.md: 20 messages/s, burst 40.
    pub fn per_connection() -> Self {
        RateLimit::new(
            synchub_protocol::limits::RATE_LIMIT_PER_SEC,
            synchub_protocol::limits::RATE_LIMIT_BURST,
        )
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub fn allow_at(&mut self, now: Instant) -> bool {
        let elapsed_secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed_secs * self.rate_per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }
}

/// Wrong room codes per IP address: after [`RoomCodeGuard::MAX_FAILURES`] failures inside
/// [`RoomCodeGuard::WINDOW`], further attempts from that address are refused with
/// `rate_limited` without looking at the code, so a 4-digit code cannot be brute-forced.
#[derive(Debug, Default)]
pub struct RoomCodeGuard {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// The outcome of checking a handshake's room code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomCodeCheck {
    Accepted,
    Wrong,
    /// Too many wrong codes from this address recently.
    Blocked,
}

impl RoomCodeGuard {
    pub const MAX_FAILURES: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(60);

    /// Checks `given` against `expected` (constant time) for a client at `ip`.
    pub fn check(&self, expected: Option<&str>, given: Option<&str>, ip: IpAddr) -> RoomCodeCheck {
        let Some(expected) = expected else {
            return RoomCodeCheck::Accepted;
        };
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.retain(|_, (since, _)| now.duration_since(*since) < Self::WINDOW);
        if failures
            .get(&ip)
            .is_some_and(|(_, count)| *count >= Self::MAX_FAILURES)
        {
            return RoomCodeCheck::Blocked;
        }
        if given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
            return RoomCodeCheck::Accepted;
        }
        failures.entry(ip).or_insert((now, 0)).1 += 1;
        RoomCodeCheck::Wrong
    }
}

/// Compares two secrets without an early exit on the first differing byte. The length is not
/// secret (codes and tokens have a public, fixed format).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_the_burst_then_the_rate() {
        let mut limit = RateLimit::new(20, 40);
        let start = limit.last;
        let allowed = (0..50).filter(|_| limit.allow_at(start)).count();
        assert_eq!(allowed, 40);
        // Half a second later, ten more tokens.
        let later = start + Duration::from_millis(500);
        let allowed = (0..50).filter(|_| limit.allow_at(later)).count();
        assert_eq!(allowed, 10);
    }

    #[test]
    fn room_code_guard_blocks_an_address_after_repeated_failures() {
        let guard = RoomCodeGuard::default();
        let ip: IpAddr = [10, 0, 0, 7].into();
        let other: IpAddr = [10, 0, 0, 8].into();
        for _ in 0..RoomCodeGuard::MAX_FAILURES {
            assert_eq!(
                guard.check(Some("1234"), Some("0000"), ip),
                RoomCodeCheck::Wrong
            );
        }
        assert_eq!(
            guard.check(Some("1234"), Some("1234"), ip),
            RoomCodeCheck::Blocked
        );
        assert_eq!(
            guard.check(Some("1234"), Some("1234"), other),
            RoomCodeCheck::Accepted
        );
        assert_eq!(guard.check(None, None, ip), RoomCodeCheck::Accepted);
    }
}
