//! Any interleaving of inputs and time keeps the engine whole: no panic, the participant count
//! equals joins minus closes, every distribution sums to the active count, everyone is closed
//! when a session completes, and the next wake-up is always in the future.

use std::collections::HashMap;

use proptest::prelude::*;
use synchub_session::record::{DeviceKind, Record, ScheduleMode};
use synchub_session::{
    Broadcast, EngineConfig, MessageBody, ParticipantId, PhaseDurations, ResumeToken, RrBatch,
    ScheduleConfig, SessionId,
};

use crate::util::{Room, TEN_O_CLOCK_MS, join_request};

#[derive(Debug, Clone)]
enum Op {
    Join,
    Leave(usize),
    Disconnect(usize),
    Resume(usize),
    Score(usize, f64),
    Rr(usize, Vec<f64>, Option<u64>, i64),
    Durable(usize, u64),
    Advance(i64),
    SetIntention(usize),
    AdvancePhase,
    Extend(u32),
    End,
    Start,
    SwitchMode,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Join),
        1 => any::<usize>().prop_map(Op::Leave),
        1 => any::<usize>().prop_map(Op::Disconnect),
        1 => any::<usize>().prop_map(Op::Resume),
        3 => (any::<usize>(), -10.0..110.0_f64).prop_map(|(p, s)| Op::Score(p, s)),
        3 => (
            any::<usize>(),
            prop::collection::vec(prop_oneof![200.0..3000.0_f64, Just(f64::NAN), Just(-1.0)], 0..20),
            prop::option::of(0..5_u64),
            -400_000..10_000_i64,
        )
            .prop_map(|(p, rr, seq, offset)| Op::Rr(p, rr, seq, offset)),
        1 => (any::<usize>(), 0..5_u64).prop_map(|(p, seq)| Op::Durable(p, seq)),
        4 => (0..120_000_i64).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::SetIntention),
        1 => Just(Op::AdvancePhase),
        1 => (0..100_u32).prop_map(Op::Extend),
        1 => Just(Op::End),
        1 => Just(Op::Start),
        1 => Just(Op::SwitchMode),
    ]
}

fn short_schedule(mode: ScheduleMode) -> ScheduleConfig {
    ScheduleConfig {
        mode,
        phases: PhaseDurations {
            preparation_secs: 20,
            active_secs: 120,
            integration_secs: 40,
        },
    }
}

