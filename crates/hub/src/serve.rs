//! Starting and stopping a hub: open the store (resuming a session a stop interrupted), start
//! the engine task, bind the HTTP server, advertise over mDNS; and on SIGINT/SIGTERM stop
//! accepting, close every connection, hand every record to the store, flush it, withdraw the
//! advertisement.
//!
//! [`start`] returns a [`RunningHub`] so `synchub serve`, `synchub demo`, the desktop app and
//! the tests run the very same hub in process; [`start_with_clock`] runs it on a given clock.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::http::HeaderValue;
use synchub_session::{Engine, EngineConfig};
use synchub_store::{DataDir, Store, WriterConfig};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::central::CentralControl;
use crate::clock::Clock;
use crate::config::HubConfig;
use crate::discovery::{self, Advertisement};
use crate::engine_task::{EngineTask, Input};
use crate::metrics::Metrics;
use crate::room::RoomSettings;
use crate::server::admin::{AdminAccess, AdminTokens};
use crate::server::caps::Caps;
use crate::server::{self, AppState};
use crate::straps::StrapRoom;

/// The desktop app's origins, allowed by CORS besides the hub's own: Tauri v2 serves its pages
/// from `tauri://localhost` on Linux and macOS and from `http://tauri.localhost` on Windows.
const DESKTOP_ORIGINS: [&str; 2] = ["tauri://localhost", "http://tauri.localhost"];

/// A hub that accepts connections.
#[derive(Debug)]
pub struct RunningHub {
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// `http://<lan-ip>:<port>`.
    pub base_url: String,
    pub state: AppState,
    /// The file holding the facilitator's admin token.
    pub admin_token_path: PathBuf,
    pub data_dir: PathBuf,
    /// Time from [`start`] to accepting connections.
    pub startup: Duration,
    stop_server: watch::Sender<bool>,
    server: JoinHandle<()>,
    engine: JoinHandle<()>,
    /// Set to the panic's message if the engine task panicked.
    engine_failed: watch::Receiver<Option<String>>,
    advertisement: Option<Advertisement>,
    advertisement_updates: Option<(oneshot::Sender<()>, JoinHandle<Option<Advertisement>>)>,
    /// The background sync (stopped first on shutdown: a push in flight is safe to abandon).
    central: Arc<CentralControl>,
    /// Keeps the consented session reports for central sync (stopped with the sync: a report
    /// not stored yet is built at the next start).
    reports: JoinHandle<()>,
}

fn engine_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0_u8; 32];
    getrandom::fill(&mut seed).map_err(|error| anyhow::anyhow!("random source: {error}"))?;
    Ok(seed)
}

/// Opens the store and builds the engine, resuming the interrupted session when its time has
/// not passed (participants then rejoin with their resume tokens) and closing it otherwise.
fn open_store_and_engine(
    config: &HubConfig,
    data_dir: &DataDir,
    clock: &Clock,
) -> anyhow::Result<(Store, Engine)> {
    let store = match Store::open(data_dir, WriterConfig::default()) {
        Ok(store) => store,
        Err(error) if error.is_corrupt() => {
            let root = data_dir.root().display();
            return Err(anyhow::Error::new(error).context(format!(
                "the database in {root} is damaged; stop here and run `synchub store check \
                 --data-dir {root}`, then `synchub store recover --data-dir {root}` (it keeps \
                 every readable row and moves the damaged file aside)"
            )));
        }
        Err(error) => return Err(anyhow::Error::new(error).context("opening the store")),
    };
    let engine_config = EngineConfig {
        schedule: config.schedule,
        max_participants: config.max_participants,
        ..EngineConfig::default()
    };
    let now = clock.hub_ms();
    if let Some(recovered) = store.recovered() {
        if recovered.has_ended_by(now) {
            tracing::info!("closing the session a stop interrupted: its time has passed");
            store.close_interrupted(recovered.session_id(), recovered.last_activity_ms)?;
        } else {
            match Engine::restore(
                engine_config,
                now,
                engine_seed()?,
                recovered.restored.clone(),
            ) {
                Ok(engine) => {
                    tracing::info!("resuming the session a stop interrupted");
                    return Ok((store, engine));
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot resume the interrupted session; closing it");
                    store.close_interrupted(recovered.session_id(), recovered.last_activity_ms)?;
                }
            }
        }
    }
    let engine =
        Engine::new(engine_config, now, engine_seed()?).context("starting the session engine")?;
    Ok((store, engine))
}

