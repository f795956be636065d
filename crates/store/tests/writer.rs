//! The writer thread: durable acknowledgements, explicit backpressure, atomic batches.

use std::time::Duration;

use synchub_store::{DataDir, SendError, Store, WriterConfig};

use crate::util;

#[test]
fn a_batch_is_reported_durable_only_once_it_can_be_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let (session, participant) = (util::session_id(1), util::participant_id(1));
    let writer = store.writer();
    writer
        .send(util::session_opened(session, util::T0_MS))
        .unwrap();
    writer
        .send(util::joined(session, participant, "p-1", true))
        .unwrap();
    for seq in 1..=20 {
        writer
            .send(util::beats(session, participant, seq, 5))
            .unwrap();
    }
    let mut durable = Vec::new();
    for report in store.commits().iter() {
        // At the moment of the report the rows are already visible to another connection.
        let connection = util::sql(&store);
        for batch in &report.durable {
            let rows = connection
                .query_row(
                    "SELECT count(*) FROM rr_intervals WHERE batch_seq = ?1",
                    [batch.seq as i64],
                    |row| row.get::<_, i64>(0),
                )
                .unwrap();
            assert_eq!(rows, 5, "seq {}", batch.seq);
            durable.push(batch.seq);
        }
        if durable.len() == 20 {
            break;
        }
    }
    assert_eq!(durable, (1..=20).collect::<Vec<_>>());
}

#[test]
fn a_full_queue_is_reported_and_the_record_handed_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = WriterConfig {
        queue_capacity: 4,
        commit_interval: Duration::from_millis(200),
        max_rows_per_commit: 1_000_000,
    };
    let store = Store::open(&DataDir::new(dir.path()), config).unwrap();
    let (session, participant) = (util::session_id(1), util::participant_id(1));
    util::write_all(&store, [util::session_opened(session, util::T0_MS)]);
    util::write_all(&store, [util::joined(session, participant, "p-1", true)]);
    let writer = store.writer();
    let mut accepted = 0_u64;
    let mut refused = None;
    for seq in 0..10_000 {
        match writer.try_send(util::beats(session, participant, seq, 5)) {
            Ok(()) => accepted += 1,
            Err(SendError::Full(record)) => {
                refused = Some(record);
                break;
            }
            Err(SendError::Closed(_)) => panic!("writer stopped"),
        }
    }
    let refused = refused.expect("a queue of 4 fills up before 10 000 sends");
    assert!(matches!(refused, synchub_store::Record::Beats(_)));
    store.flush().unwrap();
    let stored = util::count(
        &util::sql(&store),
        "SELECT count(DISTINCT batch_seq) FROM rr_intervals",
    );
    assert_eq!(
        stored as u64, accepted,
        "everything accepted is stored, nothing else"
    );
}

#[test]
fn beats_of_an_unknown_participant_are_rejected_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let session = util::session_id(1);
    util::write_all(
        &store,
        [
            util::session_opened(session, util::T0_MS),
            util::joined(session, util::participant_id(1), "p-1", true),
            util::beats(session, util::participant_id(2), 7, 5),
            util::beats(session, util::participant_id(1), 8, 5),
        ],
    );
    let reports = util::drain_reports(&store);
    let durable: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.durable.iter().map(|b| b.seq))
        .collect();
    let rejected: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.rejected.iter().map(|b| b.seq))
        .collect();
    assert_eq!(durable, vec![8]);
    assert_eq!(rejected, vec![7]);
    assert_eq!(
        util::count(&util::sql(&store), "SELECT count(*) FROM rr_intervals"),
        5
    );
}

