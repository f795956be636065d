//! Time that survives jumps: the engine task on a manual clock whose wall clock is stepped an
//! hour either way mid-session, or whose computer sleeps for ten minutes mid-session. Phones
//! follow the hub's `time_sync` and stamp their beats with it, as the protocol asks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use synchub_protocol::Role;
use synchub_session::record::ScheduleMode;
use synchub_session::{PhaseDurations, ResumeToken, RrBatch, ScheduleConfig};
use synchub_store::WriterConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Phone, RecordingPeer, Room, acked_seqs, payload};
use crate::client_input::ClientInput;
use crate::engine_task::{Answer, Identity, Input};
use crate::peer::ConnId;

const HOUR_MS: i64 = 3_600_000;

fn manual(preparation_secs: u32, active_secs: u32, integration_secs: u32) -> ScheduleConfig {
    ScheduleConfig {
        mode: ScheduleMode::Manual,
        phases: PhaseDurations {
            preparation_secs,
            active_secs,
            integration_secs,
        },
    }
}

/// Five beats of one second each.
fn five_beats() -> Vec<f64> {
    vec![1000.0; 5]
}

/// The payloads of the events called `name`, in order.
fn named(events: &[(&'static str, Value)], name: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|(event, _)| *event == name)
        .map(|(_, data)| data.clone())
        .collect()
}

/// (phase, startedAt) of every `phase_changed`.
fn phase_starts(events: &[(&'static str, Value)]) -> Vec<(String, i64)> {
    named(events, "phase_changed")
        .iter()
        .map(|data| {
            (
                data["phase"].as_str().expect("a phase name").to_owned(),
                data["startedAt"].as_i64().expect("a start"),
            )
        })
        .collect()
}

/// The differences between successive values.
fn steps(values: &[i64]) -> Vec<i64> {
    values.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

impl Room {
    /// A phone's connection coming back with its resume token; its batches go on from
    /// `next_seq`.
    async fn reconnect(&self, conn: ConnId, token: &str, next_seq: u64) -> Phone {
        let (sent, received) = mpsc::unbounded_channel();
        let identity = Identity {
            role: Role::Participant,
            guesses: crate::guessing::GuessCharge::new(
                std::sync::Arc::new(crate::guessing::GuessGuard::default()),
                std::net::IpAddr::from([127, 0, 0, 1]),
            ),
            pseudonym: format!("{conn:064x}"),
            resume_token: Some(ResumeToken::from_hex(token).expect("a token the hub issued")),
            cadence: crate::engine_task::Cadence::EveryTick,
            address: None,
        };
        self.handle
            .inputs
            .send(Input::Open {
                conn,
                peer: std::sync::Arc::new(RecordingPeer(sent)),
                identity,
            })
            .await
            .expect("the engine task runs");
        Phone {
            conn,
            inputs: self.handle.inputs.clone(),
            received,
            next_seq,
        }
    }

    /// The hub sees the connection end.
    async fn close(&self, conn: ConnId) {
        self.handle
            .inputs
            .send(Input::Closed { conn })
            .await
            .expect("the engine task runs");
    }
}

impl Phone {
    /// A `time_sync` as a phone on hub time sends it (its clock reads the hub's): returns the
    /// answer's `hubTime` once the engine task has handled everything sent before.
    async fn sync(&self, room: &Room) -> i64 {
        #[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
        let client_time_ms = room.clock.hub_ms() as f64;
        match self
            .ask(ClientInput::TimeSync { client_time_ms }, &["time_sync"])
            .await
        {
            Answer::Event(reply) => payload(&reply)["hubTime"]
                .as_i64()
                .expect("hubTime is an integer"),
            Answer::NothingMatched => panic!("time_sync is answered"),
        }
    }

    /// A batch of `rr_ms` whose last beat ended at `ended_at_ms` (hub time, as the phone
    /// stamps it), with `seq`.
    async fn send(&self, rr_ms: Vec<f64>, ended_at_ms: i64, seq: u64) -> Result<(), Value> {
        #[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
        let batch = RrBatch {
            rr_ms,
            ended_at_client_ms: Some(ended_at_ms as f64),
            seq: Some(seq),
        };
        match self.ask(ClientInput::Beats(batch), &["error"]).await {
            Answer::NothingMatched => Ok(()),
            Answer::Event(error) => Err(payload(&error)),
        }
    }

    /// Five beats ending now, with the next seq; `Ok(seq)` when taken.
    async fn beats_now(&mut self, room: &Room) -> Result<u64, Value> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.send(five_beats(), room.clock.hub_ms(), seq)
            .await
            .map(|()| seq)
    }
}

/// `session_joined`'s participant id and resume token.
fn joined(events: &[(&'static str, Value)]) -> (String, String) {
    let joined = named(events, "session_joined");
    let last = joined.last().expect("session_joined was sent");
    (
        last["participantId"].as_str().expect("an id").to_owned(),
        last["resumeToken"].as_str().expect("a token").to_owned(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_wall_clock_step_of_an_hour_either_way_changes_no_phase_and_stops_no_broadcast() {
    let room = Room::open(manual(60, 600, 60), WriterConfig::default());
    room.start_session().await;
    let mut phone = room.connect(1).await;
    phone.join().await;
    phone.sync(&room).await;
    let mut events = phone.take_events();
    let started_at = named(&events, "session_joined")[0]["startedAt"]
        .as_i64()
        .expect("a start");
    let started = Instant::now();
    let mut taken = Vec::new();
    let mut round = 0_u32;
    while named(&events, "session_complete").is_empty() {
        round += 1;
        assert!(round <= 160, "the session completes on schedule");
        tokio::time::sleep_until(started + Duration::from_secs(5) * round).await;
        match round {
            // Two minutes in, the wall clock goes back an hour (a time-zone mistake undone);
            // four minutes later, two hours forward: an hour ahead of where it started.
            24 => room.clock.step_wall(-HOUR_MS),
            72 => room.clock.step_wall(2 * HOUR_MS),
            _ => {}
        }
        match phone.beats_now(&room).await {
            Ok(seq) => taken.push(seq),
            Err(refusal) => assert_eq!(refusal["code"], "not_joined", "only at the end"),
        }
        room.settle().await;
        phone.sync(&room).await;
        events.extend(phone.take_events());
    }

    let phases = phase_starts(&events);
    let names: Vec<&str> = phases.iter().map(|(phase, _)| phase.as_str()).collect();
    assert_eq!(names, ["active", "integration", "complete"]);
    let starts: Vec<i64> = std::iter::once(started_at)
        .chain(phases.iter().map(|(_, at)| *at))
        .collect();
    assert_eq!(
        steps(&starts),
        [60_000, 600_000, 60_000],
        "every phase lasts what it was set to"
    );
    let ticks: Vec<i64> = named(&events, "group_metrics_update")
        .iter()
        .map(|data| {
            data["groupMetrics"]["timestamp"]
                .as_i64()
                .expect("a timestamp")
        })
        .collect();
    assert!(ticks.len() >= 715, "{} group updates", ticks.len());
    assert!(
        steps(&ticks).iter().all(|&step| step == 1000),
        "one group update a second, none missing or doubled, through both steps"
    );
    assert_eq!(acked_seqs(&events), taken, "no batch was refused as stale");
    assert!(taken.len() >= 140);

    room.settle().await;
    let stored_ticks = room.query("SELECT at_ms FROM group_coherence_snapshots ORDER BY id");
    assert!(stored_ticks.len() >= 715);
    assert!(steps(&stored_ticks).iter().all(|&step| step == 1000));
    let session = room.query(
        "SELECT started_at_ms FROM sessions UNION ALL SELECT ended_at_ms FROM sessions \
         UNION ALL SELECT CAST(min(time_ms) AS INTEGER) FROM rr_intervals \
         UNION ALL SELECT CAST(max(time_ms) AS INTEGER) FROM rr_intervals",
    );
    assert_eq!(session[1] - session[0], 720_000, "stored on one time axis");
    assert!(
        session[0] <= session[2] && session[3] <= session[1],
        "every beat inside the session: {session:?}"
    );
    assert_eq!(
        room.count("SELECT count(*) FROM rr_intervals"),
        i64::try_from(taken.len() * 5).expect("small")
    );

    // The hub's stamps and its `time_sync` agree, and neither followed the wall clock.
    let hub_time = phone.sync(&room).await;
    assert_eq!(hub_time, room.clock.hub_ms());
    assert_eq!(room.clock.wall_ms() - hub_time, HOUR_MS);
    assert_eq!(room.metrics.clock_steps.load(Ordering::Relaxed), 2);
    assert_eq!(room.metrics.clock_sleeps.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn after_a_ten_minute_sleep_the_session_goes_on_with_the_gap_and_everyone_resumes() {
    const SLEEP: Duration = Duration::from_secs(600);
    // Active ends while the laptop sleeps; integration goes on after it wakes.
    let room = Room::open(manual(10, 300, 600), WriterConfig::default());
    room.start_session().await;
    let mut phone_a = room.connect(1).await;
    phone_a.join().await;
    let mut phone_b = room.connect(2).await;
    phone_b.join().await;
    phone_a.sync(&room).await;
    phone_b.sync(&room).await;
    let mut events_a = phone_a.take_events();
    let mut events_b = phone_b.take_events();
    let (id_a, token_a) = joined(&events_a);
    let (id_b, token_b) = joined(&events_b);
    let started_at = named(&events_a, "session_joined")[0]["startedAt"]
        .as_i64()
        .expect("a start");
    let started = Instant::now();
    let mut taken_a = Vec::new();
    let mut beats_sent = 0_i64;

    // Two minutes of beats from both phones.
    for round in 1..=24 {
        tokio::time::sleep_until(started + Duration::from_secs(5) * round).await;
        taken_a.push(phone_a.beats_now(&room).await.expect("taken"));
        phone_b.beats_now(&room).await.expect("taken");
        beats_sent += 10;
        room.settle().await;
        phone_a.sync(&room).await;
        events_a.extend(phone_a.take_events());
    }
    // B's Wi-Fi drops; ten seconds later the lid closes for ten minutes.
    room.close(phone_b.conn).await;
    events_b.extend(phone_b.take_events());
    let next_seq_b = phone_b.next_seq;
    // Half a second off the tick, so the last tick before the sleep surely ran.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let asleep_from = room.clock.hub_ms();
    room.clock.suspend(SLEEP);
    // Awake again: the engine task's next wake-up comes within a second of monotonic time.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let woke = room.clock.hub_ms();
    assert_eq!(woke - asleep_from, 601_000);

    // A's connection died in the sleep too; both phones come back with their tokens.
    room.close(phone_a.conn).await;
    events_a.extend(phone_a.take_events());
    let mut phone_a = room.reconnect(3, &token_a, phone_a.next_seq).await;
    let mut phone_b = room.reconnect(4, &token_b, next_seq_b).await;
    phone_a.sync(&room).await;
    phone_b.sync(&room).await;
    let resumed_a = phone_a.take_events();
    let resumed_b = phone_b.take_events();
    assert_eq!(joined(&resumed_a).0, id_a, "A resumed as itself");
    assert_eq!(
        joined(&resumed_b).0,
        id_b,
        "B resumed as itself although its grace would have run out during the sleep"
    );
    events_a.extend(resumed_a);
    events_b.extend(resumed_b);

    // A kept measuring while the hub slept and now sends those batches (up to ten minutes
    // old), then resends one the hub had acknowledged before the sleep.
    let mut gap_beats = 0_i64;
    let mut ended_at = asleep_from + 5_000;
    while ended_at < woke {
        let seq = phone_a.next_seq;
        phone_a.next_seq += 1;
        phone_a
            .send(five_beats(), ended_at, seq)
            .await
            .unwrap_or_else(|refusal| panic!("a beat kept through the sleep: {refusal}"));
        taken_a.push(seq);
        gap_beats += 5;
        ended_at += 5_000;
    }
    beats_sent += gap_beats;
    let resent = taken_a[23];
    phone_a
        .send(five_beats(), started_at, resent)
        .await
        .expect("a resend is not an error");

    // The session goes on to its scheduled end.
    let after = Instant::now();
    let mut round = 0_u32;
    while named(&events_a, "session_complete").is_empty() {
        round += 1;
        assert!(round <= 60, "the session completes on schedule");
        tokio::time::sleep_until(after + Duration::from_secs(5) * round).await;
        for (phone, taken) in [(&mut phone_a, Some(&mut taken_a)), (&mut phone_b, None)] {
            match phone.beats_now(&room).await {
                Ok(seq) => {
                    beats_sent += 5;
                    if let Some(taken) = taken {
                        taken.push(seq);
                    }
                }
                Err(refusal) => assert_eq!(refusal["code"], "not_joined", "only at the end"),
            }
        }
        room.settle().await;
        phone_a.sync(&room).await;
        events_a.extend(phone_a.take_events());
    }
    room.settle().await;

    let phases = phase_starts(&events_a);
    let names: Vec<&str> = phases.iter().map(|(phase, _)| phase.as_str()).collect();
    assert_eq!(names, ["active", "integration", "complete"]);
    let starts: Vec<i64> = std::iter::once(started_at)
        .chain(phases.iter().map(|(_, at)| *at))
        .collect();
    assert_eq!(
        steps(&starts),
        [10_000, 300_000, 600_000],
        "phases keep their lengths; the one that ended in the sleep ended on time"
    );
    let ticks: Vec<i64> = named(&events_a, "group_metrics_update")
        .iter()
        .map(|data| {
            data["groupMetrics"]["timestamp"]
                .as_i64()
                .expect("a timestamp")
        })
        .collect();
    let gaps: Vec<i64> = steps(&ticks)
        .into_iter()
        .filter(|&step| step != 1000)
        .collect();
    assert_eq!(
        gaps,
        [601_000],
        "one gap, the sleep; a group update every second around it"
    );
    let stored_ticks = room.query("SELECT at_ms FROM group_coherence_snapshots ORDER BY id");
    let stored_gaps: Vec<i64> = steps(&stored_ticks)
        .into_iter()
        .filter(|&step| step != 1000)
        .collect();
    assert_eq!(stored_gaps, [601_000], "no figures invented for the sleep");

    let summary = &named(&events_a, "session_complete")[0]["summary"];
    assert_eq!(summary["participantCount"], 2, "nobody counted twice");
    assert_eq!(summary["duration"], 910_000);
    assert_eq!(
        room.count("SELECT count(*) FROM session_participants"),
        2,
        "both resumed rather than joining again"
    );
    assert_eq!(
        room.count("SELECT count(*) FROM rr_intervals"),
        beats_sent,
        "every beat stored once, the resent batch not again"
    );
    assert_eq!(
        room.count(&format!(
            "SELECT count(*) FROM rr_intervals WHERE time_ms > {asleep_from} AND time_ms < {woke}"
        )),
        gap_beats,
        "the beats measured during the sleep are stored at their own times"
    );
    let acked = acked_seqs(&events_a);
    assert_eq!(
        acked.iter().filter(|&&seq| seq == resent).count(),
        2,
        "the resend is acknowledged again"
    );
    let mut acked_once = acked.clone();
    acked_once.sort_unstable();
    acked_once.dedup();
    let mut expected = taken_a.clone();
    expected.sort_unstable();
    assert_eq!(acked_once, expected, "every batch of A acknowledged");
    assert_eq!(room.metrics.clock_sleeps.load(Ordering::Relaxed), 1);
    assert_eq!(room.metrics.clock_steps.load(Ordering::Relaxed), 0);
    assert!(events_b.iter().any(|(name, _)| *name == "rr_ack"));
}
