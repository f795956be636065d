//! A connection cut at random points, again and again, during a large sync, and a database that
//! stops answering mid-push: the final state has every row exactly once.

use std::time::{Duration, Instant};

use crate::util::{
    CuttingProxy, Hub, SessionPlan, TestDatabase, assert_counts_agree, options, record_session,
};

/// How many connections the proxy cuts.
const CUTS: usize = 12;

#[tokio::test]
async fn cuts_at_random_points_leave_no_gaps_and_no_duplicates() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    // 2 sessions × 10 participants × 10 000 beats = 200 000 beats (about 15 MB of COPY), plus
    // metrics and snapshots; person 7 does not consent.
    let people = || (0..10).map(|person| (person, person != 7)).collect();
    let mut sessions = 2;
    for number in 1..=sessions {
        record_session(
            &hub,
            &SessionPlan {
                number,
                people: people(),
                beats: 10_000,
                complete: true,
            },
        );
    }
    let mut direct = database.client().await;
    synchub_cloud::migrate(&mut direct).await.expect("schema");

    let seed = getrandom::u64().expect("random");
    let proxy = CuttingProxy::start(
        (database.server.host.clone(), database.server.port),
        CUTS,
        // Anywhere from the start-up to 2 MB into the data: each interrupted push moves the
        // watermarks on by about 1 MB, so the cuts spread over the whole sync.
        2_000_000,
        seed,
    )
    .await;
    let mut through_proxy = options(&database, &hub);
    through_proxy.database_url =
        database
            .server
            .url("127.0.0.1", proxy.addr.port(), &database.name);
    through_proxy.batch_rows = 5_000;

    let mut failures = 0;
    let mut watermarks_seen = Vec::new();
    let final_report = loop {
        match synchub_cloud::push(&through_proxy, &mut |_| {}).await {
            Ok(report) if proxy.cuts_done() == CUTS => break report,
            Ok(_) => {
                // The data ran out before the cuts did: the hub records another session.
                sessions += 1;
                assert!(
                    sessions <= 12,
                    "the cuts never came ({} of {CUTS}; seed {seed})",
                    proxy.cuts_done()
                );
                record_session(
                    &hub,
                    &SessionPlan {
                        number: sessions,
                        people: people(),
                        beats: 10_000,
                        complete: true,
                    },
                );
            }
            Err(error) => {
                failures += 1;
                assert!(
                    failures <= CUTS + 5,
                    "too many failures (seed {seed}), last: {error}"
                );
                watermarks_seen.push(
                    database
                        .count("SELECT coalesce(sum(watermark), 0)::int8 FROM hub_sync_state")
                        .await,
                );
            }
        }
    };
    eprintln!(
        "fault injection: seed {seed}, {} cuts, {failures} failed pushes, {sessions} sessions, \
         watermark sums after each failure {watermarks_seen:?}",
        proxy.cuts_done()
    );

    assert_eq!(proxy.cuts_done(), CUTS);
    assert!(
        failures >= CUTS / 2,
        "most cuts interrupt a push ({failures} of {CUTS})"
    );
    assert_counts_agree(&final_report);
    let again = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("direct sync");
    assert_eq!(again.rows(), 0);
    assert_counts_agree(&again);
    for table in [
        "rr_intervals",
        "hrv_metrics",
        "session_participants",
        "group_coherence_snapshots",
        "synchronization_pairs",
    ] {
        assert_eq!(
            database
                .count(&format!(
                    "SELECT count(*) - count(DISTINCT (hub_id, id)) FROM {table}"
                ))
                .await,
            0,
            "{table} has no duplicate keys"
        );
    }
    // No gaps: the central beat ids are exactly the consented local ones.
    let local_ids: Vec<i64> = {
        let connection = hub.sqlite();
        let mut statement = connection
            .prepare(
                "SELECT r.id FROM rr_intervals r JOIN session_participants p \
                 ON p.id = r.participant_ref WHERE p.research_consent = 1 ORDER BY r.id",
            )
            .expect("prepare");
        statement
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("ids")
    };
    let central_ids: Vec<i64> = database
        .client()
        .await
        .query("SELECT id FROM rr_intervals ORDER BY id", &[])
        .await
        .expect("central ids")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(local_ids.len(), sessions as usize * 9 * 10_000);
    assert_eq!(central_ids, local_ids);
}

