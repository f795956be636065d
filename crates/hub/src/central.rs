//! The hub's background sync to the central database, as the facilitator controls it: started
//! from `--database-url` (or the config file), or set from the console (`PUT /api/sync`), run at
//! once on request (`POST /api/sync`), and reported with per-table progress in `GET /api/hub`.
//!
//! A URL set from the console is kept in the data directory (`central_sync.toml`, mode 0600: it
//! may hold a password; written to a temporary file and renamed, so it is whole or absent), so
//! the hub syncs to it again after a restart; a URL given on the command line or in the config
//! file wins over it. A file that cannot be read is reported (log and the console's sync
//! status) rather than dropped quietly.
//!
//! Every call to the central database has a deadline (`--sync-timeout-secs`, else
//! `timeout_secs` in `central_sync.toml`, else 60 s): a database that stops answering fails the
//! attempt, the status says why, and the next attempt resumes from the watermark.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use synchub_protocol::rest::{SyncState, SyncStatus, SyncTableProgress};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

/// The hub's background sync to the central database: where, and how often.
#[derive(Debug, Clone)]
pub struct CentralSync {
    pub database_url: String,
    pub every: Duration,
    /// How long any one call to the central database may take (`None`: the saved settings'
    /// or the default, [`synchub_cloud::DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
}

/// Five minutes: a finished session reaches the researchers soon, and an unreachable database
/// is retried with backoff in between anyway.
pub const DEFAULT_SYNC_EVERY_SECS: u64 = 300;

/// The file that remembers a database URL set from the console.
const SETTINGS_FILE: &str = "central_sync.toml";

/// Why the sync settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "databaseUrl cannot be used: {0} (the form is postgres://user:password@host:5432/database, with ?sslmode=verify-full&sslrootcert=/path/to/ca.pem for a server whose certificate an institution's own CA signed)"
    )]
    BadUrl(String),
    #[error("the sync settings could not be saved in the data directory: {0:#}")]
    Save(anyhow::Error),
}

#[derive(Debug)]
struct Running {
    settings: CentralSync,
    status: watch::Receiver<synchub_cloud::SyncStatus>,
    now: Arc<Notify>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The running background sync, if any.
#[derive(Debug)]
pub struct CentralControl {
    database_path: PathBuf,
    data_root: PathBuf,
    /// The deadline set by flag, variable or config file; wins over the saved one.
    timeout: Option<Duration>,
    running: Mutex<Option<Running>>,
    /// Why the saved settings could not be used, shown as the sync's error until the console
    /// sets the sync again.
    unusable_saved: Mutex<Option<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedSettings {
    database_url: String,
    every_secs: u64,
    /// Written by this hub; absent in files of older hubs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_secs: Option<u64>,
}

impl CentralControl {
    /// Starts the sync from `configured` (flags, variables, config file) or else from the
    /// settings a facilitator saved earlier; with neither, the sync is off.
    /// `timeout` is the per-call deadline from flags, variables or the config file, for a URL
    /// from any source (`None`: the saved one, else the default).
    pub fn start(
        configured: Option<CentralSync>,
        timeout: Option<Duration>,
        database_path: PathBuf,
        data_root: PathBuf,
    ) -> CentralControl {
        let control = CentralControl {
            database_path,
            data_root,
            timeout,
            running: Mutex::new(None),
            unusable_saved: Mutex::new(None),
        };
        let settings = configured.or_else(|| match control.saved() {
            Ok(saved) => saved,
            Err(error) => {
                let reason = format!(
                    "the saved sync settings ({}) cannot be used: {error:#}; set the central \
                     database again in the console",
                    control.settings_path().display()
                );
                tracing::warn!("{reason}");
                *control.lock_unusable() = Some(reason);
                None
            }
        });
        if let Some(settings) = settings {
            control.run(settings);
        }
        control
    }

