//! Beat times from strap notifications (coherence.md §7).
//!
//! A Heart Rate Measurement carries RR intervals but no timestamps, and it reaches us late by a
//! varying amount: the strap batches beats into ~1 s notifications, the radio retries, BlueZ
//! and the runtime queue them. Stamping each beat with its notification's arrival time would
//! move beats by that jitter and invent variability that the heart never had. So beat times
//! are rebuilt from the RR values themselves — each beat ends one RR after the one before — and
//! the arrival time is used only to anchor that chain to the hub's clock: once at the start,
//! and again only when the chain and the clock disagree by more than [`REANCHOR_AFTER_MS`]
//! (notifications were lost, the strap reconnected, or it was off the skin).
//!
//! Pure: time comes in as an argument.

/// How far the chain of summed RR intervals may drift from the arrival times before it is
/// re-anchored, in ms. Delivery jitter stays well below it; a lost notification or a
/// reconnection (which loses beats) exceeds it.
pub const REANCHOR_AFTER_MS: f64 = 2000.0;

/// The beats of one notification, as the hub sends them to the engine (`rr_intervals {rr,
/// endedAt}`).
#[derive(Debug, Clone, PartialEq)]
pub struct BeatBatch {
    /// RR intervals in ms, oldest first.
    pub rr_ms: Vec<f64>,
    /// When the last beat of the batch ended, in ms on the hub's clock.
    pub ended_at_ms: i64,
}

/// One strap's chain of beat times. Keep one per strap for as long as the strap is known (also
/// across reconnections: the drift rule re-anchors after a gap by itself).
#[derive(Debug, Clone, Default)]
pub struct BeatTimeline {
    /// When the last beat handed out ended, in ms, unrounded so that rounding each batch's
    /// `ended_at_ms` to whole milliseconds never accumulates.
    last_beat_end_ms: Option<f64>,
    /// How many times the chain was anchored to an arrival time (the first time included).
    anchors: u64,
}

impl BeatTimeline {
    /// An empty timeline: the first notification with beats anchors it.
    pub fn new() -> BeatTimeline {
        BeatTimeline::default()
    }

    /// Places one notification's RR intervals (ms, oldest first) that arrived at
    /// `arrived_at_ms` on the hub's clock, and returns them with the time the last one ended.
    /// `None` when the notification held no RR interval: it moves nothing, and the next beats
    /// continue the chain.
    pub fn push(&mut self, rr_ms: &[f64], arrived_at_ms: i64) -> Option<BeatBatch> {
        if rr_ms.is_empty() {
            return None;
        }
        let arrived_at_ms = arrived_at_ms as f64;
        let span_ms: f64 = rr_ms.iter().sum();
        let end_ms = match self.last_beat_end_ms {
            Some(last) if (last + span_ms - arrived_at_ms).abs() <= REANCHOR_AFTER_MS => {
                last + span_ms
            }
            _ => {
                self.anchors += 1;
                arrived_at_ms
            }
        };
        self.last_beat_end_ms = Some(end_ms);
        Some(BeatBatch {
            rr_ms: rr_ms.to_vec(),
            ended_at_ms: end_ms.round() as i64,
        })
    }

