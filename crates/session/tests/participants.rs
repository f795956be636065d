//! Participants: resume inside and after the grace, batch sequence numbers, the beat time
//! range, clock offsets, capacity.

use synchub_session::record::{DeviceKind, Record};
use synchub_session::{
    EngineConfig, EngineError, MessageBody, ParticipantId, ResumeToken, RrBatch, RrOutcome,
};

use crate::util::{Heart, Rhythm, Room, TEN_O_CLOCK_MS, join_request};

const T0: i64 = TEN_O_CLOCK_MS;

fn token_of(room: &Room, participant: ParticipantId) -> ResumeToken {
    room.messages_to(participant)
        .find_map(|body| match body {
            MessageBody::SessionJoined(joined) => Some(joined.resume_token),
            _ => None,
        })
        .expect("session_joined")
}

fn hub_scores(room: &Room, participant: ParticipantId) -> Vec<(i64, synchub_hrv::Quality)> {
    room.records()
        .filter_map(|record| match record {
            Record::Metrics(m) if m.participant_id == participant => Some((m.at_ms, m.quality)),
            _ => None,
        })
        .collect()
}

/// Feeds a paced heart for `secs` seconds, one batch per second.
fn feed(room: &mut Room, participant: ParticipantId, heart: &mut Heart, secs: i64) {
    for _ in 0..secs {
        room.advance_by(1_000);
        let batch = heart.beats_until(room.now_ms as f64, None, 0.0);
        if !batch.rr_ms.is_empty() {
            room.rr(participant, batch);
        }
    }
}

#[test]
fn a_resume_inside_the_grace_keeps_the_id_and_the_analyser() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let phone = room.join(DeviceKind::Ios);
    let token = token_of(&room, phone);
    let mut heart = Heart::new(Rhythm::Paced, room.now_ms as f64, 0);
    feed(&mut room, phone, &mut heart, 90);
    let before = hub_scores(&room, phone);
    assert!(before.iter().any(|(_, q)| *q == synchub_hrv::Quality::Good));

    room.engine
        .handle_disconnect(room.now_ms, phone)
        .expect("disconnect");
    room.advance_by(30_000);
    assert_eq!(
        room.engine.participant_count(),
        1,
        "counted while inside the grace"
    );
    let resumed = room
        .engine
        .handle_resume(room.now_ms, &token)
        .expect("resume");
    room.drain();
    assert_eq!(resumed, phone);
    // The phone resends the beats it buffered while away: the analyser continues, no warm-up.
    let scores_before = hub_scores(&room, phone).len();
    feed(&mut room, phone, &mut heart, 10);
    let after = hub_scores(&room, phone);
    assert!(after.len() > scores_before);
    assert!(
        after[scores_before..]
            .iter()
            .all(|(_, q)| *q != synchub_hrv::Quality::WarmingUp),
        "no second warm-up after a resume"
    );
    let joined_again = room.messages_to(phone).filter(|body| {
        matches!(body, MessageBody::SessionJoined(joined) if joined.resumed && joined.participant_id == phone)
    });
    assert_eq!(joined_again.count(), 1);
}

#[test]
fn after_the_grace_the_participant_is_closed_and_the_token_is_dead() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let phone = room.join(DeviceKind::Web);
    let token = token_of(&room, phone);
    let dropped_at_ms = room.now_ms + 2_000;
    room.advance_to(dropped_at_ms);
    room.engine
        .handle_disconnect(dropped_at_ms, phone)
        .expect("disconnect");
    room.advance_by(59_999);
    assert_eq!(room.engine.participant_count(), 1);
    room.advance_by(1);
    assert_eq!(room.engine.participant_count(), 0);
    let closed: Vec<i64> = room
        .records()
        .filter_map(|record| match record {
            Record::ParticipantClosed(closed) if closed.participant_id == phone => {
                Some(closed.left_at_ms)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        vec![dropped_at_ms],
        "left when the connection dropped"
    );
    assert_eq!(
        room.engine.handle_resume(room.now_ms, &token),
        Err(EngineError::UnknownResumeToken)
    );
    assert_eq!(
        room.engine
            .handle_update_coherence(room.now_ms, phone, 50.0),
        Err(EngineError::UnknownParticipant(phone))
    );
}

#[test]
fn a_token_names_its_holder_until_the_session_completes() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let phone = room.join(DeviceKind::Web);
    let token = token_of(&room, phone);
    let session_id = room.engine.current_session().expect("session").session_id;
    let owner = room.engine.participant_by_token(&token).expect("found");
    assert_eq!(
        (owner.session_id, owner.participant_id, owner.pseudonym),
        (session_id, phone, join_request(DeviceKind::Web).pseudonym)
    );
    let mut one_bit_off = token;
    one_bit_off.0[0] ^= 1;
    assert_eq!(room.engine.participant_by_token(&one_bit_off), None);

    room.engine.handle_leave(room.now_ms, phone).expect("leave");
    room.drain();
    assert_eq!(
        room.engine
            .participant_by_token(&token)
            .map(|owner| owner.participant_id),
        Some(phone),
        "a participant who left is found until the session completes"
    );
    room.advance_to(T0 + 900_000);
    assert_eq!(room.engine.participant_by_token(&token), None);
}

