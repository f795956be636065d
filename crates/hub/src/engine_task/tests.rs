//! The engine task on virtual time, against a real store in a temporary folder: tokio's clock is
//! paused (`start_paused`), the hub's [`Clock`] follows it, and each connection is a peer that
//! records what it is sent. The store's commit reports are handed to the engine task by the
//! test itself, so a test decides when durability reaches the engine; waiting for the store
//! happens in `spawn_blocking`, which holds tokio's virtual clock still meanwhile.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use synchub_protocol::Role;
use synchub_session::record::{DeviceKind, ScheduleMode};
use synchub_session::{Engine, EngineConfig, PhaseDurations, RrBatch, ScheduleConfig, SessionId};
use synchub_store::{CommitReport, DataDir, Store, WriterConfig};
use tokio::sync::{mpsc, oneshot, watch};

use super::{AdminCommand, Answer, EngineHandle, EngineTask, Identity, Input, Reply};
use crate::client_input::{ClientInput, JoinFields};
use crate::clock::Clock;
use crate::encoded::Encoded;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer, SendFailure};
use crate::room::RoomSettings;

/// 2026-01-01 10:00:00 UTC: a whole quarter hour, where a rolling slot starts.
const TEN_O_CLOCK_MS: i64 = 1_767_261_600_000;

/// A connection that keeps what the engine task sends it.
#[derive(Debug)]
struct RecordingPeer(mpsc::UnboundedSender<Arc<Encoded>>);

impl Peer for RecordingPeer {
    fn send(&self, event: &Arc<Encoded>) -> Result<(), SendFailure> {
        self.0.send(event.clone()).map_err(|_| SendFailure::Closed)
    }

    fn close(&self) {}
}

/// A real engine task over a real store, on a manual clock.
struct Room {
    handle: EngineHandle,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    _dir: tempfile::TempDir,
}

impl Room {
    fn open(schedule: ScheduleConfig, writer: WriterConfig) -> Room {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&DataDir::new(dir.path()), writer).expect("the store opens");
        let clock = Clock::manual(TEN_O_CLOCK_MS);
        let config = EngineConfig {
            schedule,
            ..EngineConfig::default()
        };
        let engine = Engine::new(config, clock.wall_ms(), [7; 32]).expect("the engine starts");
        let (_, room) = watch::channel(RoomSettings {
            name: "Test room".to_owned(),
            code: None,
        });
        let metrics = Arc::new(Metrics::default());
        let (task, handle, inputs) = EngineTask::new(
            engine,
            clock,
            room,
            store.writer(),
            store.health().clone(),
            metrics.clone(),
        );
        tokio::spawn(task.run(inputs));
        Room {
            handle,
            store: Arc::new(store),
            metrics,
            _dir: dir,
        }
    }

    async fn start_session(&self) -> SessionId {
        self.handle
            .admin(AdminCommand::StartSession)
            .await
            .expect("the engine task answers")
            .expect("a session starts")
    }

    /// A participant's connection, open but not joined.
    async fn connect(&self, conn: ConnId) -> Phone {
        let (sent, received) = mpsc::unbounded_channel();
        let identity = Identity {
            role: Role::Participant,
            pseudonym: format!("{conn:064x}"),
            resume_token: None,
        };
        self.handle
            .inputs
            .send(Input::Open {
                conn,
                peer: Arc::new(RecordingPeer(sent)),
                identity,
            })
            .await
            .expect("the engine task runs");
        Phone {
            conn,
            inputs: self.handle.inputs.clone(),
            received,
            next_seq: 0,
        }
    }

    /// Waits (holding virtual time still) until the store committed everything it was handed,
    /// and returns its commit reports without giving them to the engine task.
    async fn wait_for_commits(&self) -> Vec<CommitReport> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store.flush().expect("the store flushes");
            store.commits().try_iter().collect()
        })
        .await
        .expect("the flush task ends")
    }

    async fn hand_over(&self, reports: Vec<CommitReport>) {
        for report in reports {
            self.handle
                .inputs
                .send(Input::Committed(report))
                .await
                .expect("the engine task runs");
        }
    }

    /// Everything handed to the store committed, and the engine task told so.
    async fn settle(&self) {
        let reports = self.wait_for_commits().await;
        self.hand_over(reports).await;
    }

    fn count(&self, sql: &str) -> i64 {
        self.query(sql).first().copied().unwrap_or(0)
    }

    /// One integer column of a query on the store's database.
    fn query(&self, sql: &str) -> Vec<i64> {
        let connection =
            rusqlite::Connection::open(self.store.database_path()).expect("the database opens");
        let mut statement = connection.prepare(sql).expect("the query is valid");
        statement
            .query_map([], |row| row.get(0))
            .expect("the query runs")
            .collect::<Result<_, _>>()
            .expect("the rows read")
    }
}

/// A participant's connection as the engine task sees it.
struct Phone {
    conn: ConnId,
    inputs: mpsc::Sender<Input>,
    received: mpsc::UnboundedReceiver<Arc<Encoded>>,
    next_seq: u64,
}

