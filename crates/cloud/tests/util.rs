//! A fresh PostgreSQL database per test, sessions recorded through the real store, a proxy that
//! cuts connections, and row comparison between SQLite and PostgreSQL.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    BeatBatch, DeviceKind, GroupSnapshot, IntentionCategory, PairRecord, ParticipantClosed,
    ParticipantMetrics, ParticipantRow, Phase, Record, ScheduleMode, ScoreSource, SessionRow,
    SessionSummary, StoredBeat, SynchronyRound,
};
use synchub_store::{DataDir, Store, WriterConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const T0_MS: i64 = 1_780_000_000_000;

/// Where the PostgreSQL server is: `DATABASE_URL`, else a local server on 127.0.0.1:5432.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    user: String,
    password: Option<String>,
    admin_database: String,
}

impl Server {
    pub fn find() -> Self {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let config: tokio_postgres::Config = url
                .parse()
                .unwrap_or_else(|error| panic!("DATABASE_URL is not a PostgreSQL URL: {error}"));
            let host = match config.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
                other => panic!("DATABASE_URL must name a TCP host for these tests, got {other:?}"),
            };
            return Self {
                host,
                port: config.get_ports().first().copied().unwrap_or(5432),
                user: config.get_user().unwrap_or("postgres").to_owned(),
                password: config
                    .get_password()
                    .map(|password| String::from_utf8_lossy(password).into_owned()),
                admin_database: config.get_dbname().unwrap_or("postgres").to_owned(),
            };
        }
        let local: SocketAddr = "127.0.0.1:5432".parse().expect("address");
        if TcpStream::connect_timeout(&local, Duration::from_secs(2)).is_err() {
            panic!(
                "these tests need a PostgreSQL server: none at 127.0.0.1:5432 and DATABASE_URL is \
                 not set. Run them through scripts/with-postgres (scripts/test does), which \
                 starts a throwaway server."
            );
        }
        Self {
            host: "127.0.0.1".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
            password: None,
            admin_database: "test".to_owned(),
        }
    }

    pub fn url(&self, host: &str, port: u16, database: &str) -> String {
        let password = self
            .password
            .as_ref()
            .map(|password| format!(":{password}"))
            .unwrap_or_default();
        format!(
            "postgres://{}{password}@{host}:{port}/{database}?sslmode=disable",
            self.user
        )
    }
}

/// A database created for one test and dropped when the value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub server: Server,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let server = Server::find();
        let name = format!("synchub_test_{:016x}", getrandom::u64().expect("random"));
        let admin_url = server.url(&server.host, server.port, &server.admin_database);
        let admin = synchub_cloud::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("connecting to {admin_url}: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = server.url(&server.host, server.port, &name);
        Self { server, name, url }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        synchub_cloud::connect(&self.url).await.expect("connect")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"))
            .get(0)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Dropping needs async I/O; a test's runtime may be shutting down, so use a fresh one on
        // its own thread.
        let admin_url = self.server.url(
            &self.server.host,
            self.server.port,
            &self.server.admin_database,
        );
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = synchub_cloud::connect(&admin_url)
                    .await
                    .map_err(|error| error.to_string())?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|error| error.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// A hub's store in a temporary directory.
pub struct Hub {
    // Kept so the directory lives as long as the store.
    _dir: tempfile::TempDir,
    pub store: Store,
    pub data_dir: DataDir,
}

impl Hub {
    pub fn open() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = DataDir::new(dir.path());
        let store = Store::open(&data_dir, WriterConfig::default()).expect("store opens");
        Self {
            _dir: dir,
            store,
            data_dir,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.database_path()
    }

    pub fn pseudonym(&self, person: usize) -> String {
        self.data_dir
            .org_secret()
            .expect("org secret")
            .pseudonym(&format!("person-{person}"))
    }

    pub fn write(&self, records: impl IntoIterator<Item = Record>) {
        let writer = self.store.writer();
        for record in records {
            writer.send(record).expect("writer running");
        }
        self.store.flush().expect("flush");
    }

    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.database_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open for checks")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sqlite()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"))
    }
}

