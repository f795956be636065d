//! The facilitator's controls, switching schedule modes, starting mid-slot, and restoring a
//! session after a restart.

use synchub_session::record::{DeviceKind, Phase, Record, ScheduleMode};
use synchub_session::{
    Broadcast, Engine, EngineConfig, EngineError, MessageBody, PhaseDurations, RestoredParticipant,
    RestoredSession, ScheduleConfig,
};

use crate::util::{Room, TEN_O_CLOCK_MS, join_request};

const T0: i64 = TEN_O_CLOCK_MS;

fn manual() -> EngineConfig {
    EngineConfig {
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations {
                preparation_secs: 10,
                active_secs: 60,
                integration_secs: 20,
            },
        },
        ..EngineConfig::default()
    }
}

fn phase_records(room: &Room) -> Vec<(Phase, i64, Option<i64>)> {
    room.records()
        .filter_map(|record| match record {
            Record::PhaseChanged {
                phase,
                at_ms,
                ends_at_ms,
                ..
            } => Some((*phase, *at_ms, *ends_at_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn manual_mode_waits_for_the_facilitator() {
    let mut room = Room::new(manual(), T0 + 123);
    assert_eq!(room.engine.poll_timeout(), None, "nothing scheduled");
    assert_eq!(
        room.engine
            .handle_join(room.now_ms, join_request(DeviceKind::Web)),
        Err(EngineError::NoActiveSession)
    );
    let start_ms = T0 + 5_000;
    room.advance_to(start_ms);
    let session = room.engine.handle_start_session(start_ms).expect("start");
    assert_eq!(
        room.engine.handle_start_session(start_ms),
        Err(EngineError::SessionInProgress)
    );
    room.drain();
    room.join(DeviceKind::Web);

    // Advance preparation early, extend active by 30 s, let integration run out.
    room.advance_to(start_ms + 4_000);
    assert_eq!(
        room.engine.handle_advance_phase(room.now_ms, session),
        Ok(Phase::Active)
    );
    room.drain();
    room.advance_to(start_ms + 20_000);
    let new_end = room
        .engine
        .handle_extend_phase(room.now_ms, session, 30)
        .expect("extend");
    room.drain();
    assert_eq!(new_end, start_ms + 4_000 + 60_000 + 30_000);
    room.advance_to(start_ms + 200_000);
    assert_eq!(
        phase_records(&room),
        vec![
            (Phase::Preparation, start_ms, Some(start_ms + 10_000)),
            (Phase::Active, start_ms + 4_000, Some(start_ms + 64_000)),
            (
                Phase::Integration,
                start_ms + 94_000,
                Some(start_ms + 114_000)
            ),
            (Phase::Complete, start_ms + 114_000, None),
        ]
    );
    let extension = room.broadcasts().any(|broadcast| {
        matches!(broadcast, Broadcast::PhaseChanged(change)
            if change.phase == Phase::Active && change.ends_at_ms == Some(start_ms + 94_000))
    });
    assert!(extension, "the extension is broadcast with the new end");
    assert!(room.engine.current_session().is_none());
    assert_eq!(room.engine.poll_timeout(), None);
    assert_eq!(
        room.engine
            .handle_join(room.now_ms, join_request(DeviceKind::Web)),
        Err(EngineError::NoActiveSession)
    );
    let summary = room
        .records()
        .find_map(|record| match record {
            Record::SessionCompleted { summary, .. } => Some(summary.clone()),
            _ => None,
        })
        .expect("summary");
    assert_eq!(summary.duration_ms, 114_000);
    assert_eq!(summary.participants, 1);
    assert_eq!(summary.average_coherence, None, "nobody ever had a score");
}

#[test]
fn end_now_completes_and_closes_everyone() {
    let mut room = Room::new(manual(), T0);
    let session = room.engine.handle_start_session(T0).expect("start");
    room.drain();
    let phone = room.join(DeviceKind::Web);
    room.score(phone, 64.0);
    room.advance_to(T0 + 3_000);
    assert_eq!(
        room.engine
            .handle_end_session(room.now_ms, synchub_session::SessionId(uuid::Uuid::nil())),
        Err(EngineError::UnknownSession)
    );
    room.engine
        .handle_end_session(room.now_ms, session)
        .expect("end");
    room.drain();
    let closed = room.records().find_map(|record| match record {
        Record::ParticipantClosed(closed) => Some(closed.clone()),
        _ => None,
    });
    let closed = closed.expect("closed at the end");
    assert_eq!(closed.left_at_ms, T0 + 3_000);
    assert_eq!(closed.peak_coherence, Some(64.0));
    assert_eq!(
        closed.high_coherence_secs, 3.0,
        "three ticks with a fresh high score"
    );
    let summary = room
        .broadcasts()
        .find_map(|broadcast| match broadcast {
            Broadcast::SessionComplete { summary, .. } => Some(summary.clone()),
            _ => None,
        })
        .expect("session_complete");
    assert_eq!(summary.peak_coherence, Some(64.0));
    assert_eq!(summary.secs_high, 3.0);
}

#[test]
fn a_schedule_change_waits_for_the_running_session() {
    let mut room = Room::new(manual(), T0);
    let session = room.engine.handle_start_session(T0).expect("start");
    room.engine
        .handle_set_schedule(T0 + 1_000, ScheduleConfig::default())
        .expect("to rolling");
    room.drain();
    assert_eq!(
        room.engine.current_session().map(|s| s.session_id),
        Some(session)
    );
    assert_eq!(room.engine.schedule().mode, ScheduleMode::Rolling);
    room.engine
        .handle_end_session(T0 + 2_000, session)
        .expect("end");
    room.drain();
    // The rolling slot 10:00 opens at once, in its preparation phase.
    let next = room.engine.current_session().expect("rolling session");
    assert_eq!(next.mode, ScheduleMode::Rolling);
    assert_eq!(next.slot_start_ms, Some(T0));
    assert_eq!(next.phase, Phase::Preparation);
    assert_eq!(next.phase_ends_at_ms, T0 + 30_000);
}

#[test]
fn a_hub_started_at_ten_past_seven_joins_the_ten_o_clock_slot_in_progress() {
    let start_ms = T0 + 7 * 60_000 + 250;
    let mut room = Room::new(EngineConfig::default(), start_ms);
    let session = room.engine.current_session().expect("session");
    assert_eq!(session.slot_start_ms, Some(T0));
    assert_eq!(session.schedule_start_ms, T0);
    assert_eq!(session.started_at_ms, start_ms);
    assert_eq!(session.phase, Phase::Active);
    assert_eq!(session.phase_ends_at_ms, T0 + 780_000);
    assert_eq!(session.ends_at_ms, T0 + 900_000);
    // Ticks fall on whole UTC seconds.
    assert_eq!(room.engine.poll_timeout(), Some(start_ms - 250 + 1_000));
    let phone = room.join(DeviceKind::Ios);
    let joined = room.messages_to(phone).find_map(|body| match body {
        MessageBody::SessionJoined(joined) => Some(joined.session.clone()),
        _ => None,
    });
    assert_eq!(joined.map(|s| s.phase), Some(Phase::Active));
    // Ending early in rolling mode: the 10:00 slot had its session; the next opens at 10:15.
    room.engine
        .handle_end_session(room.now_ms, session.session_id)
        .expect("end");
    room.drain();
    assert!(room.engine.current_session().is_none());
    assert_eq!(room.engine.poll_timeout(), Some(T0 + 900_000));
    room.advance_to(T0 + 900_000);
    assert_eq!(
        room.engine
            .current_session()
            .map(|s| (s.slot_start_ms, s.phase)),
        Some((Some(T0 + 900_000), Phase::Preparation))
    );
}

#[test]
fn a_restored_session_keeps_its_id_and_waits_for_resumes() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let phone = room.join(DeviceKind::Ios);
    let stays_away = room.join(DeviceKind::Web);
    room.advance_to(T0 + 100_000);
    // The hub crashes here. The store read back what it had persisted:
    let session_row = room
        .records()
        .find_map(|record| match record {
            Record::SessionOpened(row) => Some(row.clone()),
            _ => None,
        })
        .expect("session row");
    let (phase, at_ms, ends_at_ms) = phase_records(&room).last().copied().expect("phase");
    let participants = room
        .records()
        .filter_map(|record| match record {
            Record::ParticipantJoined(row) => Some(RestoredParticipant {
                row: row.clone(),
                durable_seqs: vec![3],
            }),
            _ => None,
        })
        .collect();
    let token = participants_token(&room, phone);
    let restored = RestoredSession {
        session: session_row.clone(),
        phase,
        phase_started_at_ms: at_ms,
        phase_ends_at_ms: ends_at_ms.expect("running"),
        participants,
        joined_total: 2,
    };
    let restart_ms = T0 + 110_000;
    let engine =
        Engine::restore(EngineConfig::default(), restart_ms, [9; 32], restored).expect("restore");
    let mut room = Room::from_engine(engine, restart_ms);
    assert!(
        room.records()
            .all(|record| !matches!(record, Record::SessionOpened(_))),
        "nothing stored is emitted again"
    );
    let info = room.engine.current_session().expect("session");
    assert_eq!(info.session_id, session_row.session_id);
    assert_eq!(info.participant_count, 2);
    assert_eq!(
        room.engine
            .participant_by_token(&token)
            .map(|owner| owner.participant_id),
        Some(phone),
        "a restored participant's token names them before they resume"
    );
    assert_eq!(
        room.engine.handle_resume(restart_ms + 5_000, &token),
        Ok(phone)
    );
    room.drain();
    // A batch that was durable before the crash is acknowledged, not stored again.
    let resent = room.engine.handle_rr_intervals(
        restart_ms + 5_000,
        phone,
        synchub_session::RrBatch {
            rr_ms: vec![900.0],
            ended_at_client_ms: None,
            seq: Some(3),
        },
    );
    room.drain();
    assert_eq!(resent, Ok(synchub_session::RrOutcome::Duplicate));
    assert_eq!(room.acks_to(phone), vec![3]);
    // The other phone never comes back: closed after the grace.
    room.advance_to(restart_ms + 60_000);
    assert_eq!(room.engine.participant_count(), 1);
    assert!(room.records().any(|record| matches!(
        record,
        Record::ParticipantClosed(closed) if closed.participant_id == stays_away
    )));
}

fn participants_token(
    room: &Room,
    participant: synchub_session::ParticipantId,
) -> synchub_session::ResumeToken {
    room.records()
        .find_map(|record| match record {
            Record::ParticipantJoined(row) if row.participant_id == participant => {
                Some(row.resume_token)
            }
            _ => None,
        })
        .expect("joined")
}

#[test]
fn restoring_after_the_session_should_have_ended_catches_up() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    room.join(DeviceKind::Ios);
    let row = room
        .records()
        .find_map(|record| match record {
            Record::SessionOpened(row) => Some(row.clone()),
            _ => None,
        })
        .expect("row");
    let restored = RestoredSession {
        session: row.clone(),
        phase: Phase::Active,
        phase_started_at_ms: T0 + 30_000,
        phase_ends_at_ms: T0 + 780_000,
        participants: Vec::new(),
        joined_total: 1,
    };
    // The laptop was off until 10:20.
    let engine = Engine::restore(EngineConfig::default(), T0 + 1_200_000, [1; 32], restored)
        .expect("restore");
    let room = Room::from_engine(engine, T0 + 1_200_000);
    assert_eq!(
        phase_records(&room)
            .iter()
            .take(2)
            .copied()
            .collect::<Vec<_>>(),
        vec![
            (Phase::Integration, T0 + 780_000, Some(T0 + 900_000)),
            (Phase::Complete, T0 + 900_000, None),
        ]
    );
    let next = room.engine.current_session().expect("the 10:15 slot");
    assert_eq!(next.slot_start_ms, Some(T0 + 900_000));
    assert_eq!(next.phase, Phase::Active);
}

#[test]
fn joining_after_the_end_lands_in_the_next_session_even_before_the_timer_fires() {
    let mut room = Room::new(EngineConfig::default(), T0 + 899_000);
    let first = room.engine.current_session().expect("session").session_id;
    // The hub has not called handle_timeout since 10:14:59; a join arrives at 10:15:00.005.
    let phone = room
        .engine
        .handle_join(T0 + 900_005, join_request(DeviceKind::Ios))
        .expect("join");
    room.drain();
    let joined_session = room.records().find_map(|record| match record {
        Record::ParticipantJoined(row) if row.participant_id == phone => Some(row.session_id),
        _ => None,
    });
    let second = room.engine.current_session().expect("next").session_id;
    assert_ne!(first, second);
    assert_eq!(joined_session, Some(second));
}