#[test]
fn a_forged_token_is_unknown() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Web);
    let mut forged = token_of(&room, phone);
    forged.0[15] ^= 1;
    assert_eq!(
        room.engine.handle_resume(room.now_ms, &forged),
        Err(EngineError::UnknownResumeToken)
    );
}

#[test]
fn a_duplicate_seq_is_dropped_and_acknowledged_again_once_durable() {
    let mut room = Room::new(EngineConfig::default(), T0);
    room.store_confirms = false;
    let phone = room.join(DeviceKind::Ios);
    let batch = |seq| RrBatch {
        rr_ms: vec![800.0, 810.0, 820.0],
        ended_at_client_ms: None,
        seq: Some(seq),
    };
    assert!(matches!(
        room.rr(phone, batch(7)),
        RrOutcome::Accepted { .. }
    ));
    // Resent before the store confirmed it: dropped, no ack yet.
    assert_eq!(room.rr(phone, batch(7)), RrOutcome::Duplicate);
    assert!(room.acks_to(phone).is_empty());
    room.engine.handle_beats_durable(phone, 7);
    room.drain();
    assert_eq!(room.acks_to(phone), vec![7]);
    // Resent after the ack was lost: dropped and acknowledged again.
    assert_eq!(room.rr(phone, batch(7)), RrOutcome::Duplicate);
    assert_eq!(room.acks_to(phone), vec![7, 7]);
    // A second confirmation of the same batch changes nothing.
    room.engine.handle_beats_durable(phone, 7);
    room.drain();
    assert_eq!(room.acks_to(phone), vec![7, 7]);
    let stored = room
        .records()
        .filter(|record| matches!(record, Record::Beats(_)))
        .count();
    assert_eq!(stored, 1, "the duplicate never reaches the store");
}

fn check_range(ended_at_offset_ms: f64, rr_ms: Vec<f64>, accepted: bool) {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Ios);
    let batch = RrBatch {
        rr_ms,
        ended_at_client_ms: Some(room.now_ms as f64 + ended_at_offset_ms),
        seq: Some(1),
    };
    let outcome = room.engine.handle_rr_intervals(room.now_ms, phone, batch);
    room.drain();
    match outcome {
        Ok(_) => assert!(accepted, "accepted but should be stale"),
        Err(error) => {
            assert!(!accepted, "refused: {error}");
            assert_eq!(error.code(), "stale_beats");
            assert!(room.records().all(|r| !matches!(r, Record::Beats(_))));
        }
    }
}

#[test]
fn beats_from_five_minutes_ago_to_five_seconds_ahead_are_accepted() {
    check_range(0.0, vec![1000.0; 3], true);
    check_range(5_000.0, vec![1000.0; 3], true);
    check_range(5_001.0, vec![1000.0; 3], false);
    // The first beat ended 299 s ago: fine; 301 s ago: stale.
    check_range(-297_000.0, vec![1000.0; 3], true);
    check_range(-299_000.0, vec![1000.0; 3], false);
    // A phone's last minute of beats, sent on joining.
    check_range(0.0, vec![1000.0; 60], true);
}