    /// How many times the chain was anchored to an arrival time, the first included: more than
    /// one means beats were lost or the strap reconnected.
    pub fn anchors(&self) -> u64 {
        self.anchors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(rr_ms, arrived_at_ms)` notifications and returns each batch's `ended_at_ms`
    /// (`None` for a notification without beats).
    fn ended_at(notifications: &[(&[f64], i64)]) -> Vec<Option<i64>> {
        let mut timeline = BeatTimeline::new();
        notifications
            .iter()
            .map(|(rr, arrived)| timeline.push(rr, *arrived).map(|batch| batch.ended_at_ms))
            .collect()
    }

    #[test]
    fn the_first_notification_ends_at_its_arrival() {
        let mut timeline = BeatTimeline::new();
        let batch = timeline.push(&[800.0, 810.0], 10_000).unwrap();
        assert_eq!(
            batch,
            BeatBatch {
                rr_ms: vec![800.0, 810.0],
                ended_at_ms: 10_000
            }
        );
        assert_eq!(timeline.anchors(), 1);
    }

    #[test]
    fn jitter_in_arrival_keeps_beats_on_the_rr_grid() {
        // One beat of 1000 ms per notification; the notifications arrive 0 to 1.5 s late.
        assert_eq!(
            ended_at(&[
                (&[1000.0], 1_000),
                (&[1000.0], 2_300),
                (&[1000.0], 3_050),
                (&[1000.0], 5_400),
                (&[1000.0], 5_450),
                (&[1000.0], 6_000),
            ]),
            [
                Some(1_000),
                Some(2_000),
                Some(3_000),
                Some(4_000),
                Some(5_000),
                Some(6_000)
            ]
        );
    }

    #[test]
    fn bunched_notifications_continue_the_chain() {
        // Three notifications queued during a radio hiccup arrive in the same millisecond.
        let mut timeline = BeatTimeline::new();
        timeline.push(&[900.0], 1_000);
        let ends: Vec<i64> = [
            (&[900.0][..], 3_700),
            (&[900.0, 900.0], 3_700),
            (&[900.0], 3_700),
        ]
        .iter()
        .map(|(rr, arrived)| timeline.push(rr, *arrived).unwrap().ended_at_ms)
        .collect();
        assert_eq!(ends, [1_900, 3_700, 4_600]);
        assert_eq!(timeline.anchors(), 1);
    }

    #[test]
    fn a_gap_longer_than_two_seconds_re_anchors() {
        let mut timeline = BeatTimeline::new();
        timeline.push(&[1000.0], 1_000);
        timeline.push(&[1000.0], 2_000);
        // Five notifications lost: the next beat arrives at 8 s, but the chain says 3 s.
        let batch = timeline.push(&[1000.0], 8_000).unwrap();
        assert_eq!(batch.ended_at_ms, 8_000);
        assert_eq!(timeline.anchors(), 2);
        // And the chain continues from the new anchor.
        assert_eq!(timeline.push(&[1000.0], 9_100).unwrap().ended_at_ms, 9_000);
    }

    #[test]
    fn drift_of_exactly_two_seconds_does_not_re_anchor_and_more_does() {
        assert_eq!(
            ended_at(&[(&[1000.0], 1_000), (&[1000.0], 4_000)]),
            [Some(1_000), Some(2_000)]
        );
        assert_eq!(
            ended_at(&[(&[1000.0], 1_000), (&[1000.0], 4_001)]),
            [Some(1_000), Some(4_001)]
        );
        // Beats running ahead of the clock (a late first anchor) re-anchor by the same rule.
        assert_eq!(
            ended_at(&[(&[1000.0], 5_000), (&[1000.0], 3_999)]),
            [Some(5_000), Some(3_999)]
        );
    }

    #[test]
    fn notifications_without_rr_give_no_batch_and_keep_the_chain() {
        assert_eq!(
            ended_at(&[
                (&[800.0], 1_000),
                (&[], 1_900),
                (&[], 2_500),
                (&[800.0, 800.0], 2_700)
            ]),
            [Some(1_000), None, None, Some(2_600)]
        );
        let mut timeline = BeatTimeline::new();
        assert_eq!(timeline.push(&[], 1_000), None);
        assert_eq!(timeline.anchors(), 0);
    }

    #[test]
    fn fractional_rr_does_not_accumulate_rounding() {
        // 955.078125 ms (978/1024 s) a hundred times: the chain ends at 95 507.8125 ms after the
        // first beat, whatever the rounding of each batch.
        let rr = 978.0 * 1000.0 / 1024.0;
        let mut timeline = BeatTimeline::new();
        timeline.push(&[rr], 0);
        let mut last = 0;
        for n in 1..=100 {
            last = timeline
                .push(&[rr], (f64::from(n) * rr) as i64 + 300)
                .unwrap()
                .ended_at_ms;
        }
        assert_eq!(last, (100.0 * rr).round() as i64);
        assert_eq!(timeline.anchors(), 1);
    }
}
