//! A recorded session arrives centrally row for row and value for value, a second sync moves
//! nothing, and a running session waits until it ends.

use synchub_store::catalogue::{self, Origin, Owner, Table, ValueKind};

use crate::util::{
    Hub, Kind, SessionPlan, TestDatabase, assert_counts_agree, central_rows, local_rows, options,
    record_session,
};

/// The local and central queries that read back every value sync carries for `table` (its
/// columns and its central time columns, to the millisecond), in id order, with the kinds to
/// compare them as.
fn round_trip(table: &Table) -> (String, String, Vec<Kind>) {
    let (mut local, mut central, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
    for column in table.travelling_columns() {
        let local_value = match column.origin {
            Origin::Stored => format!("t.{}", column.name),
            Origin::Owner(expression) => expression.to_owned(),
        };
        if column.central {
            let (central_value, kind) = match column.kind {
                ValueKind::Integer => (column.name.to_owned(), Kind::Int),
                ValueKind::Boolean => (format!("{}::int4::int8", column.name), Kind::Int),
                ValueKind::Real => (column.name.to_owned(), Kind::Float),
                ValueKind::Text => (column.name.to_owned(), Kind::Text),
                ValueKind::Uuid | ValueKind::Bytes => {
                    (format!("{}::text", column.name), Kind::Text)
                }
            };
            local.push(local_value.clone());
            central.push(central_value);
            kinds.push(kind);
        }
        if let Some(time) = column.central_time {
            local.push(format!("round({local_value})"));
            central.push(format!("round(extract(epoch FROM {time}) * 1000)::float8"));
            kinds.push(Kind::Float);
        }
    }
    (
        format!(
            "SELECT {} FROM {} t{} ORDER BY t.id",
            local.join(", "),
            table.name,
            table.owner.joins()
        ),
        format!(
            "SELECT {} FROM {} ORDER BY id",
            central.join(", "),
            table.name
        ),
        kinds,
    )
}

fn consenting(people: usize) -> Vec<(usize, bool)> {
    (0..people).map(|person| (person, true)).collect()
}

#[tokio::test]
async fn every_row_of_recorded_sessions_arrives_unchanged() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    for number in 1..=3 {
        record_session(
            &hub,
            &SessionPlan {
                number,
                people: consenting(4),
                beats: 450,
                complete: true,
            },
        );
    }

    let mut reports = Vec::new();
    let report = synchub_cloud::push(&options(&database, &hub), &mut |progress| {
        reports.push(progress.clone());
    })
    .await
    .expect("sync");

    assert_counts_agree(&report);
    assert_eq!(report.rows(), hub.count("SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM session_phases) + (SELECT count(*) FROM session_participants) + (SELECT count(*) FROM rr_intervals) + (SELECT count(*) FROM hrv_metrics) + (SELECT count(*) FROM group_coherence_snapshots) + (SELECT count(*) FROM synchrony_rounds) + (SELECT count(*) FROM synchronization_pairs)") as u64);
    assert!(
        reports
            .iter()
            .any(|progress| progress.table == "rr_intervals"
                && progress.done
                && progress.rows == 3 * 4 * 450)
    );
    assert!(report.bytes() > 0);
    // Every table but the tombstones (this hub erased nobody) and the session reports (the hub
    // builds those from a session's data; `synchub::tests session_reports::` syncs them), every
    // value sync carries.
    for table in catalogue::TABLES.iter().filter(|table| {
        table.owner != Owner::Tombstone && !matches!(table.owner, Owner::FromParticipants { .. })
    }) {
        let (local_sql, central_sql, kinds) = round_trip(table);
        let local = local_rows(&hub, &local_sql, &kinds);
        let central = central_rows(&database, &central_sql, &kinds).await;
        assert!(!local.is_empty(), "{local_sql}");
        assert_eq!(local, central, "{local_sql}\n{central_sql}");
    }
    let hub_id = hub.data_dir.hub_id().expect("hub id");
    assert_eq!(report.hub_id, hub_id);
    assert_eq!(
        database
            .count(&format!(
                "SELECT count(*) FROM hub_sync_state WHERE hub_id = '{hub_id}' AND watermark > 0"
            ))
            .await,
        8,
        "every table but erasures has a watermark"
    );
}