#[test]
fn invalid_rr_values_are_refused_naming_the_index() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Ios);
    let refused = room.engine.handle_rr_intervals(
        room.now_ms,
        phone,
        RrBatch {
            rr_ms: vec![800.0, f64::NAN],
            ended_at_client_ms: None,
            seq: None,
        },
    );
    assert!(matches!(
        refused,
        Err(EngineError::InvalidRr { index: 1, .. })
    ));
    // Out of the physiological range is not refused: stored flagged, cleaning corrects it.
    room.rr(
        phone,
        RrBatch {
            rr_ms: vec![800.0, 3000.0],
            ended_at_client_ms: None,
            seq: None,
        },
    );
    let flags: Vec<bool> = room
        .records()
        .filter_map(|record| match record {
            Record::Beats(batch) => {
                Some(batch.beats.iter().map(|b| b.artifact).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(flags, vec![false, true]);
}

#[test]
fn the_clock_offset_moves_beat_times_into_hub_time() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Ios);
    let behind_ms = 3_600_000.0;
    // Without a time sync, a phone an hour behind sends beats from an hour ago: stale.
    let unsynced = room.engine.handle_rr_intervals(
        room.now_ms,
        phone,
        RrBatch {
            rr_ms: vec![1000.0, 1000.0],
            ended_at_client_ms: Some(room.now_ms as f64 - behind_ms),
            seq: None,
        },
    );
    assert_eq!(unsynced.map_err(|e| e.code()), Err("stale_beats"));
    // time_sync: the message left the phone at client time now − 1 h and took 20 ms.
    let sent_client_ms = room.now_ms as f64 - behind_ms;
    room.advance_by(20);
    room.engine
        .handle_time_sync(room.now_ms, phone, sent_client_ms)
        .expect("time sync");
    // A second, slower sample does not make the estimate worse.
    room.engine
        .handle_time_sync(room.now_ms + 200, phone, sent_client_ms + 20.0)
        .expect("time sync");
    let ended_client_ms = room.now_ms as f64 - behind_ms - 500.0;
    room.rr(
        phone,
        RrBatch {
            rr_ms: vec![900.0, 1000.0],
            ended_at_client_ms: Some(ended_client_ms),
            seq: None,
        },
    );
    let times: Vec<f64> = room
        .records()
        .filter_map(|record| match record {
            Record::Beats(batch) => Some(batch.beats.iter().map(|b| b.time_ms).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    let last_ms = ended_client_ms + behind_ms + 20.0;
    assert_eq!(times, vec![last_ms - 1000.0, last_ms]);
}

#[test]
fn a_full_session_refuses_joiners_and_frees_a_place_on_leave() {
    let config = EngineConfig {
        max_participants: Some(2),
        ..EngineConfig::default()
    };
    let mut room = Room::new(config, T0);
    let first = room.join(DeviceKind::Web);
    room.join(DeviceKind::Web);
    let refused = room
        .engine
        .handle_join(room.now_ms, join_request(DeviceKind::Web));
    assert_eq!(refused, Err(EngineError::SessionFull { capacity: 2 }));
    assert_eq!(refused.map_err(|e| e.code()), Err("session_full"));
    room.engine.handle_leave(room.now_ms, first).expect("leave");
    assert!(
        room.engine
            .handle_join(room.now_ms, join_request(DeviceKind::Web))
            .is_ok()
    );
}

#[test]
fn slots_are_stable_and_the_smallest_free_one_is_reused() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let ids: Vec<ParticipantId> = (0..3).map(|_| room.join(DeviceKind::Web)).collect();
    let slots = |room: &Room| -> Vec<(ParticipantId, u32)> {
        room.engine
            .participants()
            .map(|view| (view.participant_id, view.slot))
            .collect()
    };
    assert_eq!(slots(&room), vec![(ids[0], 0), (ids[1], 1), (ids[2], 2)]);
    room.engine
        .handle_disconnect(room.now_ms, ids[1])
        .expect("disconnect");
    let newcomer = room.join(DeviceKind::Web);
    assert_eq!(
        slots(&room)[3],
        (newcomer, 3),
        "a slot in its grace is not reused"
    );
    room.engine
        .handle_leave(room.now_ms, ids[0])
        .expect("leave");
    let second = room.join(DeviceKind::Web);
    assert_eq!(slots(&room)[0], (second, 0));
}

#[test]
fn set_intention_and_the_pacer() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Web);
    room.engine
        .handle_set_intention(room.now_ms, phone, None, Some(false))
        .expect("set intention");
    room.drain();
    assert!(room.records().any(|record| matches!(
        record,
        Record::ParticipantChanged { participant_id, intention: None, research_consent: false, .. }
            if *participant_id == phone
    )));
    let pacer_on_join = room.messages_to(phone).find_map(|body| match body {
        MessageBody::Pacer(pacer) => Some(*pacer),
        _ => None,
    });
    assert_eq!(pacer_on_join.map(|p| p.breaths_per_min), Some(6.0));
    assert!(room.engine.handle_set_pacer(room.now_ms, 0.0, 0.5).is_err());
    room.engine
        .handle_set_pacer(room.now_ms + 10, 5.5, 0.5)
        .expect("pacer");
    room.drain();
    assert!(room.broadcasts().any(|broadcast| matches!(
        broadcast,
        synchub_session::Broadcast::Pacer(pacer) if pacer.breaths_per_min == 5.5 && pacer.epoch_hub_ms == T0 + 10
    )));
}

#[test]
fn feedback_stops_when_the_score_goes_stale() {
    let mut room = Room::new(EngineConfig::default(), T0);
    let phone = room.join(DeviceKind::Web);
    room.score(phone, 55.0);
    room.advance_by(40_000);
    let times: Vec<i64> = room.feedback_to(phone).iter().map(|f| f.at_ms).collect();
    // After the update itself, on the 5-second cadence while the score is ≤ 15 s old.
    assert_eq!(times, vec![T0, T0 + 5_000, T0 + 10_000, T0 + 15_000]);
}
