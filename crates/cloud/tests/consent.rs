//! Only consented participants' rows leave the hub, and an erased participant disappears
//! centrally at the next sync.

use crate::util::{
    self, Hub, SessionPlan, TestDatabase, assert_counts_agree, options, record_session,
};

async fn central_pseudonyms(database: &TestDatabase, table_sql: &str) -> Vec<String> {
    database
        .client()
        .await
        .query(table_sql, &[])
        .await
        .expect(table_sql)
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn unconsented_participants_never_arrive() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    // Persons 0 and 2 consent, 1 and 3 do not; pairs are (0,1), (1,2), (2,3): none has two
    // consenting members, so no pair may arrive.
    let people = vec![(0, true), (1, false), (2, true), (3, false)];
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people,
            beats: 200,
            complete: true,
        },
    );

    let report = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("sync");

    assert_counts_agree(&report);
    let mut arrived =
        central_pseudonyms(&database, "SELECT pseudonym FROM session_participants").await;
    arrived.sort();
    let mut consented = vec![hub.pseudonym(0), hub.pseudonym(2)];
    consented.sort();
    assert_eq!(arrived, consented);
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        400
    );
    assert_eq!(
        database
            .count(
                "SELECT count(*) FROM rr_intervals r WHERE NOT EXISTS (SELECT 1 FROM \
                 session_participants p WHERE p.hub_id = r.hub_id AND p.id = r.participant_ref)"
            )
            .await,
        0,
        "every central beat belongs to a central (consented) participant"
    );
    assert_eq!(
        database.count("SELECT count(*) FROM hrv_metrics").await,
        2 * 6
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM synchronization_pairs")
            .await,
        0
    );
    // Group figures carry no personal data and all arrive.
    assert_eq!(
        database
            .count("SELECT count(*) FROM group_coherence_snapshots")
            .await,
        30
    );
    for person in [1, 3] {
        let pseudonym = hub.pseudonym(person);
        assert_eq!(
            database
                .count(&format!(
                    "SELECT count(*) FROM session_participants WHERE pseudonym = '{pseudonym}'"
                ))
                .await,
            0
        );
    }
    assert_eq!(
        database
            .count("SELECT count(*) FROM research.participants")
            .await,
        2
    );
}

#[tokio::test]
async fn an_erased_participant_disappears_centrally_after_the_next_sync() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    let people = vec![(0, true), (1, true), (2, true)];
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: people.clone(),
            beats: 150,
            complete: true,
        },
    );
    record_session(
        &hub,
        &SessionPlan {
            number: 2,
            people,
            beats: 150,
            complete: true,
        },
    );
    synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("first sync");
    let erased = hub.pseudonym(1);
    let erased_count =
        format!("SELECT count(*) FROM session_participants WHERE pseudonym = '{erased}'");
    assert_eq!(database.count(&erased_count).await, 2);

    let erasure = hub.store.erase_participant(&erased).expect("erase locally");
    assert!(erasure.beat_rows > 0);
    let report = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("second sync");

    assert_counts_agree(&report);
    assert_eq!(database.count(&erased_count).await, 0);
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        2 * 2 * 150
    );
    assert_eq!(
        database.count("SELECT count(*) FROM hrv_metrics").await,
        2 * 2 * 6
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM synchronization_pairs")
            .await,
        0,
        "pairs (0,1) and (1,2) both involved the erased participant"
    );
    assert_eq!(database.count("SELECT count(*) FROM erasures").await, 1);
    assert_eq!(
        database
            .count(&format!(
                "SELECT count(*) FROM research.rr_intervals WHERE pseudonym = '{erased}'"
            ))
            .await,
        0
    );
}

#[tokio::test]
async fn a_participants_own_erasure_removes_only_that_sessions_rows_centrally() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    let people = vec![(0, true), (1, true), (2, true)];
    for number in [1, 2] {
        record_session(
            &hub,
            &SessionPlan {
                number,
                people: people.clone(),
                beats: 150,
                complete: true,
            },
        );
    }
    synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("first sync");
    let erased = hub.pseudonym(1);
    let theirs = format!("SELECT count(*) FROM session_participants WHERE pseudonym = '{erased}'");
    let their_beats = format!(
        "SELECT count(*) FROM rr_intervals r JOIN session_participants p \
         ON p.hub_id = r.hub_id AND p.id = r.participant_ref WHERE p.pseudonym = '{erased}'"
    );
    assert_eq!(database.count(&theirs).await, 2);

    // What `DELETE /api/me` does with the resume token of person 1 in the later session.
    let erasure = hub
        .store
        .erase_session_participant(util::session_id(2), util::participant_id(2, 1))
        .expect("erase locally");
    assert_eq!(erasure.beat_rows, 150);
    let report = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("second sync");

    assert_counts_agree(&report);
    assert_eq!(
        database.count(&theirs).await,
        1,
        "the earlier session's row stays"
    );
    assert_eq!(database.count(&their_beats).await, 150);
    assert_eq!(
        database
            .count(&format!(
                "SELECT count(*) FROM erasures WHERE pseudonym = '{erased}' \
                 AND participant_id = '{}'",
                util::participant_id(2, 1).0
            ))
            .await,
        1,
        "the central tombstone keeps its scope"
    );
}
