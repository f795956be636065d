//! The hub's background sync and `synchub sync` against a real PostgreSQL (`DATABASE_URL`, set
//! by `scripts/with-postgres`, or the server on 127.0.0.1:5432): a consenting participant's
//! session reaches the central database once it has ended, the console sees the sync's state,
//! and a participant who did not consent never leaves the hub.

use std::time::Duration;

use serde_json::json;
use synchub::central::CentralSync;
use synchub::engine_task::AdminCommand;
use tower::ServiceExt as _;

use crate::util::{WsClient, now_ms, synchub, test_config};

/// A database of its own for one test, dropped at the end.
pub struct CentralDatabase {
    admin: tokio_postgres::Client,
    pub name: String,
    pub url: String,
}

impl CentralDatabase {
    pub async fn create() -> CentralDatabase {
        let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
        });
        let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "these tests need PostgreSQL (run them through scripts/with-postgres, or set \
                     DATABASE_URL): connecting to {server}: {error}"
                )
            });
        tokio::spawn(connection);
        let name = format!("synchub_hub_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("creating the test database");
        let config: tokio_postgres::Config = server.parse().expect("DATABASE_URL parses");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres");
        let url = format!("postgres://{user}@{host}:{port}/{name}?sslmode=disable");
        CentralDatabase { admin, name, url }
    }

    /// A connection to the test database.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connecting to the test database");
        tokio::spawn(connection);
        client
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connecting to the test database");
        tokio::spawn(connection);
        match client.query_one(sql, &[]).await {
            Ok(row) => row.get(0),
            // The schema appears with the first sync.
            Err(_) => -1,
        }
    }

    pub async fn drop(self) {
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

async fn hub_info(hub: &synchub::serve::RunningHub) -> serde_json::Value {
    facilitator(hub, "GET", "/api/hub", None).await.1
}

/// A facilitator request through the router; the status and the JSON body.
async fn facilitator(
    hub: &synchub::serve::RunningHub,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let token = std::fs::read_to_string(&hub.admin_token_path).unwrap();
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", token.trim()))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            body.map(|body| body.to_string()).unwrap_or_default(),
        ))
        .unwrap();
    let response = synchub::server::app(hub.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// A session started and ended by the facilitator, with [`record_two_participants`] in it.
pub async fn record_an_ended_session(hub: &synchub::serve::RunningHub) {
    let session = hub
        .state
        .engine
        .admin(AdminCommand::StartSession)
        .await
        .unwrap()
        .unwrap();
    record_two_participants(hub.local_addr.port()).await;
    hub.state
        .engine
        .admin(|reply| AdminCommand::End(session, reply))
        .await
        .unwrap()
        .unwrap();
}

/// One participant who consents and one who does not, each with one acknowledged batch.
async fn record_two_participants(port: u16) {
    for (user, consent) in [("alice", true), ("bob", false)] {
        let mut client =
            WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId={user}")).await;
        client
            .send("join_session", json!({"consent": {"research": consent}}))
            .await;
        client.expect("session_joined").await;
        let rr = [812.0, 845.5, 870.25, 851.0];
        client
            .send(
                "rr_intervals",
                json!({"rr": rr, "seq": 1, "endedAt": now_ms()}),
            )
            .await;
        client.expect("rr_ack").await;
        client.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_syncs_ended_sessions_in_the_background_and_reports_it() {
    let central = CentralDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.central_sync = Some(CentralSync {
        database_url: central.url.clone(),
        every: Duration::from_millis(500),
        timeout: None,
    });
    let hub = synchub::serve::start(config).await.expect("the hub starts");
    // Nothing has succeeded yet; the first push may already be under way.
    let first = hub_info(&hub).await["sync"]["state"].clone();
    assert!(first == "never" || first == "running", "{first}");
    record_an_ended_session(&hub).await;

    // The ended session arrives: the consenting participant's four beats, nobody else's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let beats = central.count("SELECT count(*) FROM rr_intervals").await;
        let info = hub_info(&hub).await;
        if beats == 4 && info["sync"]["state"] == "idle" && info["sync"]["unsyncedRows"] == 0 {
            assert!(info["sync"]["lastSyncAt"].as_u64().is_some(), "{info}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session did not reach the central database: {beats} beats, {info}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        central
            .count("SELECT count(*) FROM session_participants")
            .await,
        1
    );
    assert_eq!(central.count("SELECT count(*) FROM sessions").await, 1);

    hub.stop().await.expect("the hub stops");
    central.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_sets_the_database_syncs_now_and_the_hub_remembers_it() {
    let central = CentralDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let hub = synchub::serve::start(test_config(dir.path(), None))
        .await
        .unwrap();
    assert_eq!(hub_info(&hub).await["sync"]["state"], "disabled");
    let (status, refused) = facilitator(&hub, "POST", "/api/sync", None).await;
    assert_eq!(status, 409, "nothing to sync to yet: {refused}");
    let (status, refused) = facilitator(
        &hub,
        "PUT",
        "/api/sync",
        Some(json!({"databaseUrl": "postgres://host:notaport/db"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_payload");
    // libpq's TLS parameters are understood, and a CA file that is not there is named at once.
    let (status, refused) = facilitator(
        &hub,
        "PUT",
        "/api/sync",
        Some(json!({"databaseUrl":
            "postgres://sync@db.uni.example/research?sslmode=verify-full&sslrootcert=/nonexistent/uni-ca.pem"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("sslrootcert=/nonexistent/uni-ca.pem")),
        "{refused}"
    );

    record_an_ended_session(&hub).await;

    // An hour between syncs: only "sync now" can explain the data arriving in time.
    let (status, set) = facilitator(
        &hub,
        "PUT",
        "/api/sync",
        Some(json!({"databaseUrl": central.url, "everySecs": 3600})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["everySecs"], 3600);
    assert!(
        set["database"]
            .as_str()
            .is_some_and(|database| database.contains(&central.name))
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = hub_info(&hub).await;
        if info["sync"]["state"] == "idle" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "first sync: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(central.count("SELECT count(*) FROM rr_intervals").await, 4);
    let first_sync_at = hub_info(&hub).await["sync"]["lastSyncAt"].as_u64().unwrap();
    let tables = hub_info(&hub).await["sync"]["tables"].clone();
    let beats = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["table"] == "rr_intervals")
        .cloned()
        .unwrap_or_else(|| panic!("per-table progress: {tables}"));
    assert_eq!(beats["rows"], 4);
    assert_eq!(beats["done"], true);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, _) = facilitator(&hub, "POST", "/api/sync", None).await;
    assert_eq!(status, 202);
    loop {
        let info = hub_info(&hub).await;
        if info["sync"]["state"] == "idle"
            && info["sync"]["lastSyncAt"].as_u64() > Some(first_sync_at)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "sync now: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hub.stop().await.unwrap();

    // The setting outlives the hub; it is readable by its owner only.
    let saved = dir.path().join("central_sync.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let hub = synchub::serve::start(test_config(dir.path(), None))
        .await
        .unwrap();
    assert_eq!(hub_info(&hub).await["sync"]["everySecs"], 3600);
    let (status, off) =
        facilitator(&hub, "PUT", "/api/sync", Some(json!({"databaseUrl": null}))).await;
    assert_eq!(status, 200);
    assert_eq!(off["state"], "disabled");
    assert!(!saved.exists());
    hub.stop().await.unwrap();
    central.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchub_sync_pushes_once_verifies_and_moves_nothing_the_second_time() {
    let central = CentralDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let hub = synchub::serve::start(test_config(dir.path(), None))
        .await
        .unwrap();
    record_an_ended_session(&hub).await;
    hub.stop().await.unwrap();

    let data_dir = dir.path().to_str().unwrap();
    let first = tokio::task::spawn_blocking({
        let url = central.url.clone();
        let data_dir = data_dir.to_owned();
        move || {
            synchub(&[
                "sync",
                "--once",
                "--data-dir",
                &data_dir,
                "--database-url",
                &url,
            ])
        }
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first.status.success(), "{log}");
    assert!(
        log.contains("verified: local and central counts agree"),
        "{log}"
    );
    assert!(log.contains("rr_intervals"), "per-table progress: {log}");
    assert!(
        !log.contains("alice") && !log.contains("bob"),
        "no raw ids in the log: {log}"
    );
    assert_eq!(central.count("SELECT count(*) FROM rr_intervals").await, 4);

    let second = tokio::task::spawn_blocking({
        let url = central.url.clone();
        let data_dir = data_dir.to_owned();
        move || synchub(&["sync", "--data-dir", &data_dir, "--database-url", &url])
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&second.stderr).into_owned();
    assert!(second.status.success(), "{log}");
    assert!(log.contains("pushed 0 rows"), "{log}");
    assert_eq!(central.count("SELECT count(*) FROM rr_intervals").await, 4);
    central.drop().await;
}

#[test]
fn sync_without_a_store_or_database_explains_itself() {
    let empty = tempfile::tempdir().unwrap();
    let output = synchub(&[
        "sync",
        "--data-dir",
        empty.path().to_str().unwrap(),
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("pass the --data-dir"), "{message}");
}