fn check_invariants(room: &Room, checked: &mut usize) {
    // Participant count = joined − closed, per session, replayed from the records.
    let mut open: HashMap<SessionId, i64> = HashMap::new();
    let mut current = None;
    for record in room.records() {
        match record {
            Record::SessionOpened(row) => current = Some(row.session_id),
            Record::ParticipantJoined(row) => *open.entry(row.session_id).or_default() += 1,
            Record::ParticipantClosed(closed) => *open.entry(closed.session_id).or_default() -= 1,
            Record::SessionCompleted { session_id, .. } => {
                assert_eq!(
                    open.get(session_id).copied().unwrap_or(0),
                    0,
                    "everyone closed"
                );
                if current == Some(*session_id) {
                    current = None;
                }
            }
            Record::GroupSnapshot(group) => {
                assert_eq!(
                    group.distribution_low + group.distribution_medium + group.distribution_high,
                    group.active_count
                );
                assert!(group.active_count <= group.participant_count);
            }
            _ => {}
        }
    }
    let expected = current.map_or(0, |id| open.get(&id).copied().unwrap_or(0));
    assert_eq!(i64::from(room.engine.participant_count()), expected);
    assert_eq!(
        room.engine.participants().count() as i64,
        expected,
        "the participant list matches the count"
    );
    for broadcast in room.broadcasts().skip(*checked) {
        if let Broadcast::GroupMetrics(group) = broadcast {
            assert_eq!(
                group.distribution_low + group.distribution_medium + group.distribution_high,
                group.active_count
            );
        }
    }
    *checked = room.broadcasts.len();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn any_interleaving_keeps_counts_consistent(
        ops in prop::collection::vec(op(), 1..120),
        start_offset_ms in 0..900_000_i64,
        rolling in any::<bool>(),
    ) {
        let mode = if rolling { ScheduleMode::Rolling } else { ScheduleMode::Manual };
        let config = EngineConfig {
            schedule: short_schedule(mode),
            max_participants: Some(12),
            ..EngineConfig::default()
        };
        let mut room = Room::new(config, TEN_O_CLOCK_MS + start_offset_ms);
        let mut people: Vec<(ParticipantId, ResumeToken)> = Vec::new();
        let mut checked = 0;
        let pick = |people: &Vec<(ParticipantId, ResumeToken)>, k: usize| {
            (!people.is_empty()).then(|| people[k % people.len()])
        };
        for op in ops {
            let now_ms = room.now_ms;
            // Errors are answers, not failures: the property is that nothing breaks.
            match op {
                Op::Join => {
                    if let Ok(id) = room.engine.handle_join(now_ms, join_request(DeviceKind::Sim)) {
                        room.drain();
                        let token = room.messages_to(id).find_map(|body| match body {
                            MessageBody::SessionJoined(joined) => Some(joined.resume_token),
                            _ => None,
                        });
                        if let Some(token) = token {
                            people.push((id, token));
                        }
                    }
                }
                Op::Leave(k) => if let Some((id, _)) = pick(&people, k) {
                    let _ = room.engine.handle_leave(now_ms, id);
                },
                Op::Disconnect(k) => if let Some((id, _)) = pick(&people, k) {
                    let _ = room.engine.handle_disconnect(now_ms, id);
                },
                Op::Resume(k) => if let Some((_, token)) = pick(&people, k) {
                    let _ = room.engine.handle_resume(now_ms, &token);
                },
                Op::Score(k, score) => if let Some((id, _)) = pick(&people, k) {
                    let _ = room.engine.handle_update_coherence(now_ms, id, score);
                },
                Op::Rr(k, rr_ms, seq, offset_ms) => if let Some((id, _)) = pick(&people, k) {
                    let batch = RrBatch {
                        rr_ms,
                        ended_at_client_ms: Some((now_ms + offset_ms) as f64),
                        seq,
                    };
                    let _ = room.engine.handle_rr_intervals(now_ms, id, batch);
                },
                Op::Durable(k, seq) => if let Some((id, _)) = pick(&people, k) {
                    room.engine.handle_beats_durable(id, seq);
                },
                Op::Advance(ms) => room.advance_by(ms),
                Op::SetIntention(k) => if let Some((id, _)) = pick(&people, k) {
                    let _ = room.engine.handle_set_intention(now_ms, id, None, None);
                },
                Op::AdvancePhase => if let Some(session) = room.engine.current_session() {
                    let _ = room.engine.handle_advance_phase(now_ms, session.session_id);
                },
                Op::Extend(secs) => if let Some(session) = room.engine.current_session() {
                    let _ = room.engine.handle_extend_phase(now_ms, session.session_id, secs);
                },
                Op::End => if let Some(session) = room.engine.current_session() {
                    let _ = room.engine.handle_end_session(now_ms, session.session_id);
                },
                Op::Start => {
                    let _ = room.engine.handle_start_session(now_ms);
                }
                Op::SwitchMode => {
                    let next = match room.engine.schedule().mode {
                        ScheduleMode::Rolling => ScheduleMode::Manual,
                        ScheduleMode::Manual => ScheduleMode::Rolling,
                    };
                    let _ = room.engine.handle_set_schedule(now_ms, short_schedule(next));
                }
            }
            room.drain();
            check_invariants(&room, &mut checked);
            if let Some(wake_ms) = room.engine.poll_timeout() {
                // A wake-up in the past would mean the engine missed its own schedule.
                prop_assert!(wake_ms > room.now_ms, "wake-up {wake_ms} not after now");
            }
        }
    }
}