    fn lock_unusable(&self) -> MutexGuard<'_, Option<String>> {
        self.unusable_saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The deadline of each call: flag over saved over default.
    fn effective_timeout(&self, settings: &CentralSync) -> Duration {
        self.timeout
            .or(settings.timeout)
            .unwrap_or(synchub_cloud::DEFAULT_TIMEOUT)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn run(&self, settings: CentralSync) {
        tracing::info!(
            database = %synchub_cloud::redacted_url(&settings.database_url),
            every_secs = settings.every.as_secs(),
            timeout_secs = self.effective_timeout(&settings).as_secs(),
            "background sync to the central database"
        );
        let (status_sender, status) = watch::channel(synchub_cloud::SyncStatus::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let now = Arc::new(Notify::new());
        let mut options =
            synchub_cloud::SyncOptions::new(settings.database_url.clone(), &self.database_path);
        options.timeout = self.effective_timeout(&settings);
        let task = tokio::spawn(synchub_cloud::watch(
            options,
            settings.every,
            status_sender,
            now.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        *self.lock() = Some(Running {
            settings,
            status,
            now,
            stop,
            task,
        });
    }

    /// Stops the sync (a push in flight is abandoned, which is safe: the next one resumes).
    pub async fn stop(&self) {
        let running = self.lock().take();
        if let Some(running) = running {
            let _ = running.stop.send(());
            let _ = running.task.await;
        }
    }

    /// `PUT /api/sync`: syncs to `database_url` from now on (`None`: no sync), and remembers it.
    pub async fn configure(
        &self,
        database_url: Option<String>,
        every: Option<Duration>,
    ) -> Result<(), SettingsError> {
        let settings = match database_url {
            Some(url) => {
                synchub_cloud::check_database_url(&url)
                    .map_err(|error| SettingsError::BadUrl(error.to_string()))?;
                Some(CentralSync {
                    database_url: url,
                    every: every.unwrap_or(Duration::from_secs(DEFAULT_SYNC_EVERY_SECS)),
                    timeout: self.timeout,
                })
            }
            None => None,
        };
        self.save(settings.as_ref()).map_err(SettingsError::Save)?;
        *self.lock_unusable() = None;
        self.stop().await;
        if let Some(settings) = settings {
            self.run(settings);
        }
        Ok(())
    }

    /// `POST /api/sync`: runs a push now. False when no sync is configured.
    pub fn sync_now(&self) -> bool {
        match self.lock().as_ref() {
            Some(running) => {
                running.now.notify_one();
                true
            }
            None => false,
        }
    }

    /// The sync as the console shows it.
    pub fn status(&self) -> SyncStatus {
        let guard = self.lock();
        let Some(running) = guard.as_ref() else {
            return SyncStatus {
                state: SyncState::Disabled,
                last_sync_at: None,
                unsynced_rows: 0,
                last_error: self.lock_unusable().clone(),
                database: None,
                every_secs: None,
                tables: Vec::new(),
            };
        };
        let status = running.status.borrow().clone();
        let state = if status.running {
            SyncState::Running
        } else if status.consecutive_failures > 0 {
            SyncState::Failed
        } else if status.last_sync_ms.is_some() {
            SyncState::Idle
        } else {
            SyncState::Never
        };
        SyncStatus {
            state,
            last_sync_at: status.last_sync_ms.and_then(|ms| u64::try_from(ms).ok()),
            unsynced_rows: status.rows_pending,
            last_error: status.last_error,
            database: Some(synchub_cloud::redacted_url(&running.settings.database_url)),
            every_secs: Some(running.settings.every.as_secs()),
            tables: status
                .tables
                .iter()
                .map(|table| SyncTableProgress {
                    table: table.table.to_owned(),
                    rows: table.rows,
                    done: table.done,
                })
                .collect(),
        }
    }

    fn settings_path(&self) -> PathBuf {
        self.data_root.join(SETTINGS_FILE)
    }

    fn saved(&self) -> anyhow::Result<Option<CentralSync>> {
        let path = self.settings_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let saved: SavedSettings =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(CentralSync {
            database_url: saved.database_url,
            every: Duration::from_secs(saved.every_secs.max(1)),
            timeout: saved
                .timeout_secs
                .map(|secs| Duration::from_secs(secs.max(1))),
        }))
    }

    fn save(&self, settings: Option<&CentralSync>) -> anyhow::Result<()> {
        let path = self.settings_path();
        let Some(settings) = settings else {
            return match std::fs::remove_file(&path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(error).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        };
        let text = toml::to_string(&SavedSettings {
            database_url: settings.database_url.clone(),
            every_secs: settings.every.as_secs(),
            timeout_secs: Some(self.effective_timeout(settings).as_secs()),
        })
        .context("writing the settings as TOML")?;
        synchub_store::private_files::write_private(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }
}
