//! The hub clock offset a client estimates from `time_sync` answers: NTP's half-way assumption,
//! the shortest recent round trip believed, drift followed.

use synchub_protocol::TimeSyncReply;
use synchub_protocol::clock::{ClockOffsetEstimate, offset_ms_from_round_trip};

/// One answer: sent at `sent_ms`, received `round_trip_ms` later, stamped by a hub that is
/// `hub_ahead_ms` ahead (read half-way through the round trip).
fn answer(sent_ms: f64, round_trip_ms: f64, hub_ahead_ms: f64) -> (TimeSyncReply, f64) {
    let hub_time = (sent_ms + round_trip_ms / 2.0 + hub_ahead_ms).round() as u64;
    let reply = TimeSyncReply {
        client_time: sent_ms,
        hub_time,
    };
    (reply, sent_ms + round_trip_ms)
}

/// Feeds `answers` (sent time, round trip, hub ahead by) and returns the offset in force after
/// each one.
fn check(answers: &[(f64, f64, f64)], expected_offsets_ms: &[f64]) {
    let mut estimate = ClockOffsetEstimate::new();
    let offsets: Vec<f64> = answers
        .iter()
        .map(|&(sent_ms, round_trip_ms, ahead_ms)| {
            let (reply, received_ms) = answer(sent_ms, round_trip_ms, ahead_ms);
            estimate.add_reply(&reply, received_ms).unwrap()
        })
        .collect();
    assert_eq!(offsets, expected_offsets_ms);
}

#[test]
fn the_hub_is_assumed_to_answer_half_way_through_the_round_trip() {
    // Sent at 1000, back at 1100 local; the hub said 5050: it is 4000 ms ahead.
    assert_eq!(offset_ms_from_round_trip(1000.0, 1100.0, 5050), 4000.0);
    // A hub behind the client gives a negative offset.
    assert_eq!(offset_ms_from_round_trip(9000.0, 9010.0, 4005), -5000.0);
}

#[test]
fn there_is_no_estimate_before_the_first_answer() {
    assert_eq!(ClockOffsetEstimate::new().offset_ms(), None);
}

#[test]
fn the_shortest_round_trip_is_believed() {
    check(
        &[
            // A busy first exchange whose answer was delayed on the way back: its offset is off.
            (1_000.0, 400.0, 3_800.0),
            // A quick one: believed.
            (11_000.0, 10.0, 4_000.0),
            // Slower ones say less; the quick one stays in force.
            (21_000.0, 50.0, 4_100.0),
            (31_000.0, 11.0, 3_990.0),
            // As quick as the best: the newer wins, so a drifting clock is followed.
            (41_000.0, 10.0, 4_002.0),
        ],
        &[3_800.0, 4_000.0, 4_000.0, 4_000.0, 4_002.0],
    );
}

#[test]
fn an_old_answer_stops_counting_after_eight_newer_ones() {
    let mut answers = vec![(0.0, 2.0, 4_000.0)];
    let mut expected = vec![4_000.0];
    for i in 1..=ClockOffsetEstimate::RECENT_SAMPLES {
        // The clock has drifted by 20 ms; these exchanges are slower than the first one.
        answers.push((i as f64 * 10_000.0, 8.0, 4_020.0));
        expected.push(if i < ClockOffsetEstimate::RECENT_SAMPLES {
            4_000.0
        } else {
            4_020.0
        });
    }
    check(&answers, &expected);
}

#[test]
fn an_answer_that_seems_to_arrive_before_it_was_sent_is_left_out() {
    let mut estimate = ClockOffsetEstimate::new();
    let (good, received_ms) = answer(1_000.0, 20.0, 4_000.0);
    assert_eq!(estimate.add_reply(&good, received_ms), Some(4_000.0));
    // The local clock was set back between sending and receiving: a "negative" round trip.
    let (stepped, _) = answer(2_000.0, 20.0, 9_999.0);
    assert_eq!(estimate.add_reply(&stepped, 1_500.0), Some(4_000.0));
    assert_eq!(
        ClockOffsetEstimate::new().add_reply(&stepped, 1_500.0),
        None
    );
}
