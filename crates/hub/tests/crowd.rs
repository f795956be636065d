//! A simulated room through the real hub: fifty participants on both transports, joining at
//! once as phones do after a Wi-Fi blip. Every one must be admitted, every beat batch
//! acknowledged exactly once (and stored once), and group metrics must arrive at about 1 Hz.
//! This is the correctness half of the load benchmark (`synchub-sim bench`); speed is measured
//! there, not here.

use std::time::Duration;

use synchub_sim::crowd::{Crowd, CrowdConfig, TransportMix};

use crate::util::{TestHub, count_rows};

const PARTICIPANTS: usize = 50;
const RUN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_participants_on_both_transports_are_all_admitted_and_acked_once() {
    let hub = TestHub::start(Some("2468")).await;
    let mut config = CrowdConfig::new(&format!("http://127.0.0.1:{}", hub.port()), PARTICIPANTS);
    config.room_code = Some("2468".to_owned());
    config.transport = TransportMix::Mixed;
    // Everyone at once: the first events of a Socket.IO client then race the hub's connect
    // handling, which is what once lost `join_session`s.
    config.ramp_per_sec = 1_000.0;
    let crowd = Crowd::start(config);
    assert!(
        crowd
            .wait_until_joined(PARTICIPANTS as u64, Duration::from_secs(20))
            .await,
        "not everyone joined: {:?}",
        crowd.snapshot()
    );
    tokio::time::sleep(RUN).await;
    let report = crowd.stop(Duration::from_secs(5)).await;
    let stats = &report.stats;

    assert_eq!(stats.joined, PARTICIPANTS as u64, "{stats:?}");
    assert!(stats.errors.is_empty(), "errors: {:?}", stats.errors);
    assert!(stats.batches_sent >= PARTICIPANTS as u64 * 4, "{stats:?}");
    assert_eq!(
        stats.batches_acked, stats.batches_sent,
        "every batch acknowledged"
    );
    assert!(
        report
            .outcomes
            .iter()
            .all(|outcome| outcome.unacked_batches == 0)
    );

    // Stored exactly once: one row per acknowledged (participant, seq).
    let stored_batches = count_rows(
        &hub.database,
        "SELECT count(*) FROM (SELECT DISTINCT participant_ref, batch_seq FROM rr_intervals \
         WHERE batch_seq IS NOT NULL)",
    );
    assert_eq!(stored_batches as u64, stats.batches_acked);
    let duplicated_beats = count_rows(
        &hub.database,
        "SELECT count(*) FROM (SELECT 1 FROM rr_intervals \
         GROUP BY participant_ref, batch_seq, time_ms HAVING count(*) > 1)",
    );
    assert_eq!(duplicated_beats, 0, "no beat stored twice");

    // Group metrics at about 1 Hz to each participant over the run.
    let per_participant = stats.group_updates as f64 / PARTICIPANTS as f64;
    assert!(
        per_participant >= RUN.as_secs_f64() - 1.0,
        "{per_participant:.1} group updates per participant in {RUN:?}"
    );
}

/// Participants who come and go as in a real room: every couple of seconds each one either
/// loses its connection and resumes with its token, or leaves on purpose (`leave_session`) and
/// joins again a few seconds later as a new participant. Every acknowledged batch is stored
/// once, under the participant who sent it; every leave closes a participant row; nobody hears
/// an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_who_drop_leave_and_rejoin_lose_no_acknowledged_batch() {
    const CHURNING: usize = 12;
    let hub = TestHub::start(None).await;
    let mut config = CrowdConfig::new(&format!("http://127.0.0.1:{}", hub.port()), CHURNING);
    config.transport = TransportMix::Mixed;
    config.ramp_per_sec = 50.0;
    config.churn = Some(Duration::from_secs(2));
    config.leave_share = 0.5;
    let crowd = Crowd::start(config);
    assert!(
        crowd
            .wait_until_joined(CHURNING as u64, Duration::from_secs(20))
            .await,
        "not everyone joined: {:?}",
        crowd.snapshot()
    );
    tokio::time::sleep(Duration::from_secs(15)).await;
    let report = crowd.stop(Duration::from_secs(10)).await;
    let stats = &report.stats;

    assert!(stats.errors.is_empty(), "errors: {:?}", stats.errors);
    assert!(stats.leaves >= 3, "{stats:?}");
    assert!(stats.rejoins >= 3, "{stats:?}");
    assert!(stats.reconnects >= 3, "{stats:?}");
    assert_eq!(stats.batches_acked, stats.batches_sent, "{stats:?}");
    // Everything the hub was told (the last joins and leaves included) is stored by its stop.
    let database = hub.database.clone();
    hub.hub.stop().await.expect("the hub stops cleanly");
    let stored_batches = count_rows(
        &database,
        "SELECT count(*) FROM (SELECT DISTINCT participant_ref, batch_seq FROM rr_intervals \
         WHERE batch_seq IS NOT NULL)",
    );
    assert_eq!(stored_batches as u64, stats.batches_acked);
    // One participant row per join: the first joins and each rejoin after a leave.
    let participant_rows = count_rows(&database, "SELECT count(*) FROM session_participants");
    assert_eq!(
        participant_rows as u64,
        stats.joined + stats.rejoins,
        "{stats:?}"
    );
    let closed_rows = count_rows(
        &database,
        "SELECT count(*) FROM session_participants WHERE left_at_ms IS NOT NULL",
    );
    assert!(
        closed_rows as u64 >= stats.leaves,
        "{closed_rows} closed, {stats:?}"
    );
}