impl Phone {
    /// Sends `input` asking for an acknowledgement answered by `answered_by`; returns the
    /// answer, which comes once the engine task has handled the input.
    async fn ask(&self, input: ClientInput, answered_by: &'static [&'static str]) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.inputs
            .send(Input::Client {
                conn: self.conn,
                input,
                reply: Some(Reply {
                    answered_by,
                    answer,
                }),
            })
            .await
            .expect("the engine task runs");
        answered.await.expect("the engine task answers")
    }

    async fn join(&self) {
        let join = ClientInput::Join(JoinFields {
            intention: None,
            research_consent: Some(true),
            device: DeviceKind::Sim,
        });
        let answer = self.ask(join, &["session_joined", "error"]).await;
        assert!(
            matches!(&answer, Answer::Event(event) if event.name == "session_joined"),
            "{answer:?}"
        );
    }

    /// A batch of `rr_ms` beats ending now, with the next sequence number; `Ok(seq)` when the
    /// engine task took it, else the `error` it answered with.
    async fn beats(&mut self, rr_ms: Vec<f64>) -> Result<u64, Value> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let batch = RrBatch {
            rr_ms,
            ended_at_client_ms: None,
            seq: Some(seq),
        };
        match self.ask(ClientInput::Beats(batch), &["error"]).await {
            Answer::NothingMatched => Ok(seq),
            Answer::Event(error) => Err(payload(&error)),
        }
    }

    /// Returns once the engine task has handled everything sent before (and sent what that
    /// produced): a clock sample whose acknowledgement nothing answers.
    async fn barrier(&self) {
        let answer = self
            .ask(
                ClientInput::TimeSync {
                    client_time_ms: 0.0,
                },
                &[],
            )
            .await;
        assert!(matches!(answer, Answer::NothingMatched), "{answer:?}");
    }

    /// The events received so far, by name and payload.
    fn take_events(&mut self) -> Vec<(&'static str, Value)> {
        let mut events = Vec::new();
        while let Ok(event) = self.received.try_recv() {
            events.push((event.name, payload(&event)));
        }
        events
    }
}

fn payload(event: &Encoded) -> Value {
    serde_json::from_str(event.payload.get()).expect("payloads are JSON")
}