#[tokio::test]
async fn a_second_sync_moves_nothing() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: consenting(3),
            beats: 300,
            complete: true,
        },
    );

    let first = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("first sync");
    let beats_after_first = database.count("SELECT count(*) FROM rr_intervals").await;
    let second = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("second sync");

    assert!(first.rows() > 0);
    assert_eq!(second.rows(), 0);
    assert_eq!(second.bytes(), 0);
    assert_counts_agree(&second);
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        beats_after_first
    );
    assert_eq!(beats_after_first, 900);
}

#[tokio::test]
async fn a_running_session_is_sent_once_it_has_ended() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: consenting(2),
            beats: 100,
            complete: true,
        },
    );
    record_session(
        &hub,
        &SessionPlan {
            number: 2,
            people: consenting(2),
            beats: 100,
            complete: false,
        },
    );

    let report = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("sync");

    assert_counts_agree(&report);
    assert_eq!(database.count("SELECT count(*) FROM sessions").await, 1);
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        200
    );
    assert!(
        report.pending_rows() > 0,
        "the running session's rows are pending"
    );

    // The store closes the session the way a restarted hub does.
    let summary = hub
        .store
        .close_interrupted(
            crate::util::session_id(2),
            crate::util::T0_MS + 2 * 3_600_000 + 700_000,
        )
        .expect("close");
    assert_eq!(summary.participants, 2);
    let report = synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("sync");

    assert_counts_agree(&report);
    assert_eq!(report.pending_rows(), 0);
    assert_eq!(
        database
            .count("SELECT count(*) FROM sessions WHERE ended_at_ms IS NOT NULL")
            .await,
        2
    );
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        400
    );
}

#[tokio::test]
async fn the_background_sync_reports_failures_and_then_success() {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: consenting(2),
            beats: 50,
            complete: true,
        },
    );
    let mut unreachable = options(&database, &hub);
    // Nothing listens on port 1: every attempt fails to connect.
    unreachable.database_url = "postgres://postgres@127.0.0.1:1/none?sslmode=disable".to_owned();
    let (status, mut seen) = tokio::sync::watch::channel(synchub_cloud::SyncStatus::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let background = tokio::spawn(synchub_cloud::watch(
        unreachable,
        std::time::Duration::from_secs(3_600),
        status,
        std::sync::Arc::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let failing = seen
        .wait_for(|status| status.consecutive_failures >= 2)
        .await
        .expect("status")
        .clone();
    let _ = stop.send(());
    background
        .await
        .expect("the background sync stops when told");
    assert!(failing.last_error.is_some());
    assert_eq!(failing.last_sync_ms, None);

    let (status, mut seen) = tokio::sync::watch::channel(failing);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let now = std::sync::Arc::new(tokio::sync::Notify::new());
    let background = tokio::spawn(synchub_cloud::watch(
        options(&database, &hub),
        std::time::Duration::from_secs(3_600),
        status,
        now.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let synced = seen
        .wait_for(|status| status.last_sync_ms.is_some() && !status.running)
        .await
        .expect("status")
        .clone();
    // Every table reported its progress, and the beats table sent all 100 rows.
    assert!(
        synced.tables.iter().all(|table| table.done),
        "{:?}",
        synced.tables
    );
    let beats = synced
        .tables
        .iter()
        .find(|table| table.table == "rr_intervals")
        .expect("rr_intervals progress");
    assert_eq!(beats.rows, 100);
    // Asked to sync now, it does not wait out the hour.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    now.notify_one();
    let again = seen
        .wait_for(|status| status.last_sync_ms > synced.last_sync_ms && !status.running)
        .await
        .expect("status")
        .clone();
    assert_eq!(again.last_rows, 0, "nothing new to send the second time");
    let _ = stop.send(());
    background
        .await
        .expect("the background sync stops when told");
    assert_eq!(synced.last_error, None);
    assert_eq!(synced.consecutive_failures, 0);
    assert_eq!(synced.rows_pending, 0);
    assert!(synced.last_rows > 100);
    assert_eq!(
        database.count("SELECT count(*) FROM rr_intervals").await,
        100
    );
}