fn allowed_origins(lan: IpAddr, port: u16) -> Vec<HeaderValue> {
    let mut origins: Vec<String> = vec![
        format!("http://{lan}:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ];
    origins.extend(DESKTOP_ORIGINS.map(str::to_owned));
    origins.dedup();
    origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect()
}

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// Starts a hub with `config` on the system clock; it accepts connections when this returns.
pub async fn start(config: HubConfig) -> anyhow::Result<RunningHub> {
    start_with_clock(config, Clock::system()).await
}

/// Starts a hub with `config` whose engine reads time from `clock`.
pub async fn start_with_clock(config: HubConfig, clock: Clock) -> anyhow::Result<RunningHub> {
    let started = Instant::now();
    let listener = TcpListener::bind((config.bind, config.port))
        .await
        .with_context(|| format!("listening on {}:{}", config.bind, config.port))?;
    let local_addr = listener.local_addr()?;
    let lan = discovery::lan_address(config.bind);
    let base_url = format!("http://{}:{}", url_host(lan), local_addr.port());

    let data_dir = DataDir::resolve(config.data_dir.clone())?;
    let opened = {
        let config = config.clone();
        let data_dir = data_dir.clone();
        let clock = clock.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let secret = data_dir
                .org_secret()
                .context("reading the organisation secret")?;
            let token = data_dir.admin_token().context("reading the admin token")?;
            let (store, engine) = open_store_and_engine(&config, &data_dir, &clock)?;
            Ok((secret, token, store, engine))
        })
        .await??
    };
    let (org_secret, admin_token, store, engine) = opened;
    let store = Arc::new(store);

    let metrics = Arc::new(Metrics::default());
    let (room, room_updates) = watch::channel(RoomSettings {
        name: config.room_name.clone(),
        code: config.room_code.clone(),
    });
    let (mut task, handle, inputs) = EngineTask::new(
        engine,
        clock,
        room_updates.clone(),
        store.writer(),
        store.health().clone(),
        metrics.clone(),
    );
    task.cap_participants_per_address(config.caps.participants_per_address);
    let (engine_failure, engine_failed) = watch::channel(None);
    let engine = tokio::spawn(supervise_engine(task, inputs, engine_failure));

    // Commit reports arrive on a blocking channel; one thread forwards them to the engine task.
    let commits = store.commits();
    let committed = handle.inputs.clone();
    std::thread::Builder::new()
        .name("synchub-commits".to_owned())
        .spawn(move || {
            for report in commits.iter() {
                if committed.blocking_send(Input::Committed(report)).is_err() {
                    break;
                }
            }
        })
        .context("starting the commit thread")?;

    let reports = crate::session_reports::keep_up(store.clone(), handle.view.clone());
    let central = Arc::new(CentralControl::start(
        config.central_sync.clone(),
        config.sync_timeout,
        data_dir.database_path(),
        data_dir.root().to_path_buf(),
    ));
    // Relays' tokens survive a restart (hashed, in the data directory).
    let relays = crate::relays::Relays::new(crate::relays::RelayTokens::load(
        data_dir.root(),
        org_secret.clone(),
    ));
    let straps = if config.ble {
        StrapRoom::start(&handle, &org_secret, config.ble_links_per_adapter, relays).await
    } else {
        StrapRoom::off(&org_secret, relays)
    };
    let admin = AdminAccess {
        remote: config.admin_remote,
        tokens: AdminTokens::new(data_dir.clone(), admin_token),
    };
    let state = AppState::new(
        handle,
        metrics,
        admin,
        org_secret,
        room,
        store,
        base_url.clone(),
        allowed_origins(lan, local_addr.port()),
        central.clone(),
        straps,
        config.min_free_disk_bytes,
        Caps::new(config.caps, config.max_participants),
    );
    let router = server::app(state.clone());
    let (stop_server, stopped) = watch::channel(false);
    let server = tokio::spawn(server::listen::serve(
        listener,
        router,
        state.caps.clone(),
        state.metrics.clone(),
        stopped,
    ));
    let startup = started.elapsed();
    tracing::info!(
        startup_ms = startup.as_secs_f64() * 1000.0,
        "accepting connections"
    );

    let advertisement = match config.mdns {
        Some(scope) => match Advertisement::start(&state.room(), local_addr.port(), scope) {
            Ok(advertisement) => Some(advertisement),
            Err(error) => {
                // The room still works through the QR code and the join URL.
                tracing::warn!(%error, "mDNS advertisement failed; phones must use the join URL");
                None
            }
        },
        None => None,
    };
    let mut hub = RunningHub {
        local_addr,
        base_url,
        state,
        admin_token_path: data_dir.admin_token_path(),
        data_dir: data_dir.root().to_path_buf(),
        startup,
        stop_server,
        server,
        engine,
        engine_failed,
        advertisement,
        advertisement_updates: None,
        central,
        reports,
    };
    hub.follow_room_changes(room_updates);
    Ok(hub)
}

