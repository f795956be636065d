//! A room full of simulated participants: started at a controlled rate, with a mix of profiles
//! and transports, all on the caller's tokio runtime (one task each, no thread per client), and
//! stopped cleanly — first draining unacknowledged batches, then leaving.

use std::sync::Arc;
use std::time::Duration;

use synchub_protocol::IntentionCategory;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep_until, timeout};

use crate::beats::Reporting;
use crate::client::{ClientKind, ParticipantConfig, ParticipantOutcome, RunState, run_participant};
use crate::connection::{Transport, WsHandshake};
use crate::rr::Profile;
use crate::stats::{CrowdStats, StatsSnapshot};

/// How much earlier beats an original web client arrives with: a full 64 s score window, so it
/// has a score to send at once (a real one has been measuring before it opens the page).
const ORIGINAL_BACKFILL: Duration = Duration::from_secs(70);

/// Which transports the crowd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportMix {
    /// Everyone on one transport.
    Only(Transport),
    /// Alternating: even participants on `/ws`, odd ones on Socket.IO.
    Mixed,
}

/// Which heart-rhythm profiles the crowd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileMix {
    /// Everyone follows one profile (each with their own physiology).
    Only(Profile),
    /// [`Profile::for_mixed_room`]: mostly settling, some coherent, restless and irregular.
    Mixed,
}

/// How to build and run a crowd.
#[derive(Debug, Clone)]
pub struct CrowdConfig {
    /// The hub's base URL (`http://127.0.0.1:7878`).
    pub hub_url: String,
    /// The room code, when the hub requires one.
    pub room_code: Option<String>,
    /// How many participants.
    pub participants: usize,
    /// Transports.
    pub transport: TransportMix,
    /// Profiles.
    pub profile: ProfileMix,
    /// Every `n`-th participant (the last of each group of `n`) only sends scores, like the
    /// original clients; `None`: everyone sends RR batches.
    pub score_only_every: Option<usize>,
    /// Every `n`-th participant (the last of each group of `n`) behaves like the original
    /// platform's web client ([`ClientKind::OriginalWeb`]); `Some(1)`: everyone. `None`:
    /// nobody.
    pub original_every: Option<usize>,
    /// Connections started per second.
    pub ramp_per_sec: f64,
    /// Seed of everything random; participant `i` uses `seed + i`.
    pub seed: u64,
    /// Prefix of the participants' `userId`s (`{prefix}-{i}`).
    pub user_id_prefix: String,
    /// How often RR batches are sent.
    pub batch_interval: Duration,
    /// Beats from before joining that each participant sends at once
    /// ([`ParticipantConfig::backfill`]).
    pub backfill: Duration,
    /// Each participant drops its connection after about this long and resumes with its
    /// token ([`ParticipantConfig::churn`]); `None`: stable connections.
    pub churn: Option<Duration>,
    /// Of the churn events, the share that are a leave and a later new join instead of a drop
    /// and a resume ([`ParticipantConfig::leave_share`]).
    pub leave_share: f64,
}

impl CrowdConfig {
    /// `participants` RR-sending participants on `/ws`, mixed profiles, 200 connections/s.
    pub fn new(hub_url: &str, participants: usize) -> Self {
        CrowdConfig {
            hub_url: hub_url.to_owned(),
            room_code: None,
            participants,
            transport: TransportMix::Only(Transport::Ws),
            profile: ProfileMix::Mixed,
            score_only_every: None,
            original_every: None,
            ramp_per_sec: 200.0,
            seed: 1,
            user_id_prefix: "sim".to_owned(),
            batch_interval: Duration::from_secs(1),
            backfill: Duration::ZERO,
            churn: None,
            leave_share: 0.0,
        }
    }

    /// The twelve-person room of `synchub demo`: both transports, both handshakes, mixed
    /// profiles, every fourth participant sending scores only, and each arriving with the
    /// last 70 s of beats so the room shows scores within seconds instead of after a minute.
    pub fn demo_room(hub_url: &str, room_code: Option<String>) -> Self {
        CrowdConfig {
            room_code,
            transport: TransportMix::Mixed,
            score_only_every: Some(4),
            ramp_per_sec: 4.0,
            backfill: Duration::from_secs(70),
            ..CrowdConfig::new(hub_url, 12)
        }
    }

