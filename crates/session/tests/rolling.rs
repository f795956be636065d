//! A whole rolling session with fifty simulated participants, on the virtual clock: coherent
//! and incoherent hearts sending RR, score-only phones, phones that drop and resume, and
//! participants who leave early. Every phase change, cadence, group figure, the summary and the
//! persisted records are checked.

use std::collections::HashMap;

use synchub_hrv::{CoherencePhase, Quality};
use synchub_session::record::{DeviceKind, Phase, Record, ScoreSource};
use synchub_session::{
    Broadcast, Contribution, EngineConfig, MessageBody, ParticipantId, PersonalFeedback,
    ResumeToken,
};

use crate::util::{Heart, Rhythm, Room, TEN_O_CLOCK_MS, close, reference_stats};

const T0: i64 = TEN_O_CLOCK_MS;

struct Cast {
    coherent: Vec<ParticipantId>,
    incoherent: Vec<ParticipantId>,
    score_only: Vec<ParticipantId>,
    droppers: Vec<ParticipantId>,
    leavers: Vec<ParticipantId>,
    /// RR sends per participant.
    batches_sent: HashMap<ParticipantId, u64>,
    scores_sent: u64,
}

fn token_of(room: &Room, participant: ParticipantId) -> ResumeToken {
    room.messages_to(participant)
        .find_map(|body| match body {
            MessageBody::SessionJoined(joined) => Some(joined.resume_token),
            _ => None,
        })
        .expect("session_joined")
}

/// Score of the k-th score-only participant.
fn fixed_score(k: usize) -> f64 {
    20.0 + 3.0 * k as f64
}

/// Runs 10:00:00 → 10:15:00.001 and returns the room and who is who.
fn run_session() -> (Room, Cast) {
    let mut room = Room::new(EngineConfig::default(), T0);
    // Fifty joins in one round, drained once: the room hears one participant count.
    let mut cast = Cast {
        coherent: (0..10)
            .map(|_| room.join_quietly(DeviceKind::Ble))
            .collect(),
        incoherent: (0..10)
            .map(|_| room.join_quietly(DeviceKind::Ios))
            .collect(),
        score_only: (0..20)
            .map(|_| room.join_quietly(DeviceKind::Web))
            .collect(),
        droppers: (0..5)
            .map(|_| room.join_quietly(DeviceKind::Android))
            .collect(),
        leavers: (0..5).map(|_| room.join_quietly(DeviceKind::Sim)).collect(),
        batches_sent: HashMap::new(),
        scores_sent: 0,
    };
    room.drain();
    let mut hearts: Vec<(ParticipantId, Heart)> = cast
        .coherent
        .iter()
        .map(|&id| (id, Heart::new(Rhythm::Paced, T0 as f64, 0)))
        .chain(
            cast.incoherent
                .iter()
                .enumerate()
                .map(|(k, &id)| (id, Heart::new(Rhythm::Noise, T0 as f64, k as u64 + 1))),
        )
        .collect();
    let dropper_tokens: Vec<ResumeToken> = cast
        .droppers
        .iter()
        .map(|&id| token_of(&room, id))
        .collect();

    for second in 0..900_i64 {
        // Inputs arrive half-way between ticks.
        room.advance_to(T0 + second * 1000 + 500);
        let now_ms = room.now_ms;
        if second == 330 {
            for (k, token) in dropper_tokens.iter().enumerate() {
                let resumed = room.engine.handle_resume(now_ms, token).expect("resume");
                assert_eq!(
                    resumed, cast.droppers[k],
                    "a resume keeps the participant id"
                );
            }
            room.drain();
        }
        for (id, heart) in &mut hearts {
            let sent = cast.batches_sent.entry(*id).or_insert(0);
            let batch = heart.beats_until(now_ms as f64, Some(*sent), 0.0);
            if !batch.rr_ms.is_empty() {
                room.rr(*id, batch);
                *sent += 1;
            }
        }
        if second % 5 == 0 {
            for (k, &id) in cast.score_only.iter().enumerate() {
                room.score(id, fixed_score(k));
                cast.scores_sent += 1;
            }
            let droppers_away = (301..330).contains(&second);
            if !droppers_away {
                for &id in &cast.droppers {
                    room.score(id, 50.0);
                    cast.scores_sent += 1;
                }
            }
            if second < 600 {
                for &id in &cast.leavers {
                    room.score(id, 90.0);
                    cast.scores_sent += 1;
                }
            }
        }
        if second == 300 {
            for &id in &cast.droppers {
                room.engine
                    .handle_disconnect(now_ms, id)
                    .expect("disconnect");
            }
        }
        if second == 600 {
            for &id in &cast.leavers {
                room.engine.handle_leave(now_ms, id).expect("leave");
            }
            room.drain();
        }
    }
    room.advance_to(T0 + 900_000 + 1);
    (room, cast)
}

