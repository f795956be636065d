//! One simulated participant (and a small crowd) against the stand-in hub of `util.rs`:
//! joining, batching with seq, acks, time sync, resuming after a dropped socket, refusals.

use std::sync::Arc;
use std::time::Duration;

use synchub_sim::client::{ParticipantConfig, ParticipantOutcome, RunState, run_participant};
use synchub_sim::connection::{Transport, WsHandshake};
use synchub_sim::crowd::{Crowd, CrowdConfig, ProfileMix, TransportMix};
use synchub_sim::rr::Profile;
use synchub_sim::stats::{CrowdStats, StatsSnapshot};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};

use crate::util::{Behaviour, FakeHub, Framing, PARTICIPANT_ID, RESUME_TOKEN};

const ROOM_CODE: &str = "K7Q2";
/// Every test is bounded: nothing here may hang the suite.
const TEST_LIMIT: Duration = Duration::from_secs(30);

fn behaviour(framing: Framing) -> Behaviour {
    Behaviour {
        framing,
        room_code: ROOM_CODE,
        drop_first_connection_after_batches: Some(3),
        hub_clock_ahead_ms: 5000.0,
        engine_ping_interval: Duration::from_millis(300),
    }
}

fn participant(
    hub: &FakeHub,
    transport: Transport,
    ws_handshake: WsHandshake,
) -> ParticipantConfig {
    let mut config = ParticipantConfig::new(&hub.url, "sim-test-1", Profile::Coherent, 11);
    config.room_code = Some(ROOM_CODE.to_owned());
    config.transport = transport;
    config.ws_handshake = ws_handshake;
    // Faster than a real room so the test is short; the logic is the same.
    config.batch_interval = Duration::from_millis(200);
    config.resume_wait = Duration::from_millis(300);
    config.max_connect_attempts = 3;
    config
}

/// Runs one participant for `run_for`, then drains (bounded) and stops it.
async fn run_for(
    config: ParticipantConfig,
    run_for: Duration,
) -> (ParticipantOutcome, StatsSnapshot) {
    let stats = Arc::new(CrowdStats::new());
    stats.set_measuring(true);
    let (control, receiver) = watch::channel(RunState::Running);
    let mut task = tokio::spawn(run_participant(config, Arc::clone(&stats), receiver));
    let finished_early = timeout(run_for, &mut task).await;
    let outcome = match finished_early {
        Ok(outcome) => outcome.unwrap(),
        Err(_) => {
            control.send(RunState::Draining).unwrap();
            let drained = timeout(Duration::from_secs(3), &mut task).await;
            match drained {
                Ok(outcome) => outcome.unwrap(),
                Err(_) => {
                    control.send(RunState::Stopped).unwrap();
                    timeout(Duration::from_secs(3), task)
                        .await
                        .unwrap()
                        .unwrap()
                }
            }
        }
    };
    (outcome, stats.snapshot())
}

