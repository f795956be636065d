//! Beats cannot outrun time: a participant who sends beats faster than a heart beats —
//! overlapping batches, resends under new seqs, tiny RR values — has no more beat time stored
//! than has passed (and each beat of overlapping batches once, whatever their seq), and is
//! told `rate_limited`; the rest of the room is untouched.

use synchub_session::record::{DeviceKind, Record};
use synchub_session::{EngineConfig, EngineError, ParticipantId, RrBatch, RrOutcome};

use crate::util::{Room, TEN_O_CLOCK_MS};

fn stored_beats(room: &Room, participant: ParticipantId) -> Vec<f64> {
    room.records()
        .filter_map(|record| match record {
            Record::Beats(batch) if batch.participant_id == participant => Some(batch),
            _ => None,
        })
        .flat_map(|batch| batch.beats.iter().map(|beat| beat.time_ms))
        .collect()
}

fn batch(rr_ms: f64, count: usize, ended_at_ms: i64, seq: Option<u64>) -> RrBatch {
    RrBatch {
        rr_ms: vec![rr_ms; count],
        #[allow(clippy::cast_precision_loss)]
        ended_at_client_ms: Some(ended_at_ms as f64),
        seq,
    }
}

#[test]
fn a_flooding_participant_stores_no_more_beats_than_time_allows_and_the_room_carries_on() {
    let mut room = Room::new(EngineConfig::default(), TEN_O_CLOCK_MS);
    let flooder = room.join(DeviceKind::Web);
    let neighbour = room.join(DeviceKind::Ios);
    let start_ms = room.now_ms;
    let mut refused = 0;
    let mut neighbour_seq = 0;
    // Ten seconds of 20 messages a second, each 300 beats ending now: overlapping batches
    // without seq, alternating with tiny RR values under fresh seqs.
    for tick in 0..200_u64 {
        room.advance_by(50);
        let now = room.now_ms;
        let flood = if tick % 2 == 0 {
            batch(1_000.0, 300, now, None)
        } else {
            batch(1.0, 300, now, Some(tick))
        };
        match room.engine.handle_rr_intervals(now, flooder, flood) {
            Ok(_) => {}
            Err(EngineError::BeatsOutrunTime { ahead_ms }) => {
                assert!(ahead_ms > 10_000.0, "{ahead_ms}");
                refused += 1;
            }
            Err(other) => panic!("unexpected refusal: {other}"),
        }
        room.drain();
        if tick % 20 == 19 {
            // The neighbour's second of beats, accepted every time.
            neighbour_seq += 1;
            let outcome = room.rr(neighbour, batch(1_000.0, 1, now, Some(neighbour_seq)));
            assert!(
                matches!(outcome, RrOutcome::Accepted { repeated: 0, .. }),
                "{outcome:?}"
            );
        }
    }
    let flooded = stored_beats(&room, flooder);
    let elapsed_ms = room.now_ms - start_ms;
    // The first batch's 300 s of history, then at most one beat per 200 ms of time passed
    // plus the 10 s slack: far from the 60 000 beats sent.
    #[allow(clippy::cast_precision_loss)]
    let allowed = 300.0 + (elapsed_ms as f64 + 10_000.0) / 200.0;
    #[allow(clippy::cast_precision_loss)]
    let stored = flooded.len() as f64;
    assert!(
        stored <= allowed,
        "{stored} beats stored, {allowed} allowed"
    );
    assert!(refused > 0, "the flood was never told to slow down");
    assert!(
        flooded.windows(2).all(|pair| pair[0] < pair[1]),
        "every stored beat is later than the one before"
    );
    assert_eq!(stored_beats(&room, neighbour).len(), 10);
    assert!(room.acks_to(neighbour).len() == 10);
}