    /// The configuration of participant `index`.
    pub fn participant(&self, index: usize) -> ParticipantConfig {
        let profile = match self.profile {
            ProfileMix::Only(profile) => profile,
            ProfileMix::Mixed => Profile::for_mixed_room(index),
        };
        let seed = self.seed.wrapping_add(index as u64);
        let mut config = ParticipantConfig::new(
            &self.hub_url,
            &format!("{}-{index}", self.user_id_prefix),
            profile,
            seed,
        );
        config.room_code = self.room_code.clone();
        config.churn = self.churn;
        config.leave_share = self.leave_share;
        config.transport = match self.transport {
            TransportMix::Only(transport) => transport,
            TransportMix::Mixed if index.is_multiple_of(2) => Transport::Ws,
            TransportMix::Mixed => Transport::SocketIo,
        };
        // Both ways of handshaking on /ws get exercised.
        config.ws_handshake = if (index / 2).is_multiple_of(2) {
            WsHandshake::Query
        } else {
            WsHandshake::Hello
        };
        config.reporting = match self.score_only_every {
            Some(every) if every > 0 && index % every == every - 1 => Reporting::ScoresOnly,
            _ => Reporting::RrBatches,
        };
        const INTENTIONS: [IntentionCategory; 7] = [
            IntentionCategory::PhysicalHealing,
            IntentionCategory::EmotionalRelease,
            IntentionCategory::Anxiety,
            IntentionCategory::Abundance,
            IntentionCategory::Energy,
            IntentionCategory::Grief,
            IntentionCategory::Other,
        ];
        config.intention = (index % 8 != 7).then(|| INTENTIONS[index % INTENTIONS.len()]);
        // Most people consent to research use; some do not.
        config.research_consent = index % 5 != 4;
        config.batch_interval = self.batch_interval;
        config.backfill = self.backfill;
        if let Some(every) = self.original_every
            && every > 0
            && index % every == every - 1
        {
            config.kind = ClientKind::OriginalWeb;
            // Its own score from the first send: it arrives with a score window of beats.
            config.reporting = Reporting::ScoresOnly;
            config.backfill = config.backfill.max(ORIGINAL_BACKFILL);
        }
        config
    }
}

/// What a finished crowd reports.
#[derive(Debug, Clone)]
pub struct CrowdReport {
    /// The final counters and latencies.
    pub stats: StatsSnapshot,
    /// One outcome per participant that was started.
    pub outcomes: Vec<ParticipantOutcome>,
}

/// A running crowd. Dropping it without [`Crowd::stop`] stops the participants abruptly.
#[derive(Debug)]
pub struct Crowd {
    stats: Arc<CrowdStats>,
    control: watch::Sender<RunState>,
    started: watch::Receiver<usize>,
    runner: JoinHandle<Vec<ParticipantOutcome>>,
}

impl Crowd {
    /// Starts the crowd on the current tokio runtime (it must be called inside one). The
    /// participants connect at `ramp_per_sec`; this returns at once.
    pub fn start(config: CrowdConfig) -> Crowd {
        let stats = Arc::new(CrowdStats::new());
        stats.requested.store(
            config.participants as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let (control, control_receiver) = watch::channel(RunState::Running);
        let (started_sender, started) = watch::channel(0usize);
        let runner = tokio::spawn(run_crowd(
            config,
            Arc::clone(&stats),
            control_receiver,
            started_sender,
        ));
        Crowd {
            stats,
            control,
            started,
            runner,
        }
    }

    /// The live counters (shared with the participants).
    pub fn stats(&self) -> &Arc<CrowdStats> {
        &self.stats
    }

    /// A copy of the counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// How many participants have been started so far.
    pub fn started_count(&self) -> usize {
        *self.started.borrow()
    }

    /// Waits until every participant has been started and `joined` of them have joined, or
    /// until `limit` passes; returns whether it happened.
    pub async fn wait_until_joined(&self, joined: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.stats.snapshot().joined >= joined {
                return true;
            }
            if Instant::now() >= deadline || self.runner.is_finished() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops sending new batches, waits up to `drain` for outstanding acknowledgements, then
    /// makes every participant leave and waits for them (bounded as well).
    pub async fn stop(self, drain: Duration) -> CrowdReport {
        let _ = self.control.send(RunState::Draining);
        let deadline = Instant::now() + drain;
        // A participant may be inside its batch tick as the drain starts; the counters are
        // only trusted after every task has had time to see the new state, and only when they
        // agree twice in a row.
        let mut agreed = 0;
        while Instant::now() < deadline && !self.runner.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let snapshot = self.stats.snapshot();
            if snapshot.batches_acked >= snapshot.batches_sent {
                agreed += 1;
                if agreed == 2 {
                    break;
                }
            } else {
                agreed = 0;
            }
        }
        let _ = self.control.send(RunState::Stopped);
        let mut runner = self.runner;
        // Leaving is one message and a close per participant; give it a few seconds.
        let outcomes = match timeout(Duration::from_secs(10), &mut runner).await {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(_)) | Err(_) => {
                runner.abort();
                Vec::new()
            }
        };
        CrowdReport {
            stats: self.stats.snapshot(),
            outcomes,
        }
    }
}

