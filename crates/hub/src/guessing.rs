//! Bounds on guessing the room's short secrets (the room code, a strap's claim code), for the
//! whole room and not only per address.
//!
//! The room code is on the wall and in a QR code, so it is public in the room, but a code is
//! also all that stands between the venue's network and the room. Two limits apply, both before
//! the code is even compared:
//!
//! - **Per address**: [`GuessLimits::per_address`] wrong codes inside [`GuessLimits::window`]
//!   block that address for the rest of the window. IPv6 addresses are keyed by their /64
//!   prefix: a phone's temporary addresses (RFC 8981) share it, and one attacker can otherwise
//!   draw fresh addresses from a /64 at will.
//! - **For the whole room**: the first [`GuessLimits::room_free`] wrong codes inside the window
//!   (from any addresses) cost nothing; each one after that locks every code check for a delay
//!   that doubles with each further failure, up to [`GuessLimits::max_delay`]. An attacker with
//!   many addresses (IPv4 aliases, a /48 of IPv6) therefore gets at most one guess per
//!   `max_delay` once over the budget. While the room is locked, a right code is refused too
//!   (`rate_limited` with the seconds to wait): answering it would tell the attacker which
//!   guess was right. Phones retry on their own; the delay only exists while someone guesses.
//!
//! The edge checks room codes here directly; a connection carries a [`GuessCharge`] into the
//! engine task, which checks strap codes through it without ever seeing the address.
//!
//! Real elapsed time is measured here with `Instant` (like the per-connection rate limit):
//! these are limits of the edge, not times of the session.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much guessing is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessLimits {
    /// Wrong codes one address (an IPv6 /64) may give inside `window`.
    pub per_address: u32,
    /// Wrong codes the whole room absorbs inside `window` before delays start.
    pub room_free: u32,
    /// The first delay past the room's budget; each further failure doubles it.
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub window: Duration,
}

impl Default for GuessLimits {
    /// 10 a minute per address; 30 for the whole room (a room of 200 where a few mistype stays
    /// well under it), then 1 s, 2 s, 4 s … up to 60 s between guesses.
    fn default() -> Self {
        Self {
            per_address: 10,
            room_free: 30,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            window: Duration::from_secs(60),
        }
    }
}

/// The outcome of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong,
    /// Not checked: too many wrong codes from this address recently.
    AddressBlocked,
    /// Not checked: too many wrong codes in the whole room recently; retry after this long.
    RoomLocked {
        retry_after: Duration,
    },
}

impl CodeCheck {
    /// What the client is told when the code was not accepted.
    pub fn refusal(self, what: &str) -> Option<String> {
        match self {
            CodeCheck::Accepted => None,
            CodeCheck::Wrong => Some(format!("the {what} is missing or wrong")),
            CodeCheck::AddressBlocked => Some(format!(
                "too many wrong codes from this address; wait a minute before trying the {what} again"
            )),
            CodeCheck::RoomLocked { retry_after } => Some(format!(
                "too many wrong codes in this room recently; try the {what} again in {} s",
                retry_after.as_secs().max(1)
            )),
        }
    }
}

/// The addresses' and the room's recent wrong codes.
#[derive(Debug, Default)]
pub struct GuessGuard {
    limits: GuessLimits,
    state: Mutex<GuessState>,
}

#[derive(Debug, Default)]
struct GuessState {
    /// Per address key: when its window started, and its failures since.
    per_address: HashMap<AddressKey, (Instant, u32)>,
    /// The room's failures inside the window, oldest first. At most `room_free` plus one per
    /// delay inside the window, so it stays small.
    room: VecDeque<Instant>,
    /// No code is checked before this instant.
    locked_until: Option<Instant>,
}

/// Who a failure is charged to: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl AddressKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(ip) => AddressKey::V4(ip.octets()),
            IpAddr::V6(ip) => {
                let octets = ip.octets();
                let mut prefix = [0_u8; 8];
                prefix.copy_from_slice(&octets[..8]);
                AddressKey::V6Prefix(prefix)
            }
        }
    }
}

impl GuessGuard {
    pub fn new(limits: GuessLimits) -> Self {
        Self {
            limits,
            state: Mutex::default(),
        }
    }

    pub fn limits(&self) -> GuessLimits {
        self.limits
    }

    /// Checks `given` against `expected` (constant time) for a client at `ip`. No expected
    /// code: everything is accepted.
    pub fn check_room_code(
        &self,
        expected: Option<&str>,
        given: Option<&str>,
        ip: IpAddr,
    ) -> CodeCheck {
        let Some(expected) = expected else {
            return CodeCheck::Accepted;
        };
        self.check_at(Instant::now(), ip, |_| {
            given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
        })
    }