/// A session of `people.len()` participants (person number, consent), each with `beats` beats,
/// a metric every 5 s, a group snapshot every second and a synchrony round every 5 s.
pub struct SessionPlan {
    pub number: u128,
    pub people: Vec<(usize, bool)>,
    pub beats: usize,
    /// False leaves the session running (not completed).
    pub complete: bool,
}

pub fn session_id(number: u128) -> SessionId {
    SessionId(uuid::Uuid::from_u128(
        0x5e55_0000_0000_7000_8000_0000_0000_0000 | number,
    ))
}

pub fn participant_id(session: u128, index: usize) -> ParticipantId {
    ParticipantId(uuid::Uuid::from_u128(
        0xa11c_e000_0000_7000_8000_0000_0000_0000 | (session << 32) | index as u128,
    ))
}

pub fn record_session(hub: &Hub, plan: &SessionPlan) {
    let session = session_id(plan.number);
    let started_at_ms = T0_MS + i64::try_from(plan.number).expect("small") * 3_600_000;
    let participants: Vec<ParticipantId> = (0..plan.people.len())
        .map(|index| participant_id(plan.number, index))
        .collect();
    let mut records = vec![
        Record::SessionOpened(SessionRow {
            session_id: session,
            mode: ScheduleMode::Manual,
            slot_start_ms: None,
            started_at_ms,
            preparation_secs: 60,
            active_secs: 600,
            integration_secs: 120,
            planned_end_ms: started_at_ms + 780_000,
        }),
        Record::PhaseChanged {
            session_id: session,
            phase: Phase::Active,
            at_ms: started_at_ms + 60_000,
            ends_at_ms: Some(started_at_ms + 660_000),
        },
    ];
    for (index, &(person, consent)) in plan.people.iter().enumerate() {
        records.push(Record::ParticipantJoined(ParticipantRow {
            session_id: session,
            participant_id: participants[index],
            pseudonym: hub.pseudonym(person),
            intention: Some(IntentionCategory::Anxiety),
            research_consent: consent,
            device: DeviceKind::Ble,
            joined_at_ms: started_at_ms + 1_000,
            resume_token: ResumeToken([7; 16]),
        }));
    }
    hub.write(records);
    let batch = 200;
    let mut seq = 0_u64;
    let mut written = 0;
    while written < plan.beats {
        let count = batch.min(plan.beats - written);
        let records: Vec<Record> = participants
            .iter()
            .enumerate()
            .map(|(index, &participant)| {
                Record::Beats(BeatBatch {
                    session_id: session,
                    participant_id: participant,
                    seq: Some(seq),
                    beats: (0..count)
                        .map(|i| {
                            let n = (written + i) as f64;
                            StoredBeat {
                                time_ms: started_at_ms as f64 + 2_000.0 + n * 850.25,
                                rr_ms: 800.0 + (index as f64) * 3.0 + (n % 50.0) * 0.5,
                                artifact: (written + i) % 97 == 0,
                            }
                        })
                        .collect(),
                })
            })
            .collect();
        hub.write(records);
        written += count;
        seq += 1;
    }
    let seconds = 30;
    let mut records = Vec::new();
    for second in 0..seconds {
        let at_ms = started_at_ms + 60_000 + second * 1_000;
        records.push(Record::GroupSnapshot(GroupSnapshot {
            session_id: session,
            at_ms,
            phase: Phase::Active,
            participant_count: plan.people.len() as u32,
            active_count: plan.people.len() as u32,
            average_coherence: 1.0 + second as f64 * 0.01,
            median_coherence: 1.0,
            std_coherence: 0.2,
            peak_coherence: 2.5,
            coherence_phase: synchub_hrv::CoherencePhase::Medium,
            distribution_low: 0,
            distribution_medium: plan.people.len() as u32,
            distribution_high: 0,
            synchrony_index: Some(0.3),
            synchrony_baseline: Some(0.1),
        }));
        if second % 5 == 0 {
            for (index, &participant) in participants.iter().enumerate() {
                records.push(Record::Metrics(ParticipantMetrics {
                    session_id: session,
                    participant_id: participant,
                    at_ms,
                    source: ScoreSource::Hub,
                    algorithm: Some("synchub-coherence/1"),
                    score: 1.0 + index as f64 * 0.1 + second as f64 * 0.01,
                    ratio: Some(1.5),
                    peak_hz: Some(0.1),
                    breaths_per_min: Some(6.0),
                    hr_bpm: Some(70.0),
                    mean_rr_ms: Some(857.0),
                    sdnn_ms: Some(50.0 + index as f64),
                    rmssd_ms: Some(40.0),
                    artifact_fraction: None,
                    quality: synchub_hrv::Quality::Good,
                }));
            }
            let pairs = participants
                .windows(2)
                .map(|pair| PairRecord {
                    a: pair[0],
                    b: pair[1],
                    correlation: 0.6,
                    plv: 0.7,
                    strength: 0.65,
                })
                .collect();
            records.push(Record::Synchrony(SynchronyRound {
                session_id: session,
                at_ms,
                participants: plan.people.len() as u32,
                index: 0.4,
                surrogate_index: 0.1,
                mean_strength: 0.5,
                surrogate_mean_strength: 0.2,
                pairs_sampled: false,
                pairs,
            }));
        }
    }
    if plan.complete {
        let ended_at_ms = started_at_ms + 780_000;
        for &participant in &participants {
            records.push(Record::ParticipantClosed(ParticipantClosed {
                session_id: session,
                participant_id: participant,
                left_at_ms: ended_at_ms,
                peak_coherence: Some(2.5),
                high_coherence_secs: 12.0,
            }));
        }
        records.push(Record::PhaseChanged {
            session_id: session,
            phase: Phase::Complete,
            at_ms: ended_at_ms,
            ends_at_ms: None,
        });
        records.push(Record::SessionCompleted {
            session_id: session,
            ended_at_ms,
            summary: SessionSummary {
                duration_ms: 780_000,
                participants: plan.people.len() as u32,
                average_coherence: Some(1.2),
                peak_coherence: Some(2.5),
                secs_low: 1.0,
                secs_medium: 20.0,
                secs_high: 9.0,
                average_synchrony: Some(0.4),
            },
        });
    }
    hub.write(records);
}