#[test]
fn a_fifteen_minute_rolling_session_runs_on_the_virtual_clock() {
    let (room, cast) = run_session();

    // Phase changes, exactly on the slot's boundaries, then the next slot's session.
    let phase_changes: Vec<(Phase, i64, Option<i64>)> = room
        .broadcasts()
        .filter_map(|broadcast| match broadcast {
            Broadcast::PhaseChanged(change) => {
                Some((change.phase, change.started_at_ms, change.ends_at_ms))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        phase_changes,
        vec![
            (Phase::Preparation, T0, Some(T0 + 30_000)),
            (Phase::Active, T0 + 30_000, Some(T0 + 780_000)),
            (Phase::Integration, T0 + 780_000, Some(T0 + 900_000)),
            (Phase::Complete, T0 + 900_000, None),
            (Phase::Preparation, T0 + 900_000, Some(T0 + 930_000)),
        ]
    );
    let first_session = match room.records().next() {
        Some(Record::SessionOpened(row)) => row.clone(),
        other => panic!("the first record opens the session, got {other:?}"),
    };
    assert_eq!(first_session.slot_start_ms, Some(T0));
    assert_eq!(first_session.planned_end_ms, T0 + 900_000);

    // Group metrics once per second, on whole seconds, from 10:00:01 to 10:14:59.
    let metric_times: Vec<i64> = room
        .broadcasts()
        .filter_map(|broadcast| match broadcast {
            Broadcast::GroupMetrics(group) if group.session_id == first_session.session_id => {
                Some(group.at_ms)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        metric_times,
        (1..900).map(|s| T0 + s * 1000).collect::<Vec<_>>()
    );
    let snapshot_count = room
        .broadcasts()
        .filter(|broadcast| matches!(broadcast, Broadcast::RoomSnapshot(_)))
        .count();
    assert_eq!(snapshot_count, 899);

    // The coalesced participant count: one update for fifty joins.
    let counts: Vec<(i64, u32)> = room
        .broadcasts
        .iter()
        .filter_map(|(at_ms, broadcast)| match broadcast {
            Broadcast::ParticipantCount {
                participant_count, ..
            } => Some((*at_ms, *participant_count)),
            _ => None,
        })
        .collect();
    assert_eq!(
        counts,
        vec![(T0, 0), (T0, 50), (T0 + 600_500, 45), (T0 + 900_000, 0)],
        "joins in one round give one update; the leavers give one; the next session starts empty"
    );

    // At 10:00:20 only the thirty score-only phones have scores: hand-computed figures.
    let at_twenty = room
        .broadcasts()
        .find_map(|broadcast| match broadcast {
            Broadcast::GroupMetrics(group) if group.at_ms == T0 + 20_000 => Some(group.clone()),
            _ => None,
        })
        .expect("tick at 10:00:20");
    // (20 + 23 + … + 77) + 5·50 + 5·90 = 970 + 250 + 450 over 30.
    assert!(close(at_twenty.average_coherence, 1670.0 / 30.0));
    assert_eq!(at_twenty.active_count, 30);
    assert_eq!(at_twenty.participant_count, 50);
    assert_eq!(
        (
            at_twenty.distribution_low,
            at_twenty.distribution_medium,
            at_twenty.distribution_high
        ),
        (7, 12, 11)
    );
    // Sorted: ten scores below 50 (20 … 47), then six 50s: the middle pair is 50 and 50.
    assert!(close(at_twenty.median_coherence, 50.0));
    assert_eq!(at_twenty.coherence_phase, CoherencePhase::Medium);

    // Every group snapshot against a recomputation from the persisted records.
    let mut open: HashMap<ParticipantId, Option<(f64, i64, Quality)>> = HashMap::new();
    let mut snapshots = Vec::new();
    for record in room.records() {
        match record {
            Record::ParticipantJoined(row) => {
                open.insert(row.participant_id, None);
            }
            Record::ParticipantClosed(closed) => {
                open.remove(&closed.participant_id);
            }
            Record::Metrics(metrics) => {
                if let Some(latest) = open.get_mut(&metrics.participant_id) {
                    *latest = Some((metrics.score, metrics.at_ms, metrics.quality));
                }
            }
            Record::GroupSnapshot(group) if group.session_id == first_session.session_id => {
                let scores: Vec<f64> = open
                    .values()
                    .flatten()
                    .filter(|(_, at_ms, quality)| {
                        group.at_ms - at_ms <= 15_000 && *quality != Quality::Low
                    })
                    .map(|(score, _, _)| *score)
                    .collect();
                let (mean, median, std) = reference_stats(&scores);
                assert_eq!(
                    group.participant_count as usize,
                    open.len(),
                    "at {}",
                    group.at_ms
                );
                assert_eq!(
                    group.active_count as usize,
                    scores.len(),
                    "at {}",
                    group.at_ms
                );
                assert!(close(group.average_coherence, mean), "at {}", group.at_ms);
                assert!(close(group.median_coherence, median), "at {}", group.at_ms);
                assert!(close(group.std_coherence, std), "at {}", group.at_ms);
                assert_eq!(
                    group.distribution_low + group.distribution_medium + group.distribution_high,
                    group.active_count
                );
                snapshots.push(group.clone());
            }
            _ => {}
        }
    }
    assert_eq!(
        snapshots.len(),
        899,
        "a group snapshot is stored every second"
    );
    // The droppers' last score (10:05:00.5) stops counting 15 s later.
    let before_stale = snapshots
        .iter()
        .find(|g| g.at_ms == T0 + 315_000)
        .expect("tick");
    let after_stale = snapshots
        .iter()
        .find(|g| g.at_ms == T0 + 316_000)
        .expect("tick");
    assert_eq!(before_stale.active_count, after_stale.active_count + 5);
    assert_eq!(
        after_stale.participant_count, 50,
        "droppers stay in the count while away"
    );

    // The summary agrees with the stored snapshots.
    let (ended_at_ms, summary) = room
        .records()
        .find_map(|record| match record {
            Record::SessionCompleted {
                ended_at_ms,
                summary,
                ..
            } => Some((*ended_at_ms, summary.clone())),
            _ => None,
        })
        .expect("session completed");
    let with_average: Vec<&_> = snapshots.iter().filter(|g| g.active_count > 0).collect();
    let mean_of_averages = with_average
        .iter()
        .map(|g| g.average_coherence)
        .sum::<f64>()
        / with_average.len() as f64;
    let peak = with_average
        .iter()
        .map(|g| g.average_coherence)
        .fold(f64::MIN, f64::max);
    assert_eq!(ended_at_ms, T0 + 900_000);
    assert_eq!(summary.duration_ms, 900_000);
    assert_eq!(summary.participants, 50);
    assert!(close(
        summary.average_coherence.expect("average"),
        mean_of_averages
    ));
    assert!(close(summary.peak_coherence.expect("peak"), peak));
    assert_eq!(snapshots.last().map(|g| g.peak_coherence), Some(peak));
    assert!(close(
        summary.secs_low + summary.secs_medium + summary.secs_high,
        with_average.len() as f64
    ));
    assert!(summary.average_synchrony.is_some());
    let complete_broadcast = room.broadcasts().find_map(|broadcast| match broadcast {
        Broadcast::SessionComplete { summary, .. } => Some(summary.clone()),
        _ => None,
    });
    assert_eq!(complete_broadcast, Some(summary));

    // Participants: everyone closed exactly once, the leavers when they left.
    let closed: HashMap<ParticipantId, i64> = room
        .records()
        .filter_map(|record| match record {
            Record::ParticipantClosed(closed) => Some((closed.participant_id, closed.left_at_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 50);
    for id in &cast.leavers {
        assert_eq!(closed[id], T0 + 600_500);
    }
    for id in cast.coherent.iter().chain(&cast.droppers) {
        assert_eq!(closed[id], T0 + 900_000);
    }

    // Beats: one record per batch sent, each seq acknowledged exactly once.
    for (id, sent) in &cast.batches_sent {
        let stored: Vec<Option<u64>> = room
            .records()
            .filter_map(|record| match record {
                Record::Beats(batch) if batch.participant_id == *id => Some(batch.seq),
                _ => None,
            })
            .collect();
        assert_eq!(stored, (0..*sent).map(Some).collect::<Vec<_>>());
        assert_eq!(room.acks_to(*id), (0..*sent).collect::<Vec<_>>());
    }

    // Client scores: one metrics record per update.
    let client_metrics = room
        .records()
        .filter(|record| matches!(record, Record::Metrics(m) if m.source == ScoreSource::Client))
        .count();
    assert_eq!(client_metrics as u64, cast.scores_sent);

    // Hub scores: one per 5 s of beat time per RR participant, coherent hearts score high.
    for (ids, coherent) in [(&cast.coherent, true), (&cast.incoherent, false)] {
        for id in ids {
            let metrics: Vec<(i64, f64, Quality)> = room
                .records()
                .filter_map(|record| match record {
                    Record::Metrics(m) if m.participant_id == *id => {
                        assert_eq!(m.source, ScoreSource::Hub);
                        assert_eq!(m.algorithm, Some(synchub_hrv::ALGORITHM));
                        Some((m.at_ms, m.score, m.quality))
                    }
                    _ => None,
                })
                .collect();
            assert!(
                (160..=180).contains(&metrics.len()),
                "{} hub scores",
                metrics.len()
            );
            // About one result per 5 s of beat time (the analyser's own cadence).
            for pair in metrics.windows(2) {
                let step_ms = pair[1].0 - pair[0].0;
                assert!(
                    (3_000..=7_000).contains(&step_ms),
                    "step of {step_ms} ms: {pair:?}"
                );
            }
            let full: Vec<f64> = metrics
                .iter()
                .filter(|(_, _, quality)| *quality != Quality::WarmingUp)
                .map(|(_, score, _)| *score)
                .collect();
            let mean = full.iter().sum::<f64>() / full.len() as f64;
            if coherent {
                assert!(mean > 75.0, "paced breathing scores high, got {mean}");
            } else {
                assert!(mean < 40.0, "noise scores low, got {mean}");
            }
        }
    }

    // Synchrony every 5 s once the hearts cover the window.
    let rounds: Vec<(i64, u32, f64, f64, usize)> = room
        .records()
        .filter_map(|record| match record {
            Record::Synchrony(round) => Some((
                round.at_ms,
                round.participants,
                round.index,
                round.surrogate_index,
                round.pairs.len(),
            )),
            _ => None,
        })
        .collect();
    assert!(rounds.len() >= 160, "{} synchrony rounds", rounds.len());
    for (at_ms, participants, index, surrogate, pairs) in &rounds {
        assert_eq!((at_ms - T0) % 5_000, 0);
        assert!((2..=20).contains(participants));
        assert!((0.0..=1.0).contains(index) && (0.0..=1.0).contains(surrogate));
        assert!(*pairs <= 190);
    }
    // Hearts whose newest beats sit far from the others' sit a round out; most rounds have all.
    let complete = rounds.iter().filter(|round| round.1 == 20).count();
    assert!(
        complete * 2 >= rounds.len(),
        "{complete} of {} rounds with everyone",
        rounds.len()
    );
}

#[test]
fn personal_feedback_comes_every_five_seconds_and_after_each_score() {
    let (room, cast) = run_session();

    // A score-only phone: feedback after each of its 180 updates (half-seconds). Each update
    // restarts its 5 s cadence and the next update comes 5 s later, so no tick (whole
    // seconds) repeats the news in between.
    let phone = cast.score_only[19];
    let feedback = room.feedback_to(phone);
    let (on_ticks, on_updates): (Vec<&PersonalFeedback>, Vec<&PersonalFeedback>) =
        feedback.into_iter().partition(|f| f.at_ms % 1000 == 0);
    assert_eq!(on_updates.len(), 180);
    assert_eq!(on_ticks.len(), 0, "{on_ticks:?}");
    let late = on_updates.last().expect("feedback");
    assert_eq!(late.your_coherence, 77.0);
    assert_eq!(late.contribution, Contribution::HelpingLift);
    assert_eq!(late.coherence_phase, CoherencePhase::High);
    let low_phone = room.feedback_to(cast.score_only[0]);
    assert_eq!(
        low_phone.last().map(|f| f.contribution),
        Some(Contribution::BeingSupported)
    );

    // An RR heart: feedback on its own 5-second cadence once it has a score, with the hub's
    // ratio, heart rate and breathing rate.
    let heart = cast.coherent[0];
    let feedback = room.feedback_to(heart);
    assert!(feedback.len() >= 170, "{}", feedback.len());
    for pair in feedback.windows(2) {
        assert_eq!(pair[1].at_ms - pair[0].at_ms, 5_000);
    }
    let last = feedback.last().expect("feedback");
    assert!(last.coherence_ratio.is_some() && last.heart_rate_bpm.is_some());
    let breaths = last.breaths_per_min.expect("breaths");
    assert!((breaths - 6.0).abs() < 0.3, "paced at 6/min, got {breaths}");
    assert!((last.heart_rate_bpm.unwrap_or(0.0) - 60.0).abs() < 3.0);

    // A phone away for 30 s gets nothing while away, and its cadence picks up on return.
    let dropper = cast.droppers[0];
    let away: Vec<i64> = room
        .feedback_to(dropper)
        .iter()
        .map(|f| f.at_ms)
        .filter(|at_ms| (T0 + 300_600..T0 + 330_500).contains(at_ms))
        .collect();
    assert!(away.is_empty(), "{away:?}");
    let rejoined = room
        .messages_to(dropper)
        .filter(|body| matches!(body, MessageBody::SessionJoined(joined) if joined.resumed))
        .count();
    assert_eq!(rejoined, 1);
}

#[test]
fn a_score_restarts_the_feedback_cadence_and_a_quiet_phone_hears_it_every_five_seconds() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let phone = room.join(DeviceKind::Web);
    let joined_ms = room.now_ms;
    room.advance_by(2_300);
    let scored_ms = room.now_ms;
    room.score(phone, 66.0);
    room.advance_by(30_000);
    let times: Vec<i64> = room.feedback_to(phone).iter().map(|f| f.at_ms).collect();
    // At once after the score; then on the first ticks 5 s and 10 s after it (not 5 s after
    // the join); then nothing once the score is older than 15 s.
    let first_tick = |at_ms: i64| at_ms + (1_000 - (at_ms - joined_ms).rem_euclid(1_000)) % 1_000;
    assert_eq!(
        times,
        vec![
            scored_ms,
            first_tick(scored_ms + 5_000),
            first_tick(scored_ms + 10_000)
        ]
    );
}

#[test]
fn group_figures_on_demand_include_a_score_the_tick_has_not_seen() {
    let mut room = Room::new(EngineConfig::default(), T0 + 60_000);
    let first = room.join(DeviceKind::Web);
    let second = room.join(DeviceKind::Web);
    room.score(first, 30.0);
    room.advance_by(1_000);
    let ticks_before = room.broadcasts().count();
    room.score(second, 90.0);
    let now_ms = room.now_ms;
    let figures = room.engine.group_metrics_at(now_ms).expect("a session");
    assert_eq!(figures.at_ms, now_ms);
    assert_eq!(figures.active_count, 2);
    assert!((figures.average_coherence - 60.0).abs() < 1e-9);
    assert_eq!(
        (figures.distribution_low, figures.distribution_high),
        (1, 1)
    );
    assert!(figures.peak_coherence >= 60.0 - 1e-9);
    // Nothing was broadcast or stored for it.
    room.drain();
    assert_eq!(room.broadcasts().count(), ticks_before);
    // The tick's own figures (the stored ones) are unchanged until the next tick.
    assert_eq!(room.engine.group_metrics().map(|g| g.active_count), Some(1));
}

#[test]
fn a_large_rooms_synchrony_round_is_spread_over_wake_ups_and_recorded_at_its_tick() {
    // 120 hearts with beats: 7 140 pairs, more work than one slice, so the round that starts at
    // a synchrony tick takes several wake-ups, with inputs handled between them.
    const HEARTS: usize = 120;
    let mut room = Room::new(EngineConfig::default(), TEN_O_CLOCK_MS);
    let ids: Vec<ParticipantId> = (0..HEARTS)
        .map(|_| room.join_quietly(DeviceKind::Sim))
        .collect();
    room.drain();
    let mut hearts: Vec<Heart> = (0..HEARTS)
        .map(|k| {
            let rhythm = if k % 2 == 0 {
                Rhythm::Paced
            } else {
                Rhythm::Noise
            };
            Heart::new(rhythm, TEN_O_CLOCK_MS as f64, k as u64)
        })
        .collect();
    let mut send_beats = |room: &mut Room, seq: u64| {
        for (id, heart) in ids.iter().zip(&mut hearts) {
            let batch = heart.beats_until(room.now_ms as f64, Some(seq), 0.0);
            room.engine
                .handle_rr_intervals(room.now_ms, *id, batch)
                .expect("rr batch");
        }
        room.drain();
    };
    for second in 1..=80 {
        room.advance_to(TEN_O_CLOCK_MS + second * 1_000 + 500);
        send_beats(&mut room, second as u64);
    }
    let rounds_before = room
        .records()
        .filter(|record| matches!(record, Record::Synchrony(_)))
        .count();
    assert!(
        rounds_before >= 2,
        "{rounds_before} rounds in the first 80 s"
    );

    // Drive the next synchrony tick by hand, one wake-up at a time.
    let tick_ms = (TEN_O_CLOCK_MS + 85_000..)
        .step_by(1_000)
        .find(|at_ms| (at_ms - TEN_O_CLOCK_MS) % 5_000 == 0)
        .expect("a synchrony tick");
    room.advance_to(tick_ms - 1);
    assert_eq!(room.engine.poll_timeout(), Some(tick_ms));
    room.now_ms = tick_ms;
    let mut wake_ups = 0;
    while room.engine.poll_timeout() == Some(tick_ms) {
        room.engine.handle_timeout(tick_ms);
        wake_ups += 1;
        room.drain();
        // An input between two slices is handled at once.
        if wake_ups == 1 {
            assert_eq!(
                room.engine.poll_timeout(),
                Some(tick_ms),
                "the round is spread"
            );
            send_beats(&mut room, 1_000);
        }
    }
    assert!(wake_ups >= 3, "{wake_ups} wake-ups");
    let round = room
        .records()
        .filter_map(|record| match record {
            Record::Synchrony(round) => Some(round.clone()),
            _ => None,
        })
        .last()
        .expect("the round is recorded");
    assert_eq!(round.at_ms, tick_ms);
    let participants = round.participants as usize;
    assert!(
        participants >= HEARTS * 3 / 4,
        "{participants} in the round"
    );
    assert!(!round.pairs_sampled);
    assert!(round.pairs.len() <= participants * (participants - 1) / 2);
    assert!(round.pairs.len() > 1_000, "{} pairs", round.pairs.len());
    // Paced hearts breathe together: the group is more in phase than its surrogates.
    assert!(round.index > round.surrogate_index, "{round:?}");
    // The next tick's group metrics carry the new index.
    room.advance_to(tick_ms + 1_000);
    assert_eq!(
        room.engine
            .group_metrics()
            .and_then(|group| group.synchrony_index),
        Some(round.index)
    );
}