/// Joins, streams, loses its socket after the third batch (unacked), resumes with the token,
/// resends the unacked batch, and ends with every batch acknowledged exactly once.
async fn check_resume(framing: Framing, transport: Transport, ws_handshake: WsHandshake) {
    let hub = FakeHub::start(behaviour(framing)).await;
    let config = participant(&hub, transport, ws_handshake);
    let (outcome, stats) = run_for(config, Duration::from_secs(7)).await;

    assert_eq!(outcome.participant_id.as_deref(), Some(PARTICIPANT_ID));
    assert!(outcome.joined);
    assert_eq!(outcome.connections, 2, "{outcome:?}");
    assert_eq!(outcome.unacked_batches, 0);
    assert_eq!(outcome.failure, None);

    let observed = hub.observed();
    // Handshakes: the same user and room both times; the token only on the second.
    assert_eq!(observed.handshakes.len(), 2);
    for handshake in &observed.handshakes {
        assert_eq!(handshake["userId"], "sim-test-1");
        assert_eq!(handshake["roomCode"], ROOM_CODE);
        assert_eq!(handshake["role"], "participant");
    }
    assert!(observed.handshakes[0].get("resumeToken").is_none());
    assert_eq!(observed.handshakes[1]["resumeToken"], RESUME_TOKEN);

    let on = |connection: usize| -> Vec<&crate::util::Seen> {
        observed
            .events
            .iter()
            .filter(|seen| seen.connection == connection)
            .collect()
    };
    // First connection: time_sync, then join_session as a simulator with consent.
    let first = on(1);
    assert_eq!(first[0].name, "time_sync");
    assert_eq!(first[1].name, "join_session");
    assert_eq!(first[1].data["device"]["kind"], "sim");
    assert_eq!(first[1].data["consent"]["research"], true);
    assert_eq!(first[1].data["intention"]["category"], "other");
    let first_seqs: Vec<u64> = first
        .iter()
        .filter(|seen| seen.name == "rr_intervals")
        .map(|seen| seen.data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(first_seqs, vec![1, 2, 3]);

    // Second connection: the hub restored the participant, so no join_session; the first
    // batch sent is the one that was never acknowledged.
    let second = on(2);
    assert!(
        second.iter().all(|seen| seen.name != "join_session"),
        "{second:?}"
    );
    let second_seqs: Vec<u64> = second
        .iter()
        .filter(|seen| seen.name == "rr_intervals")
        .map(|seen| seen.data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(second_seqs.first(), Some(&3), "{second_seqs:?}");
    assert!(
        second_seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{second_seqs:?}"
    );
    assert!(
        second_seqs.len() >= 2,
        "new batches after the resend: {second_seqs:?}"
    );

    // Every batch stored once, seqs without gaps, beats plausible and stamped in hub time.
    let last_seq = *second_seqs.last().unwrap();
    assert_eq!(
        observed.stored.keys().copied().collect::<Vec<_>>(),
        (1..=last_seq).collect::<Vec<_>>()
    );
    for seen in observed
        .events
        .iter()
        .filter(|seen| seen.name == "rr_intervals")
    {
        let rr = seen.data["rr"].as_array().unwrap();
        assert!(!rr.is_empty() && rr.len() <= 300);
        assert!(
            rr.iter()
                .all(|v| (300.0..=2000.0).contains(&v.as_f64().unwrap()))
        );
        assert!(seen.data["endedAt"].as_u64().is_some());
    }

    // The client's own account agrees with the hub's.
    assert_eq!(stats.batches_sent, last_seq);
    assert_eq!(stats.batches_acked, last_seq);
    assert_eq!(stats.batches_resent, 1);
    assert_eq!(stats.reconnects, 1);
    assert_eq!(stats.joined, 1);
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    // Every ack has a latency, measured from the batch's latest send.
    assert_eq!(stats.ack_ms.count, last_seq);

    // The hub's clock is 5 s ahead: measured in hub time, the broadcasts are fresh. Without the
    // time_sync offset they would look 5 s old.
    assert!(stats.group_updates >= 5, "{stats:?}");
    assert!(stats.broadcast_ms.count >= 5);
    assert!(
        stats.broadcast_ms.max_ms < 1000.0,
        "{:?}",
        stats.broadcast_ms
    );
}

#[tokio::test]
async fn ws_participant_with_query_handshake_resumes_and_resends() {
    timeout(
        TEST_LIMIT,
        check_resume(Framing::Ws, Transport::Ws, WsHandshake::Query),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn ws_participant_with_hello_handshake_resumes_and_resends() {
    timeout(
        TEST_LIMIT,
        check_resume(Framing::Ws, Transport::Ws, WsHandshake::Hello),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn socketio_participant_resumes_and_answers_pings() {
    timeout(TEST_LIMIT, async {
        check_resume(Framing::SocketIo, Transport::SocketIo, WsHandshake::Query).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn socketio_participant_answers_engine_pings() {
    timeout(TEST_LIMIT, async {
        let hub = FakeHub::start(Behaviour {
            drop_first_connection_after_batches: None,
            ..behaviour(Framing::SocketIo)
        })
        .await;
        let config = participant(&hub, Transport::SocketIo, WsHandshake::Query);
        let (outcome, _) = run_for(config, Duration::from_secs(3)).await;
        assert_eq!(outcome.connections, 1);
        // The stand-in hub pings every 300 ms: about 9 in 3 s.
        assert!(hub.observed().pongs >= 4, "{}", hub.observed().pongs);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn wrong_room_code_is_a_refusal_not_a_retry_loop() {
    timeout(TEST_LIMIT, async {
        for (framing, transport) in [
            (Framing::Ws, Transport::Ws),
            (Framing::SocketIo, Transport::SocketIo),
        ] {
            let hub = FakeHub::start(behaviour(framing)).await;
            let mut config = participant(&hub, transport, WsHandshake::Query);
            config.room_code = Some("0000".to_owned());
            let started = Instant::now();
            let (outcome, stats) = run_for(config, Duration::from_secs(5)).await;
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "it should give up at once"
            );
            assert_eq!(
                outcome.failure.as_deref(),
                Some("bad_room_code"),
                "{framing:?}"
            );
            assert!(!outcome.joined);
            assert_eq!(stats.connect_failures, 1);
            assert_eq!(
                stats.errors.get("bad_room_code"),
                Some(&1),
                "{:?}",
                stats.errors
            );
            assert_eq!(
                hub.observed().handshakes.len(),
                1,
                "no retries with a wrong code"
            );
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn unreachable_hub_fails_after_bounded_retries() {
    timeout(TEST_LIMIT, async {
        // Bind and drop a listener: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = ParticipantConfig::new(
            &format!("http://127.0.0.1:{port}"),
            "sim-x",
            Profile::Restless,
            1,
        );
        config.max_connect_attempts = 2;
        let (outcome, stats) = run_for(config, Duration::from_secs(10)).await;
        assert!(!outcome.joined);
        assert!(outcome.failure.is_some());
        assert_eq!(stats.connect_failures, 1);
        assert_eq!(stats.joined, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn crowd_joins_everyone_and_drains_before_leaving() {
    timeout(TEST_LIMIT, async {
        let hub = FakeHub::start(Behaviour {
            drop_first_connection_after_batches: None,
            ..behaviour(Framing::Ws)
        })
        .await;
        let mut config = CrowdConfig::new(&hub.url, 6);
        config.room_code = Some(ROOM_CODE.to_owned());
        config.transport = TransportMix::Only(Transport::Ws);
        config.profile = ProfileMix::Mixed;
        config.ramp_per_sec = 20.0;
        config.batch_interval = Duration::from_millis(250);
        let crowd = Crowd::start(config);
        assert!(crowd.wait_until_joined(6, Duration::from_secs(5)).await);
        assert_eq!(crowd.started_count(), 6);
        sleep(Duration::from_secs(2)).await;
        let report = crowd.stop(Duration::from_secs(3)).await;

        assert_eq!(report.outcomes.len(), 6);
        assert!(
            report
                .outcomes
                .iter()
                .all(|outcome| outcome.joined && outcome.unacked_batches == 0)
        );
        assert_eq!(report.stats.joined, 6);
        assert_eq!(report.stats.connected_now, 0);
        assert!(report.stats.batches_sent >= 6, "{:?}", report.stats);
        assert_eq!(report.stats.batches_acked, report.stats.batches_sent);
        // The stand-in hub reads the goodbyes on its own tasks; give them a moment.
        let leaves = || {
            let observed = hub.observed();
            observed
                .events
                .iter()
                .filter(|seen| seen.name == "leave_session")
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while leaves() < 6 && Instant::now() < deadline {
            sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(leaves(), 6);
        let observed = hub.observed();
        let users: std::collections::BTreeSet<String> = observed
            .handshakes
            .iter()
            .map(|handshake| handshake["userId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(users.len(), 6);
    })
    .await
    .unwrap();
}
