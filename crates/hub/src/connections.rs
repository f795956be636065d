//! What the engine task knows about each live connection, and the per-connection and per-IP
//! guards that run at the edge before anything reaches the engine.
//!
//! Both transports (`/socket.io/` and `/ws`) end up as a [`Outbox`] the engine task sends
//! [`Encoded`] events through. An event is serialised once into an `Encoded` and the same bytes
//! go to every recipient: a broadcast to 2 000 phones is one `serde_json` call, not 2 000.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use synchub_protocol::HubEvent;
use tokio::sync::mpsc;

/// Identifies one connection for the lifetime of the hub process.
pub type ConnId = u64;

/// A hub event serialised once, ready for both transports.
#[derive(Debug)]
pub struct Encoded {
    pub name: &'static str,
    /// The `/ws` text frame `{"event": NAME, "data": …}`; clones share the bytes.
    pub frame: Utf8Bytes,
    /// The payload alone, for Socket.IO's `42["name", payload]` framing.
    pub payload: Box<RawValue>,
}

impl Encoded {
    pub fn new(event: &HubEvent) -> Arc<Encoded> {
        let data = event.data();
        // Hub payloads are plain data (strings, finite numbers, maps): serialising cannot fail.
        let payload_text = serde_json::to_string(&data).unwrap_or_else(|_| "null".to_owned());
        let name = event.name();
        let frame = Utf8Bytes::from(format!(r#"{{"event":"{name}","data":{payload_text}}}"#));
        let payload = RawValue::from_string(payload_text)
            .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("null is JSON"));
        Arc::new(Encoded {
            name,
            frame,
            payload,
        })
    }
}

/// What a `/ws` connection's writer task receives.
#[derive(Debug, Clone)]
pub enum WsOut {
    Text(Utf8Bytes),
    /// Send a close frame and end the connection (wrong room code, shutdown, slow client).
    Close,
}

/// Capacity of a `/ws` connection's outgoing queue. A phone that cannot keep up with 1 Hz
/// broadcasts plus its own feedback for this many messages is gone; it is disconnected (and
/// counted) rather than buffered without bound.
pub const WS_OUTBOX_CAPACITY: usize = 256;

/// How the engine task reaches one connection.
#[derive(Debug, Clone)]
pub enum Outbox {
    Ws(mpsc::Sender<WsOut>),
    SocketIo(SocketRef),
    /// A hub-read strap: nobody reads its messages (claimers get the wearer's feedback
    /// through the engine task).
    Strap,
}

/// Why a send did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The client does not read fast enough; the connection is being closed.
    Slow,
    /// The connection is already gone.
    Closed,
}

impl Outbox {
    pub fn send(&self, encoded: &Encoded) -> Result<(), SendFailure> {
        match self {
            Outbox::Ws(sender) => {
                sender
                    .try_send(WsOut::Text(encoded.frame.clone()))
                    .map_err(|error| match error {
                        mpsc::error::TrySendError::Full(_) => SendFailure::Slow,
                        mpsc::error::TrySendError::Closed(_) => SendFailure::Closed,
                    })
            }
            Outbox::SocketIo(socket) => {
                socket
                    .emit(encoded.name, &*encoded.payload)
                    .map_err(|error| match error {
                        socketioxide::SendError::Socket(
                            socketioxide::SocketError::InternalChannelFull,
                        ) => SendFailure::Slow,
                        _ => SendFailure::Closed,
                    })
            }
            Outbox::Strap => Ok(()),
        }
    }

    /// Ends the connection from the hub's side.
    pub fn close(&self) {
        match self {
            Outbox::Ws(sender) => {
                // A full queue means the writer is stuck: dropping the sender ends it too.
                let _ = sender.try_send(WsOut::Close);
            }
            Outbox::SocketIo(socket) => {
                // Already closed is fine: that is what we want.
                let _ = socket.clone().disconnect();
            }
            Outbox::Strap => {}
        }
    }
}

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

    #[test]
    fn encoded_frame_and_payload_carry_the_same_json() {
        let event = HubEvent::RrAck(synchub_protocol::RrAck { seq: 7 });
        let encoded = Encoded::new(&event);
        assert_eq!(
            encoded.frame.as_str(),
            r#"{"event":"rr_ack","data":{"seq":7}}"#
        );
        assert_eq!(encoded.payload.get(), r#"{"seq":7}"#);
        assert_eq!(HubEvent::from_frame(encoded.frame.as_str()).unwrap(), event);
    }
}