async fn run_crowd(
    config: CrowdConfig,
    stats: Arc<CrowdStats>,
    control: watch::Receiver<RunState>,
    started: watch::Sender<usize>,
) -> Vec<ParticipantOutcome> {
    let mut tasks = JoinSet::new();
    let ramp_gap = Duration::from_secs_f64(1.0 / config.ramp_per_sec.max(0.001));
    let ramp_start = Instant::now();
    for index in 0..config.participants {
        if *control.borrow() != RunState::Running {
            break;
        }
        // Scheduled against the ramp start, so a slow spawn does not slow the whole ramp.
        sleep_until(ramp_start + ramp_gap.mul_f64(index as f64)).await;
        tasks.spawn(run_participant(
            config.participant(index),
            Arc::clone(&stats),
            control.clone(),
        ));
        let _ = started.send(index + 1);
    }
    let mut outcomes = Vec::with_capacity(config.participants);
    while let Some(joined) = tasks.join_next().await {
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_room_mixes_transports_profiles_and_reporting() {
        let config = CrowdConfig::demo_room("http://127.0.0.1:7878", Some("K7Q2".into()));
        let participants: Vec<ParticipantConfig> = (0..12).map(|i| config.participant(i)).collect();
        let count = |predicate: &dyn Fn(&ParticipantConfig) -> bool| {
            participants.iter().filter(|p| predicate(p)).count()
        };
        assert_eq!(count(&|p| p.transport == Transport::Ws), 6);
        assert_eq!(count(&|p| p.transport == Transport::SocketIo), 6);
        assert_eq!(count(&|p| p.reporting == Reporting::ScoresOnly), 3);
        assert_eq!(
            count(&|p| p.transport == Transport::Ws && p.ws_handshake == WsHandshake::Hello),
            3
        );
        assert_eq!(count(&|p| p.profile == Profile::Settling), 6);
        assert!(count(&|p| p.profile == Profile::Restless) >= 2);
        assert!(
            participants
                .iter()
                .all(|p| p.room_code.as_deref() == Some("K7Q2"))
        );
        let mut ids: Vec<&str> = participants.iter().map(|p| p.user_id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        assert!(participants.iter().all(|p| p.kind == ClientKind::Hub));
    }

    #[test]
    fn original_every_makes_original_web_clients_that_score_at_once() {
        let mut config = CrowdConfig::new("http://127.0.0.1:7878", 6);
        config.original_every = Some(3);
        let kinds: Vec<ClientKind> = (0..6).map(|i| config.participant(i).kind).collect();
        assert_eq!(
            kinds,
            [
                ClientKind::Hub,
                ClientKind::Hub,
                ClientKind::OriginalWeb,
                ClientKind::Hub,
                ClientKind::Hub,
                ClientKind::OriginalWeb
            ]
        );
        let original = config.participant(2);
        assert_eq!(original.reporting, Reporting::ScoresOnly);
        assert!(original.backfill >= Duration::from_secs(64));
    }
}
