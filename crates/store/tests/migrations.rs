//! The schema: migrations apply to an empty database and are idempotent on reopen.

use crate::util;

const TABLES: &[&str] = &[
    "hub",
    "users",
    "sessions",
    "session_phases",
    "session_participants",
    "rr_intervals",
    "hrv_metrics",
    "group_coherence_snapshots",
    "synchrony_rounds",
    "synchronization_pairs",
    "erasures",
    "sync_state",
    "research_exports",
    "session_reports",
];

#[test]
fn an_empty_directory_gets_every_table_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let connection = util::sql(&store);
    for table in TABLES {
        let exists = util::count(
            &connection,
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
        );
        assert_eq!(exists, 1, "table {table}");
    }
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(
        synchub_store::applied_migrations(store.database_path()).unwrap(),
        vec![
            "initial".to_owned(),
            "erasure_scope".to_owned(),
            "session_reports".to_owned(),
            "report_token".to_owned()
        ]
    );
}

#[test]
fn reopening_applies_nothing_twice_and_keeps_data_and_hub_id() {
    let dir = tempfile::tempdir().unwrap();
    let session = util::session_id(1);
    let hub_id = {
        let store = util::open(dir.path());
        util::write_all(&store, [util::session_opened(session, util::T0_MS)]);
        store.hub_id()
    };
    for _ in 0..3 {
        let store = util::open(dir.path());
        assert_eq!(store.hub_id(), hub_id);
        let connection = util::sql(&store);
        let migration_files = std::fs::read_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite"),
        )
        .unwrap()
        .count();
        assert_eq!(
            util::count(&connection, "SELECT count(*) FROM refinery_schema_history"),
            i64::try_from(migration_files).unwrap()
        );
        assert_eq!(util::count(&connection, "SELECT count(*) FROM hub"), 1);
        assert_eq!(util::count(&connection, "SELECT count(*) FROM sessions"), 1);
    }
}

#[test]
fn secrets_are_created_once_with_owner_only_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = synchub_store::DataDir::new(dir.path().join("nested"));
    let token = data_dir.admin_token().unwrap();
    let pseudonym = data_dir.org_secret().unwrap().pseudonym("someone");
    assert_eq!(data_dir.admin_token().unwrap(), token);
    assert_eq!(
        data_dir.org_secret().unwrap().pseudonym("someone"),
        pseudonym
    );
    for file in ["admin_token", "org_secret", "hub_id"] {
        let _ = data_dir.hub_id().unwrap();
        let mode = std::fs::metadata(dir.path().join("nested").join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
