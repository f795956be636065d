//! Keeps the embedded hub running. When its session engine fails (a bug: the engine task
//! panicked), the hub is stopped — what it holds is flushed to the store — and started again in
//! this process, on the same port and data folder, with the room's current name and code. The
//! store's crash recovery then resumes the interrupted session and the phones rejoin with their
//! resume tokens, exactly as after `synchub serve` is restarted by a service manager.
//!
//! Every restart is recorded ([`HubRestart`]); the console asks for the list
//! (`hub_restarts`) and tells the facilitator what happened. A hub that keeps failing is not
//! restarted for ever: after [`MAX_RESTARTS`] within [`RESTART_WINDOW`] the keeper stops trying
//! and says so.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use synchub::config::HubConfig;
use synchub::serve::RunningHub;
use synchub::server::AppState;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::embedded_hub::is_address_in_use;

/// At most this many restarts within [`RESTART_WINDOW`]; an engine that fails again and again
/// (the same damaged session each time, say) is left stopped with the reason shown.
pub const MAX_RESTARTS: usize = 3;
pub const RESTART_WINDOW: Duration = Duration::from_secs(600);

/// How long a restart keeps trying to listen on the old port (a connection of the stopped hub
/// may hold it for a moment).
const REBIND_PATIENCE: Duration = Duration::from_secs(5);

/// How long after a restart the keeper waits for the resumed session to show.
const RESUME_PATIENCE: Duration = Duration::from_secs(3);

/// One unexpected stop of the embedded hub, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRestart {
    /// When the engine failed, milliseconds since the Unix epoch.
    pub failed_at_ms: u64,
    /// The failure's message (the panic's).
    pub reason: String,
    /// Whether the hub runs again.
    pub restarted: bool,
    /// Whether the session that was running resumed after the restart; `None` when no session
    /// was running.
    pub session_resumed: Option<bool>,
    /// Why the hub was not restarted, when it was not.
    pub not_restarted_because: Option<String>,
}

/// The restarts so far, shared with the `hub_restarts` command.
#[derive(Debug, Clone, Default)]
pub struct Restarts(Arc<Mutex<Vec<HubRestart>>>);

impl Restarts {
    pub fn list(&self) -> Vec<HubRestart> {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn push(&self, restart: HubRestart) {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(restart);
    }
}

/// The running keeper: stop it to stop the hub.
#[derive(Debug)]
pub struct HubKeeper {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
    /// The state of the hub running now (a new one after each restart).
    pub current: watch::Receiver<AppState>,
    pub restarts: Restarts,
}

impl HubKeeper {
    /// Watches `hub` (started with `config`) on the current tokio runtime.
    pub fn start(hub: RunningHub, config: HubConfig) -> HubKeeper {
        let (current_sender, current) = watch::channel(hub.state.clone());
        let restarts = Restarts::default();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(keep(hub, config, stopped, current_sender, restarts.clone()));
        HubKeeper {
            stop,
            task,
            current,
            restarts,
        }
    }

