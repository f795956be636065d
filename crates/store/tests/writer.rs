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
