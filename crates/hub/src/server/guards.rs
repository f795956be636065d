//! The per-connection guards that run at the edge before anything reaches the engine: a token
//! bucket per connection (20 messages/s) and a constant-time comparison for secrets (wrong room
//! and strap codes are bounded in `guessing`).

use std::time::Instant;

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

pub use crate::guessing::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