    /// Whether a guess may be checked now, and if so `is_right`'s answer; a wrong guess is
    /// charged to `ip`'s key and to the room. `is_right` runs only when the guess is checked.
    pub fn check_at(
        &self,
        now: Instant,
        ip: IpAddr,
        is_right: impl FnOnce(Instant) -> bool,
    ) -> CodeCheck {
        let limits = self.limits;
        let key = AddressKey::of(ip);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state
            .per_address
            .retain(|_, (since, _)| now.saturating_duration_since(*since) < limits.window);
        while state
            .room
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= limits.window)
        {
            state.room.pop_front();
        }
        if let Some(until) = state.locked_until
            && now < until
        {
            return CodeCheck::RoomLocked {
                retry_after: until - now,
            };
        }
        if state
            .per_address
            .get(&key)
            .is_some_and(|(_, count)| *count >= limits.per_address)
        {
            return CodeCheck::AddressBlocked;
        }
        if is_right(now) {
            return CodeCheck::Accepted;
        }
        state.per_address.entry(key).or_insert((now, 0)).1 += 1;
        state.room.push_back(now);
        let over = u32::try_from(state.room.len())
            .unwrap_or(u32::MAX)
            .saturating_sub(limits.room_free);
        if over > 0 {
            let delay = limits
                .first_delay
                .saturating_mul(1_u32 << (over - 1).min(20))
                .min(limits.max_delay);
            state.locked_until = Some(now + delay);
        }
        CodeCheck::Wrong
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

/// The guesses of one connection, charged to its address and to the room. Opaque on purpose:
/// whoever holds it (the engine task, for `claim_strap`) can have a guess checked, but never
/// learns the address.
#[derive(Clone)]
pub struct GuessCharge {
    guard: Arc<GuessGuard>,
    ip: IpAddr,
}

impl GuessCharge {
    pub fn new(guard: Arc<GuessGuard>, ip: IpAddr) -> Self {
        Self { guard, ip }
    }

    /// Whether a guess may be checked now, and if so `is_right`'s answer (see
    /// [`GuessGuard::check_at`]).
    pub fn check(&self, is_right: impl FnOnce() -> bool) -> CodeCheck {
        self.guard.check_at(Instant::now(), self.ip, |_| is_right())
    }
}

impl std::fmt::Debug for GuessCharge {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("GuessCharge(<address withheld>)")
    }
}

impl PartialEq for GuessCharge {
    /// Two charges are the same when they charge the same guard and address key.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.guard, &other.guard)
            && AddressKey::of(self.ip) == AddressKey::of(other.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> GuessLimits {
        GuessLimits {
            per_address: 3,
            room_free: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_and_others_are_not() {
        let guard = GuessGuard::new(limits());
        let now = Instant::now();
        let ip: IpAddr = [10, 0, 0, 7].into();
        for _ in 0..3 {
            assert_eq!(guard.check_at(now, ip, |_| false), CodeCheck::Wrong);
        }
        assert_eq!(guard.check_at(now, ip, |_| true), CodeCheck::AddressBlocked);
        assert_eq!(
            guard.check_at(now, [10, 0, 0, 8].into(), |_| true),
            CodeCheck::Accepted
        );
        let later = now + Duration::from_secs(61);
        assert_eq!(guard.check_at(later, ip, |_| true), CodeCheck::Accepted);
        assert_eq!(
            GuessGuard::default().check_room_code(None, None, ip),
            CodeCheck::Accepted
        );
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_their_failures() {
        let guard = GuessGuard::new(limits());
        let now = Instant::now();
        for host in 1..=3_u16 {
            let ip: IpAddr = format!("2001:db8:1:2::{host:x}").parse().unwrap();
            assert_eq!(guard.check_at(now, ip, |_| false), CodeCheck::Wrong);
        }
        let same_64: IpAddr = "2001:db8:1:2:abcd::9".parse().unwrap();
        assert_eq!(
            guard.check_at(now, same_64, |_| true),
            CodeCheck::AddressBlocked
        );
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(guard.check_at(now, next_64, |_| true), CodeCheck::Accepted);
        // IPv4 reached over an IPv6 socket is the IPv4 address.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(AddressKey::of(mapped), AddressKey::V4([10, 0, 0, 1]));
    }

    #[test]
    fn the_room_budget_locks_every_address_with_doubling_delays_up_to_the_cap() {
        let guard = GuessGuard::new(limits());
        let start = Instant::now();
        let address = |n: u8| IpAddr::from([10, 0, 1, n]);
        for n in 0..5 {
            assert_eq!(
                guard.check_at(start, address(n), |_| false),
                CodeCheck::Wrong
            );
        }
        // The sixth failure is over the budget: 1 s for everyone, right code or not.
        assert_eq!(
            guard.check_at(start, address(5), |_| false),
            CodeCheck::Wrong
        );
        let mut asked = false;
        assert_eq!(
            guard.check_at(start, address(6), |_| {
                asked = true;
                true
            }),
            CodeCheck::RoomLocked {
                retry_after: Duration::from_secs(1)
            }
        );
        assert!(!asked, "a locked room does not even compare the code");
        let mut now = start;
        let mut delays = Vec::new();
        for n in 0..5 {
            now += Duration::from_secs(1);
            // Wait out the lock, then fail again.
            while let CodeCheck::RoomLocked { retry_after } =
                guard.check_at(now, address(100 + n), |_| false)
            {
                now += retry_after;
            }
            if let CodeCheck::RoomLocked { retry_after } =
                guard.check_at(now, address(10 + n), |_| true)
            {
                delays.push(retry_after.as_secs());
            }
        }
        assert_eq!(delays, vec![2, 4, 8, 8, 8], "doubling, capped");
        // Once the window has passed without failures, the budget is whole again.
        let quiet = now + Duration::from_secs(120);
        assert_eq!(
            guard.check_at(quiet, address(200), |_| true),
            CodeCheck::Accepted
        );
    }
}