fn acked_seqs(events: &[(&'static str, Value)]) -> Vec<u64> {
    events
        .iter()
        .filter(|(name, _)| *name == "rr_ack")
        .map(|(_, data)| data["seq"].as_u64().expect("rr_ack has a seq"))
        .collect()
}

fn manual_hour() -> ScheduleConfig {
    ScheduleConfig {
        mode: ScheduleMode::Manual,
        phases: PhaseDurations {
            preparation_secs: 1,
            active_secs: 3600,
            integration_secs: 1,
        },
    }
}

#[tokio::test(start_paused = true)]
async fn an_rr_ack_waits_for_the_stores_commit_report() {
    let room = Room::open(manual_hour(), WriterConfig::default());
    room.start_session().await;
    let mut phone = room.connect(1).await;
    phone.join().await;
    room.settle().await;

    let seq = phone.beats(vec![812.0, 790.0, 805.0]).await.expect("taken");
    let reports = room.wait_for_commits().await;
    let durable: Vec<u64> = reports
        .iter()
        .flat_map(|report| &report.durable)
        .map(|batch| batch.seq)
        .collect();
    assert_eq!(durable, [seq], "the batch is on disk");
    phone.barrier().await;
    assert_eq!(
        acked_seqs(&phone.take_events()),
        [] as [u64; 0],
        "on disk is not enough: the engine task has not heard from the store yet"
    );

    room.hand_over(reports).await;
    phone.barrier().await;
    assert_eq!(acked_seqs(&phone.take_events()), [seq]);
}

#[tokio::test(start_paused = true)]
async fn a_full_store_queue_holds_records_in_order_and_refuses_beats_until_it_catches_up() {
    const QUEUE_CAPACITY: usize = 8;
    let room = Room::open(
        manual_hour(),
        WriterConfig {
            queue_capacity: QUEUE_CAPACITY,
            ..WriterConfig::default()
        },
    );
    room.start_session().await;
    let mut phone = room.connect(1).await;
    phone.join().await;
    room.settle().await;

    // Another connection holds the database's write lock: the writer stalls on its next
    // transaction (it would wait 10 s before giving up) and its queue fills.
    let lock = rusqlite::Connection::open(room.store.database_path()).expect("a second connection");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock is free");
    let mut taken = Vec::new();
    let refusal = loop {
        match phone.beats(vec![800.0]).await {
            Ok(seq) => taken.push(seq),
            Err(refusal) => break refusal,
        }
        assert!(
            taken.len() <= 2 * QUEUE_CAPACITY,
            "beats are refused once the queue is full"
        );
    };
    assert_eq!(refusal["code"], "rate_limited", "{refusal}");
    assert!(taken.len() >= QUEUE_CAPACITY - 1, "{taken:?}");
    // Time goes on: the engine's 1 Hz group records find the queue full and wait, in order,
    // behind it; beats stay refused while they wait.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refused_again = phone.beats(vec![800.0]).await;
    assert_eq!(
        refused_again.map_err(|refusal| refusal["code"].clone()),
        Err("rate_limited".into())
    );
    let depth = room
        .metrics
        .store_queue_depth
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        depth > QUEUE_CAPACITY as u64,
        "records are held beyond the queue: {depth}"
    );
    assert!(
        room.metrics
            .store_backpressure_events
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        acked_seqs(&phone.take_events()),
        [] as [u64; 0],
        "nothing is acknowledged before it is stored"
    );

    lock.execute_batch("ROLLBACK")
        .expect("the lock is released");
    drop(lock);
    // The held records go out as room appears (retried every few ms of engine time).
    while room
        .metrics
        .store_queue_depth
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        room.settle().await;
    }
    room.settle().await;
    phone.barrier().await;
    assert_eq!(
        acked_seqs(&phone.take_events()),
        taken,
        "every batch taken is acknowledged"
    );
    let stored: Vec<u64> = room
        .query("SELECT batch_seq FROM rr_intervals ORDER BY id")
        .into_iter()
        .map(|seq| u64::try_from(seq).expect("seqs are positive"))
        .collect();
    assert_eq!(
        stored, taken,
        "stored once each, in the order they were taken"
    );
    let group_times = room.query("SELECT at_ms FROM group_coherence_snapshots ORDER BY id");
    assert!(
        group_times.len() >= 5,
        "the held group records are stored: {group_times:?}"
    );
    assert!(
        group_times.windows(2).all(|pair| pair[0] < pair[1]),
        "in the order they were made: {group_times:?}"
    );
    assert_eq!(
        phone.beats(vec![800.0]).await.map(|_| ()),
        Ok(()),
        "beats are taken again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fifteen_minute_rolling_session_runs_on_virtual_time() {
    let room = Room::open(
        ScheduleConfig {
            mode: ScheduleMode::Rolling,
            phases: PhaseDurations::default(),
        },
        WriterConfig::default(),
    );
    let total_secs = u64::try_from(PhaseDurations::default().total_ms() / 1000).expect("positive");
    let mut phones = Vec::new();
    for conn in 1..=3 {
        let phone = room.connect(conn).await;
        phone.join().await;
        phones.push(phone);
    }
    let started = tokio::time::Instant::now();
    let mut taken: Vec<Vec<u64>> = vec![Vec::new(); phones.len()];
    let mut events: Vec<Vec<(&'static str, Value)>> = vec![Vec::new(); phones.len()];
    let mut beats_sent = 0_usize;
    // Every 5 s each phone sends the five beats it measured; the store commits and the engine
    // task hears of it before time moves on.
    let mut round = 0_u32;
    while !events[0]
        .iter()
        .any(|(name, _)| *name == "session_complete")
    {
        round += 1;
        assert!(
            u64::from(round) * 5 <= total_secs + 60,
            "the session completes on schedule"
        );
        tokio::time::sleep_until(started + Duration::from_secs(5) * round).await;
        for (index, phone) in phones.iter_mut().enumerate() {
            let rr_ms: Vec<f64> = (0..5)
                .map(|beat| 950.0 + 25.0 * f64::from((round + beat) % 5))
                .collect();
            match phone.beats(rr_ms).await {
                Ok(seq) => {
                    taken[index].push(seq);
                    beats_sent += 5;
                }
                Err(refusal) => {
                    assert_eq!(
                        refusal["code"], "not_joined",
                        "only after the end: {refusal}"
                    );
                }
            }
        }
        room.settle().await;
        for (index, phone) in phones.iter_mut().enumerate() {
            phone.barrier().await;
            events[index].extend(phone.take_events());
        }
    }

    let phases: Vec<(String, i64)> = events[0]
        .iter()
        .filter(|(name, _)| *name == "phase_changed")
        .map(|(_, data)| {
            (
                data["phase"].as_str().expect("a phase name").to_owned(),
                data["startedAt"].as_i64().expect("a start") - TEN_O_CLOCK_MS,
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("active".to_owned(), 30_000),
            ("integration".to_owned(), 780_000),
            ("complete".to_owned(), 900_000),
        ]
    );
    for (index, events) in events.iter().enumerate() {
        assert_eq!(
            events
                .iter()
                .filter(|(name, _)| *name == "session_complete")
                .count(),
            1
        );
        assert!(events.iter().any(|(name, _)| *name == "personal_feedback"));
        assert_eq!(
            acked_seqs(events),
            taken[index],
            "phone {index}: every batch acknowledged"
        );
    }
    room.settle().await;
    assert_eq!(
        room.count("SELECT count(*) FROM rr_intervals"),
        i64::try_from(beats_sent).expect("a small count")
    );
    assert_eq!(
        room.count("SELECT count(*) FROM session_participants WHERE left_at_ms IS NOT NULL"),
        3,
        "everyone was closed when the session completed"
    );
    assert_eq!(
        room.count("SELECT count(*) FROM sessions WHERE ended_at_ms IS NOT NULL"),
        1
    );
    assert!(room.count("SELECT count(*) FROM group_coherence_snapshots") >= 890);
    assert!(room.count("SELECT count(*) FROM hrv_metrics") > 0);
}
