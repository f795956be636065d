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