/// The ids of the consented beats, locally and centrally.
async fn beat_ids(database: &TestDatabase, hub: &Hub) -> (Vec<i64>, Vec<i64>) {
    let local: Vec<i64> = {
        let connection = hub.sqlite();
        let mut statement = connection
            .prepare(
                "SELECT r.id FROM rr_intervals r JOIN session_participants p \
                 ON p.id = r.participant_ref WHERE p.research_consent = 1 ORDER BY r.id",
            )
            .expect("prepare");
        statement
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("ids")
    };
    let central: Vec<i64> = database
        .client()
        .await
        .query("SELECT id FROM rr_intervals ORDER BY id", &[])
        .await
        .expect("central ids")
        .iter()
        .map(|row| row.get(0))
        .collect();
    (local, central)
}

#[tokio::test]
async fn a_database_that_stops_answering_fails_the_attempt_in_time_and_the_next_resumes() {
    /// Short, so the test is quick; the hub's default is 60 s.
    const DEADLINE: Duration = Duration::from_secs(3);
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    // 10 participants × 10 000 beats, person 7 without consent: about 7 MB of COPY.
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: (0..10).map(|person| (person, person != 7)).collect(),
            beats: 10_000,
            complete: true,
        },
    );
    let mut direct = database.client().await;
    synchub_cloud::migrate(&mut direct).await.expect("schema");
    // The first connection goes silent 2 MB in, in the middle of the beats' COPY; later ones
    // pass through.
    let proxy = CuttingProxy::stalling(
        (database.server.host.clone(), database.server.port),
        1,
        2_000_000,
    )
    .await;
    let mut through_proxy = options(&database, &hub);
    through_proxy.database_url =
        database
            .server
            .url("127.0.0.1", proxy.addr.port(), &database.name);
    through_proxy.batch_rows = 5_000;
    through_proxy.timeout = DEADLINE;

    let started = Instant::now();
    let error = synchub_cloud::push(&through_proxy, &mut |_| {})
        .await
        .expect_err("a push to a silent database fails");
    let failed = Instant::now();
    let stalled = proxy.stalled_at();
    assert_eq!(stalled.len(), 1, "the proxy stalled the push's connection");
    let silent_for = failed - stalled[0];
    assert!(
        matches!(error, synchub_cloud::Error::Timeout { .. }),
        "a timeout, not {error:?}"
    );
    let why = error.to_string();
    assert!(why.contains("did not answer within 3s"), "{why}");
    assert!(
        silent_for >= DEADLINE - Duration::from_millis(100) && silent_for < DEADLINE * 2,
        "the attempt failed {silent_for:?} after the database went silent"
    );
    let watermarks_after_failure = database
        .count("SELECT coalesce(sum(watermark), 0)::int8 FROM hub_sync_state")
        .await;

    let resumed_at = Instant::now();
    let report = synchub_cloud::push(&through_proxy, &mut |_| {})
        .await
        .expect("the next attempt completes");
    let resumed_in = resumed_at.elapsed();
    assert_counts_agree(&report);
    let (local_ids, central_ids) = beat_ids(&database, &hub).await;
    assert_eq!(local_ids.len(), 9 * 10_000);
    assert_eq!(central_ids, local_ids, "no gap, no duplicate");
    eprintln!(
        "stalled central database: the attempt failed {silent_for:?} after the database went \
         silent ({:?} after it started; deadline {DEADLINE:?}): {why}; watermark sum after the \
         failure {watermarks_after_failure}; the next attempt took {resumed_in:?} and sent {} \
         rows; central beats {} = local {}",
        failed - started,
        report.rows(),
        central_ids.len(),
        local_ids.len()
    );
}