pub fn options(database: &TestDatabase, hub: &Hub) -> synchub_cloud::SyncOptions {
    synchub_cloud::SyncOptions::new(database.url.clone(), hub.database_path())
}

/// A value read from either database, for comparing rows column by column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int,
    Float,
    Text,
}

pub fn local_rows(hub: &Hub, sql: &str, kinds: &[Kind]) -> Vec<Vec<Cell>> {
    let connection = hub.sqlite();
    let mut statement = connection.prepare(sql).expect(sql);
    let rows = statement
        .query_map([], |row| {
            kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| {
                    Ok(match kind {
                        Kind::Int => Cell::Int(row.get(index)?),
                        Kind::Float => Cell::Float(row.get(index)?),
                        Kind::Text => Cell::Text(row.get(index)?),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .expect(sql);
    rows.collect::<Result<_, _>>().expect(sql)
}

pub async fn central_rows(database: &TestDatabase, sql: &str, kinds: &[Kind]) -> Vec<Vec<Cell>> {
    let rows = database
        .client()
        .await
        .query(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
    rows.iter()
        .map(|row| {
            kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| match kind {
                    Kind::Int => Cell::Int(row.get(index)),
                    Kind::Float => Cell::Float(row.get(index)),
                    Kind::Text => Cell::Text(row.get(index)),
                })
                .collect()
        })
        .collect()
}

/// What the proxy does to a connection once its byte budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward a prefix of the chunk, then close both sockets mid-message.
    Cut,
    /// Stop answering: both sockets stay open, and no byte moves either way any more (a
    /// database or network that hangs rather than fails).
    Stall,
}

/// A TCP proxy in front of PostgreSQL that breaks its first `faults` connections after a number
/// of bytes (both directions together) — cutting them, or leaving them open and silent — then
/// passes everything through.
pub struct CuttingProxy {
    pub addr: SocketAddr,
    cuts_done: Arc<AtomicUsize>,
    /// When each stalled connection went silent.
    stalled_at: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl CuttingProxy {
    /// Cuts `cuts` connections, each after a random number of bytes below `max_bytes`: every
    /// connection gets a budget while cuts are left, and the first `cuts` to use theirs up are
    /// cut. (A connection that ends within its budget, such as the last push of a sync with
    /// little left to send, used to spend a cut without cutting, and then the cuts never came.)
    pub async fn start(upstream: (String, u16), cuts: usize, max_bytes: u64, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        Self::with_faults(upstream, cuts, Fault::Cut, move || {
            rng.random_range(1..max_bytes)
        })
        .await
    }

    /// Stops answering on the first `stalls` connections that pass `after_bytes`.
    pub async fn stalling(upstream: (String, u16), stalls: usize, after_bytes: u64) -> Self {
        Self::with_faults(upstream, stalls, Fault::Stall, move || after_bytes).await
    }

    async fn with_faults(
        upstream: (String, u16),
        faults: usize,
        fault: Fault,
        mut budget: impl FnMut() -> u64 + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cuts_done = Arc::new(AtomicUsize::new(0));
        let stalled_at = Arc::new(std::sync::Mutex::new(Vec::new()));
        let done = Arc::clone(&cuts_done);
        let stalls = Arc::clone(&stalled_at);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault_after = (done.load(Ordering::SeqCst) < faults).then(&mut budget);
                let upstream = upstream.clone();
                let done = Arc::clone(&done);
                let stalls = Arc::clone(&stalls);
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // A fault is taken only when the connection reaches it, and only while
                    // faults are left (connections may overlap).
                    let claim = || {
                        done.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |made| {
                            (made < faults).then_some(made + 1)
                        })
                        .is_ok()
                    };
                    let Some(stalled) = relay(client, server, fault_after, fault, claim).await
                    else {
                        return;
                    };
                    if let Some(sockets) = stalled {
                        stalls
                            .lock()
                            .expect("not poisoned")
                            .push(std::time::Instant::now());
                        // Silent, not closed: hold both sockets until the test ends.
                        let _held = sockets;
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        Self {
            addr,
            cuts_done,
            stalled_at,
        }
    }

    /// Connections cut or stalled so far.
    pub fn cuts_done(&self) -> usize {
        self.cuts_done.load(Ordering::SeqCst)
    }

    /// When each stalled connection went silent.
    pub fn stalled_at(&self) -> Vec<std::time::Instant> {
        self.stalled_at.lock().expect("not poisoned").clone()
    }
}

/// The four halves of a relayed connection, kept open by a stall.
type Sockets = (
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf,
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf,
);

/// Copies both ways. When the fault struck: `Some` — after a cut with nothing to hold (the
/// sockets are dropped by the caller at once), after a stall with the open sockets.
async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    mut fault_after: Option<u64>,
    fault: Fault,
    claim: impl Fn() -> bool,
) -> Option<Option<Sockets>> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut up = vec![0_u8; 64 * 1024];
    let mut down = vec![0_u8; 64 * 1024];
    let mut relayed = 0_u64;
    loop {
        let (read, upward) = tokio::select! {
            read = client_read.read(&mut up) => (read, true),
            read = server_read.read(&mut down) => (read, false),
        };
        let Ok(read) = read else { return None };
        if read == 0 {
            return None;
        }
        let mut forward = read;
        let mut struck = false;
        if let Some(limit) = fault_after {
            let left = limit.saturating_sub(relayed);
            if (read as u64) >= left {
                if claim() {
                    // Forward a prefix of this chunk, then break the connection mid-message.
                    forward = usize::try_from(left).unwrap_or(read);
                    struck = true;
                } else {
                    // Another connection took the last fault: this one runs undisturbed.
                    fault_after = None;
                }
            }
        }
        let written = if upward {
            server_write.write_all(&up[..forward]).await
        } else {
            client_write.write_all(&down[..forward]).await
        };
        relayed += forward as u64;
        if struck {
            return Some(match fault {
                Fault::Cut => None,
                Fault::Stall => Some((client_read, client_write, server_read, server_write)),
            });
        }
        if written.is_err() {
            return None;
        }
    }
}

pub fn assert_counts_agree(report: &synchub_cloud::SyncReport) {
    for count in &report.counts {
        assert_eq!(count.local, count.central, "{count:?}");
    }
}