    /// Stops the hub running now (every record flushed to the store).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

fn epoch_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

async fn keep(
    hub: RunningHub,
    config: HubConfig,
    mut stopped: oneshot::Receiver<()>,
    current: watch::Sender<AppState>,
    restarts: Restarts,
) -> anyhow::Result<()> {
    // The same port on restart: the console, projectors and phones know this one.
    let mut config = HubConfig {
        port: hub.local_addr.port(),
        ..config
    };
    let mut hub = Some(hub);
    let mut recent_failures: Vec<Instant> = Vec::new();
    loop {
        let Some(running) = hub.take() else {
            // Not restarted: wait for the app to close.
            let _ = (&mut stopped).await;
            return Ok(());
        };
        let reason = tokio::select! {
            _ = &mut stopped => return running.stop().await,
            reason = running.engine_failure() => reason,
        };
        let failed_at_ms = epoch_ms_now();
        tracing::error!(%reason, "the hub's session engine failed; restarting the hub");
        let session_before = running
            .state
            .engine
            .view
            .borrow()
            .session
            .as_ref()
            .map(|session| session.session_id.to_string());
        // The room as the facilitator left it (a renamed room, a new code).
        let room = running.state.room();
        config.room_name = room.name;
        config.room_code = room.code;
        if let Err(error) = running.stop().await {
            tracing::warn!(error = %format!("{error:#}"), "stopping the failed hub");
        }

        let now = Instant::now();
        recent_failures.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
        recent_failures.push(now);
        if recent_failures.len() > MAX_RESTARTS {
            let because = format!(
                "the hub failed {} times within {} minutes; close the app and open it again (the \
                 session resumes), and report the problem if it keeps happening",
                recent_failures.len(),
                RESTART_WINDOW.as_secs() / 60
            );
            tracing::error!("{because}");
            restarts.push(HubRestart {
                failed_at_ms,
                reason,
                restarted: false,
                session_resumed: None,
                not_restarted_because: Some(because),
            });
            continue;
        }

        match restart(&config).await {
            Ok(restarted) => {
                let session_resumed = match session_before {
                    Some(id) => Some(session_shows(&restarted, &id).await),
                    None => None,
                };
                tracing::info!(
                    ?session_resumed,
                    url = %restarted.base_url,
                    "the hub runs again after its engine failed"
                );
                current.send_replace(restarted.state.clone());
                restarts.push(HubRestart {
                    failed_at_ms,
                    reason,
                    restarted: true,
                    session_resumed,
                    not_restarted_because: None,
                });
                hub = Some(restarted);
            }
            Err(error) => {
                let because =
                    format!("{error:#}; close the app and open it again (the session resumes)");
                tracing::error!("the hub could not be restarted: {because}");
                restarts.push(HubRestart {
                    failed_at_ms,
                    reason,
                    restarted: false,
                    session_resumed: None,
                    not_restarted_because: Some(because),
                });
            }
        }
    }
}

/// Starts the hub again, retrying for a few seconds while its port is still held.
async fn restart(config: &HubConfig) -> anyhow::Result<RunningHub> {
    let deadline = Instant::now() + REBIND_PATIENCE;
    loop {
        match synchub::serve::start(config.clone()).await {
            Err(error) if is_address_in_use(&error) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            result => return result,
        }
    }
}

/// Whether the restarted hub runs session `id` again (its view is published within a second).
async fn session_shows(hub: &RunningHub, id: &str) -> bool {
    let deadline = Instant::now() + RESUME_PATIENCE;
    let mut view = hub.state.engine.view.clone();
    loop {
        if view
            .borrow_and_update()
            .session
            .as_ref()
            .is_some_and(|session| session.session_id.to_string() == id)
        {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || tokio::time::timeout(left, view.changed()).await.is_err() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::{Path, PathBuf};

    use synchub::config::{ScheduleArg, ServeArgs};
    use synchub::engine_task::{AdminCommand, Input};
    use synchub_sim::crowd::{Crowd, CrowdConfig, TransportMix};

    use super::*;

    const PHONES: u64 = 4;

    fn count(database: &Path, sql: &str) -> i64 {
        let connection = rusqlite::Connection::open(database).expect("the database opens");
        connection
            .query_row(sql, [], |row| row.get(0))
            .expect("the count query runs")
    }

    fn session_id(state: &AppState) -> Option<String> {
        state
            .engine
            .view
            .borrow()
            .session
            .as_ref()
            .map(|session| session.session_id.to_string())
    }

    /// A real embedded hub (loopback, a temporary data folder) with simulated phones on both
    /// transports; the test-only fault hook panics its engine mid-session. The keeper restarts
    /// the hub on the same port, records why, the session resumes, the phones resume with their
    /// tokens (no new participant), and every acknowledged batch is stored exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(clippy::print_stderr)] // What it measured.
    async fn an_engine_failure_restarts_the_hub_on_its_port_and_the_session_resumes() {
        let data = tempfile::tempdir().expect("a temporary folder");
        let settings = ServeArgs {
            bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: Some(0),
            data_dir: Some(data.path().to_path_buf()),
            no_mdns: true,
            no_room_code: true,
            schedule: Some(ScheduleArg::Manual),
            ..ServeArgs::default()
        };
        let mut config = crate::embedded_hub::hub_config(&settings, PathBuf::new())
            .expect("the settings resolve")
            .hub;
        config.ble = false;
        config.min_free_disk_bytes = 0;
        let hub = synchub::serve::start(config.clone())
            .await
            .expect("the hub starts");
        hub.state
            .engine
            .admin(AdminCommand::StartSession)
            .await
            .expect("the engine answers")
            .expect("a session starts");
        let port = hub.local_addr.port();
        let keeper = HubKeeper::start(hub, config);

        let mut crowd_config =
            CrowdConfig::new(&format!("http://127.0.0.1:{port}"), PHONES as usize);
        crowd_config.transport = TransportMix::Mixed;
        let crowd = Crowd::start(crowd_config);
        assert!(
            crowd
                .wait_until_joined(PHONES, Duration::from_secs(20))
                .await,
            "{:?}",
            crowd.snapshot()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = keeper.current.borrow().clone();
        let session = session_id(&before).expect("a session runs");
        let acked_before = crowd.snapshot().batches_acked;
        before
            .engine
            .inputs
            .send(Input::InjectPanic)
            .await
            .expect("the engine takes the fault");

        let failed = Instant::now();
        let restarts = loop {
            let restarts = keeper.restarts.list();
            if !restarts.is_empty() {
                break restarts;
            }
            assert!(
                failed.elapsed() < Duration::from_secs(20),
                "no restart after the engine failed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let restarted_after = failed.elapsed();
        assert_eq!(restarts.len(), 1, "{restarts:?}");
        let restart = &restarts[0];
        assert!(restart.restarted, "{restart:?}");
        assert_eq!(restart.session_resumed, Some(true), "{restart:?}");
        assert_eq!(restart.reason, "injected fault: the engine task panics");
        assert_eq!(restart.not_restarted_because, None);
        let after = keeper.current.borrow().clone();
        assert_eq!(session_id(&after).as_deref(), Some(session.as_str()));

        // The restarted hub answers on the same port.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "the restarted hub listens on port {port}"
        );
        // Every phone, on both transports, notices the restart (the failed hub closed its
        // connections) and resumes with its token on the restarted hub.
        let connected = |state: &AppState| {
            state
                .engine
                .view
                .borrow()
                .participants
                .iter()
                .filter(|participant| participant.connected)
                .count()
        };
        let waiting = Instant::now();
        while connected(&after) < PHONES as usize {
            assert!(
                waiting.elapsed() < Duration::from_secs(30),
                "{} of {PHONES} phones back after the restart: {:?}",
                connected(&after),
                crowd.snapshot()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let phones_back_after = failed.elapsed();
        // And their beats are acknowledged by the restarted hub.
        let acked_at_restart = crowd.snapshot().batches_acked;
        let waiting = Instant::now();
        while crowd.snapshot().batches_acked < acked_at_restart + PHONES {
            assert!(
                waiting.elapsed() < Duration::from_secs(20),
                "no beats acknowledged after the restart: {:?}",
                crowd.snapshot()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!(
            "engine failure → hub restarted on port {port} after {restarted_after:?}; \
             all {PHONES} phones back after {phones_back_after:?}"
        );
        let report = crowd.stop(Duration::from_secs(10)).await;
        keeper.stop().await.expect("the hub stops cleanly");

        let database = data.path().join("synchub.sqlite3");
        assert_eq!(count(&database, "SELECT count(*) FROM sessions"), 1);
        assert_eq!(
            count(&database, "SELECT count(*) FROM session_participants"),
            PHONES as i64,
            "the phones' rows survived the restart, no new participant"
        );
        // Every batch a phone saw acknowledged, before the failure and after it, is stored
        // once: a resend of a batch stored before the failure is acknowledged, not stored again.
        assert!(acked_before > 0);
        let stored_batches = count(
            &database,
            "SELECT count(*) FROM (SELECT DISTINCT participant_ref, batch_seq FROM rr_intervals \
             WHERE batch_seq IS NOT NULL)",
        );
        assert_eq!(
            stored_batches as u64, report.stats.batches_acked,
            "acknowledged batches = stored batches: {:?}",
            report.stats
        );
    }
}
