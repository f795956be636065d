//! The offset between the hub's clock and a client's, estimated from `time_sync` round trips:
//! the one implementation the hub's own clients (simulator, projector) share.
//!
//! Clients stamp beats (`endedAt`) and read the breathing pacer on the hub's clock, so each needs
//! `hub clock − local clock`. A client sends `time_sync {clientTime}` and the hub answers with
//! its own time; assuming the hub read its clock half-way through the round trip (NTP's
//! assumption), the offset is `hubTime − (clientTime + roundTrip / 2)`, right to within half
//! the round trip. So the answer with the shortest round trip is the one to believe, as
//! `docs/protocol/README.md` tells phone developers.
//!
//! Like NTP's clock filter, the shortest is chosen among the last
//! [`ClockOffsetEstimate::RECENT_SAMPLES`] answers only, not over all time: a display that stays
//! connected all day follows its clock's drift, and a busy moment (many phones joining at once)
//! never outweighs the quiet exchanges around it.
//!
//! Pure: the caller reads its own clock and passes the arrival time in.

use crate::hub::TimeSyncReply;

/// `hub clock − local clock`, in ms, from one round trip: sent at `sent_local_ms`, answered
/// with `hub_time_ms`, received at `received_local_ms` (both local times in ms since the Unix
/// epoch), assuming the hub read its clock half-way through.
pub fn offset_ms_from_round_trip(
    sent_local_ms: f64,
    received_local_ms: f64,
    hub_time_ms: u64,
) -> f64 {
    // Times in ms since the Unix epoch stay below 2^53, where the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let hub_ms = hub_time_ms as f64;
    hub_ms - (sent_local_ms + received_local_ms) / 2.0
}

/// One answered `time_sync`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OffsetSample {
    round_trip_ms: f64,
    offset_ms: f64,
}

/// The best estimate of `hub clock − local clock` from the recent `time_sync` answers.
///
/// ```
/// use synchub_protocol::TimeSyncReply;
/// use synchub_protocol::clock::ClockOffsetEstimate;
///
/// let mut estimate = ClockOffsetEstimate::new();
/// assert_eq!(estimate.offset_ms(), None);
/// // Sent at 1000 local, answered 5050 by the hub, back at 1100: the hub is 4000 ms ahead.
/// let reply = TimeSyncReply { client_time: 1000.0, hub_time: 5050 };
/// assert_eq!(estimate.add_reply(&reply, 1100.0), Some(4000.0));
/// // A slower round trip says less, so the faster one stays in force.
/// let slow = TimeSyncReply { client_time: 2000.0, hub_time: 6300 };
/// assert_eq!(estimate.add_reply(&slow, 2500.0), Some(4000.0));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClockOffsetEstimate {
    /// The last answers, oldest overwritten first.
    recent: [Option<OffsetSample>; ClockOffsetEstimate::RECENT_SAMPLES],
    /// Where the next answer goes in `recent`.
    next: usize,
}

impl ClockOffsetEstimate {
    /// How many of the latest answers the estimate chooses from (NTP's clock filter keeps
    /// eight). At one `time_sync` every 10 s that is the last 80 s.
    pub const RECENT_SAMPLES: usize = 8;

    /// No answer yet: no estimate.
    pub fn new() -> Self {
        ClockOffsetEstimate::default()
    }

    /// Takes the hub's answer to a `time_sync` and when it arrived, `received_local_ms`, on the
    /// clock `clientTime` was read from. Returns the offset in force afterwards, in ms.
    ///
    /// An answer that seems to arrive before it was sent (the local clock was set back in
    /// between) says nothing about the offset and is left out.
    pub fn add_reply(&mut self, reply: &TimeSyncReply, received_local_ms: f64) -> Option<f64> {
        let round_trip_ms = received_local_ms - reply.client_time;
        if round_trip_ms.is_finite() && round_trip_ms >= 0.0 {
            self.recent[self.next] = Some(OffsetSample {
                round_trip_ms,
                offset_ms: offset_ms_from_round_trip(
                    reply.client_time,
                    received_local_ms,
                    reply.hub_time,
                ),
            });
            self.next = (self.next + 1) % Self::RECENT_SAMPLES;
        }
        self.offset_ms()
    }

    /// `hub clock − local clock`, in ms, from the recent answer with the shortest round trip
    /// (the latest of equals); `None` before the first answer.
    pub fn offset_ms(&self) -> Option<f64> {
        // Walk from the oldest to the newest so that among equal round trips the newest wins.
        (0..Self::RECENT_SAMPLES)
            .filter_map(|age| self.recent[(self.next + age) % Self::RECENT_SAMPLES])
            .reduce(|best, sample| {
                if sample.round_trip_ms <= best.round_trip_ms {
                    sample
                } else {
                    best
                }
            })
            .map(|sample| sample.offset_ms)
    }
}