#[test]
fn overlapping_batches_store_each_beat_once_whatever_their_seq_and_each_is_acknowledged() {
    let mut room = Room::new(EngineConfig::default(), TEN_O_CLOCK_MS);
    let phone = room.join(DeviceKind::Android);
    room.advance_by(20_000);
    let now = room.now_ms;
    // Ten beats, then the last five again with five new ones, without seq: fifteen stored.
    let first = room.rr(phone, batch(1_000.0, 10, now - 5_000, Some(1)));
    assert!(matches!(first, RrOutcome::Accepted { repeated: 0, .. }));
    let overlapping = room.rr(phone, batch(1_000.0, 10, now, None));
    assert!(
        matches!(overlapping, RrOutcome::Accepted { repeated: 5, .. }),
        "{overlapping:?}"
    );
    // The same ten under a fresh seq: every beat is a repeat, nothing more is stored.
    let fresh_seq = room.rr(phone, batch(1_000.0, 10, now, Some(2)));
    assert!(
        matches!(fresh_seq, RrOutcome::Accepted { repeated: 10, .. }),
        "{fresh_seq:?}"
    );
    // Overlapping by three beats under another fresh seq: only the two new beats are stored.
    let shifted = room.rr(phone, batch(1_000.0, 5, now + 2_000, Some(3)));
    assert!(
        matches!(shifted, RrOutcome::Accepted { repeated: 3, .. }),
        "{shifted:?}"
    );
    assert_eq!(stored_beats(&room, phone).len(), 17);
    // Sent again under the same seq, it is a duplicate: nothing more is stored.
    let duplicate = room.rr(phone, batch(1_000.0, 10, now, Some(2)));
    assert!(matches!(duplicate, RrOutcome::Duplicate), "{duplicate:?}");
    let stored = stored_beats(&room, phone);
    assert_eq!(stored.len(), 17);
    assert!(
        stored.windows(2).all(|pair| pair[1] - pair[0] > 900.0),
        "each beat once: {stored:?}"
    );
    // Each seq is acknowledged — the one whose beats were all repeats too, and the duplicate
    // again (it is durable) — so the phone stops resending.
    assert_eq!(room.acks_to(phone), vec![1, 2, 3, 2]);
}

#[test]
fn a_batch_refused_at_the_door_is_stored_whole_when_it_comes_again_after_newer_ones() {
    let mut room = Room::new(EngineConfig::default(), TEN_O_CLOCK_MS);
    let phone = room.join(DeviceKind::Ios);
    room.advance_by(30_000);
    let now = room.now_ms;
    // Seconds 1–10 and 21–30 went through; the batch of 11–20 (seq 2) was refused before it
    // reached the session (the store was behind), so the phone sends it again afterwards.
    room.rr(phone, batch(1_000.0, 10, now - 20_000, Some(1)));
    room.rr(phone, batch(1_000.0, 10, now, Some(3)));
    let resent = room.rr(phone, batch(1_000.0, 10, now - 10_000, Some(2)));
    assert!(
        matches!(resent, RrOutcome::Accepted { repeated: 0, .. }),
        "{resent:?}"
    );
    let mut stored = stored_beats(&room, phone);
    stored.sort_by(f64::total_cmp);
    assert_eq!(stored.len(), 30, "thirty seconds, each beat once");
    assert!(
        stored
            .windows(2)
            .all(|pair| (pair[1] - pair[0] - 1_000.0).abs() < 1.0)
    );
    assert_eq!(room.acks_to(phone), vec![1, 3, 2]);
}

#[test]
fn a_real_phone_sending_a_batch_a_second_is_never_refused() {
    let mut room = Room::new(EngineConfig::default(), TEN_O_CLOCK_MS);
    let phone = room.join(DeviceKind::Ios);
    let mut seq = 0;
    // Ten minutes of a beat a second (the session lasts fifteen), with a little jitter in when each batch is stamped.
    for second in 0..600_i64 {
        room.advance_by(1_000);
        seq += 1;
        let jitter_ms = (second * 37) % 90 - 45;
        let outcome = room.rr(phone, batch(1_000.0, 1, room.now_ms + jitter_ms, Some(seq)));
        assert!(matches!(outcome, RrOutcome::Accepted { .. }), "{outcome:?}");
    }
    assert_eq!(room.acks_to(phone).len(), 600);
}