#[test]
fn reader_lists_sessions_participants_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let session = util::session_id(1);
    let (a, b) = (util::participant_id(1), util::participant_id(2));
    util::write_all(
        &store,
        [
            util::session_opened(session, util::T0_MS),
            util::joined(session, a, "p-a", true),
            util::joined(session, b, "p-b", false),
            util::beats(session, a, 1, 5),
            util::metrics(session, a, util::T0_MS + 5_000, 3.0),
            util::snapshot(session, util::T0_MS + 5_000, 2.0),
        ],
    );
    let reader = store.reader().unwrap();
    let running = reader.running_session().unwrap().expect("running session");
    assert_eq!(running.session_id, session);
    assert_eq!(running.participants, 2);
    assert!(running.summary.is_none());
    let participants = reader.participants(session).unwrap();
    assert_eq!(
        participants.iter().map(|p| p.beats).collect::<Vec<_>>(),
        vec![5, 0]
    );
    let detail = reader.session(session).unwrap().expect("detail");
    assert_eq!(detail.participants.len(), 2);
    assert_eq!(reader.recent_sessions(10).unwrap().len(), 1);
    let stats = reader.research_stats().unwrap();
    assert_eq!(
        (
            stats.sessions,
            stats.participations,
            stats.consented_participations
        ),
        (1, 2, 1)
    );
    assert_eq!((stats.beats, stats.metrics, stats.users), (5, 1, 2));
}

/// A second program holds the database's write lock (a real `BEGIN IMMEDIATE` on its own
/// connection): the writer reports the store as locked within a few seconds, keeps the
/// records — the session's and participant's rows ahead of the beats — and commits them all
/// once the lock is released, with nothing acknowledged before.
#[test]
fn a_locked_database_holds_every_record_and_commits_them_in_order_once_released() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let health = store.health().clone();
    let (session, participant) = (util::session_id(1), util::participant_id(1));
    let other = rusqlite::Connection::open(store.database_path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let writer = store.writer();
    writer
        .send(util::session_opened(session, util::T0_MS))
        .unwrap();
    writer
        .send(util::joined(session, participant, "p-1", true))
        .unwrap();
    for seq in 1..=3 {
        writer
            .send(util::beats(session, participant, seq, 4))
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while health.is_writable() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lock is never reported"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = health.status();
    let fault = status.fault.expect("a fault while locked");
    assert_eq!(
        fault.kind,
        synchub_store::StoreFaultKind::Locked,
        "{fault:?}"
    );
    assert!(
        store.commits().try_recv().is_err(),
        "nothing is reported (so nothing acknowledged) while locked"
    );

    other.execute_batch("ROLLBACK").unwrap();
    let mut durable = Vec::new();
    while durable.len() < 3 {
        let report = store
            .commits()
            .recv_timeout(Duration::from_secs(30))
            .expect("a commit after the lock is released");
        assert!(report.rejected.is_empty(), "{report:?}");
        durable.extend(report.durable.iter().map(|batch| batch.seq));
    }
    assert_eq!(durable, [1, 2, 3]);
    assert!(health.is_writable());
    let after = health.status();
    assert!(after.write_errors_total >= 1);
    assert_eq!(after.recoveries_total, 1);
    let connection = util::sql(&store);
    assert_eq!(
        util::count(&connection, "SELECT count(*) FROM rr_intervals"),
        12
    );
    assert_eq!(
        util::count(&connection, "SELECT count(*) FROM session_participants"),
        1
    );
}

/// While the store is stopping, a writer that cannot commit gives up after the grace period
/// and reports the batches as not stored (they were never acknowledged), instead of holding
/// the stop for as long as the lock lasts.
#[test]
fn a_stopping_store_gives_up_on_a_lock_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let (session, participant) = (util::session_id(1), util::participant_id(1));
    util::write_all(&store, [util::session_opened(session, util::T0_MS)]);
    util::write_all(&store, [util::joined(session, participant, "p-1", true)]);
    let _ = util::drain_reports(&store);
    let other = rusqlite::Connection::open(store.database_path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    store
        .writer()
        .send(util::beats(session, participant, 7, 4))
        .unwrap();
    store.begin_stop();
    let started = std::time::Instant::now();
    let report = store
        .commits()
        .recv_timeout(synchub_store::STOP_GRACE + Duration::from_secs(30))
        .expect("a report once the writer gives up");
    assert!(report.durable.is_empty());
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|batch| batch.seq)
            .collect::<Vec<_>>(),
        [7]
    );
    assert!(started.elapsed() >= synchub_store::STOP_GRACE);
    drop(other);
    store.shutdown().unwrap();
}
