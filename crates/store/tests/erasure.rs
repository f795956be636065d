//! The right to erasure: every row of the participant goes, a tombstone stays.

use crate::util;

#[test]
fn erasure_removes_every_row_of_the_participant_and_records_a_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let mut records = Vec::new();
    for s in 0..2_u128 {
        let session = util::session_id(s);
        let (gone, kept) = (
            util::participant_id(s * 10),
            util::participant_id(s * 10 + 1),
        );
        records.extend([
            util::session_opened(session, util::T0_MS + s as i64 * 3_600_000),
            util::joined(session, gone, "erase-me", true),
            util::joined(session, kept, "keep-me", true),
            util::beats(session, gone, 1, 5),
            util::beats(session, kept, 1, 5),
            util::metrics(session, gone, util::T0_MS, 1.0),
            util::metrics(session, kept, util::T0_MS, 1.0),
            util::synchrony(session, util::T0_MS, gone, kept),
        ]);
    }
    util::write_all(&store, records);

    let report = store.erase_participant("erase-me").unwrap();
    assert_eq!(
        (
            report.participant_rows,
            report.beat_rows,
            report.metric_rows,
            report.pair_rows
        ),
        (2, 10, 2, 2)
    );
    let connection = util::sql(&store);
    let mine = "(SELECT id FROM session_participants WHERE pseudonym = 'erase-me')";
    for query in [
        "SELECT count(*) FROM session_participants WHERE pseudonym = 'erase-me'".to_owned(),
        "SELECT count(*) FROM users WHERE pseudonym = 'erase-me'".to_owned(),
        // Orphans would show up as rows whose participant no longer exists.
        "SELECT count(*) FROM rr_intervals WHERE participant_ref NOT IN (SELECT id FROM session_participants)".to_owned(),
        "SELECT count(*) FROM hrv_metrics WHERE participant_ref NOT IN (SELECT id FROM session_participants)".to_owned(),
        "SELECT count(*) FROM synchronization_pairs".to_owned(),
        format!("SELECT count(*) FROM rr_intervals WHERE participant_ref IN {mine}"),
    ] {
        assert_eq!(util::count(&connection, &query), 0, "{query}");
    }
    assert_eq!(
        util::count(&connection, "SELECT count(*) FROM rr_intervals"),
        10,
        "the other participant keeps their beats"
    );
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM erasures WHERE pseudonym = 'erase-me' AND beat_rows = 10"
        ),
        1
    );
}

#[test]
fn a_session_scoped_erasure_and_export_reach_only_that_sessions_row_of_the_pseudonym() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let (earlier, later) = (util::session_id(1), util::session_id(2));
    let (first, second) = (util::participant_id(10), util::participant_id(20));
    util::write_all(
        &store,
        [
            util::session_opened(earlier, util::T0_MS),
            util::joined(earlier, first, "shared", true),
            util::beats(earlier, first, 1, 7),
            util::metrics(earlier, first, util::T0_MS, 1.0),
            util::session_opened(later, util::T0_MS + 3_600_000),
            util::joined(later, second, "shared", true),
            util::beats(later, second, 1, 3),
        ],
    );

    let out = dir.path().join("export");
    let export = store
        .export_session_participant(
            later,
            second,
            synchub_store::ExportFormat::Json,
            &out,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(
        (export.sessions, export.participants, export.beat_rows),
        (1, 1, 3),
        "the later session only"
    );
    // The pseudonym's whole history is still there for the facilitator.
    let everything = store
        .export_participant(
            "shared",
            synchub_store::ExportFormat::Json,
            &dir.path().join("all"),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((everything.sessions, everything.beat_rows), (2, 10));

    // A participant id of another session does not reach the earlier row.
    let wrong = store.erase_session_participant(later, first).unwrap();
    assert_eq!(wrong.participant_rows, 0);

    let report = store.erase_session_participant(later, second).unwrap();
    assert_eq!((report.participant_rows, report.beat_rows), (1, 3));
    let connection = util::sql(&store);
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM session_participants WHERE pseudonym = 'shared'"
        ),
        1,
        "the earlier session keeps its row"
    );
    assert_eq!(
        util::count(&connection, "SELECT count(*) FROM rr_intervals"),
        7
    );
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM users WHERE pseudonym = 'shared'"
        ),
        1,
        "the pseudonym still has a session"
    );
    assert_eq!(
        util::count(
            &connection,
            &format!(
                "SELECT count(*) FROM erasures WHERE pseudonym = 'shared' AND participant_id = '{}' \
                 AND session_ref = (SELECT id FROM sessions WHERE session_id = '{}')",
                second.0, later.0
            )
        ),
        1,
        "the tombstone names the one session row"
    );

    store.erase_session_participant(earlier, first).unwrap();
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM users WHERE pseudonym = 'shared'"
        ),
        0,
        "the pseudonym goes with its last session"
    );
}