/// How long a hub whose engine task failed keeps answering (`/health` red, with the reason)
/// before it stops: long enough for a monitor or the console to see why, short enough that
/// phones are not kept waiting for a restart.
pub const ENGINE_FAILURE_LINGER: Duration = Duration::from_secs(2);

/// Runs the engine task; if it panics, logs the panic's message and reports it on `failure`
/// (`/health` is red already: the engine's input channel closed with the task).
async fn supervise_engine(
    task: EngineTask,
    inputs: tokio::sync::mpsc::Receiver<Input>,
    failure: watch::Sender<Option<String>>,
) {
    let Err(error) = tokio::spawn(task.run(inputs)).await else {
        return;
    };
    let message = if error.is_panic() {
        let payload = error.into_panic();
        payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    } else {
        "the engine task was cancelled".to_owned()
    };
    tracing::error!(
        panic = %message,
        "the session engine failed; the hub stores what it can and exits so that it is restarted"
    );
    let _ = failure.send(Some(message));
}

impl RunningHub {
    /// Waits until the engine task fails, and returns the panic's message. Pending for ever
    /// while it runs (and after a clean stop).
    pub async fn engine_failure(&self) -> String {
        let mut failed = self.engine_failed.clone();
        loop {
            if let Some(message) = failed.borrow_and_update().clone() {
                return message;
            }
            if failed.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Re-announces the mDNS advertisement whenever the room's settings change.
    fn follow_room_changes(&mut self, mut room: watch::Receiver<RoomSettings>) {
        let Some(mut advertisement) = self.advertisement.take() else {
            return;
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let follower = tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = room.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let settings = room.borrow_and_update().clone();
                        if let Err(error) = advertisement.update(&settings) {
                            tracing::warn!(%error, "re-announcing the room over mDNS failed");
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            Some(advertisement)
        });
        self.advertisement_updates = Some((stop, follower));
    }

    /// Renames the room (re-announced over mDNS, shown to joiners from now on).
    pub fn set_room_name(&self, name: &str) {
        self.state
            .room
            .send_modify(|room| room.name = name.to_owned());
    }

    /// Stops cleanly: no new connections, every connection closed, the session paused (its
    /// participants can resume after a restart), every record stored, the advertisement
    /// withdrawn.
    pub async fn stop(self) -> anyhow::Result<()> {
        // A writer retrying a failed commit gives up after a grace instead of holding the stop.
        self.state.store.begin_stop();
        self.central.stop().await;
        self.reports.abort();
        let _ = self.stop_server.send(true);
        // Straps first: no beats arrive after the engine has handed everything to the store.
        self.state.straps.shutdown().await;
        let (done, stopped) = oneshot::channel();
        if self
            .state
            .engine
            .inputs
            .send(Input::Shutdown(done))
            .await
            .is_ok()
        {
            let _ = stopped.await;
        }
        let _ = self.engine.await;
        match tokio::time::timeout(Duration::from_secs(5), self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the HTTP server task failed"),
            Err(_) => tracing::warn!("connections still open after 5 s; stopping anyway"),
        }
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || store.flush())
            .await?
            .context("flushing the store")?;
        let advertisement = match self.advertisement_updates {
            Some((stop, follower)) => {
                let _ = stop.send(());
                follower.await.ok().flatten()
            }
            None => self.advertisement,
        };
        if let Some(advertisement) = advertisement {
            tokio::task::spawn_blocking(move || advertisement.shutdown()).await?;
        }
        tracing::info!("stopped; everything is stored");
        Ok(())
    }
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C still works");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
