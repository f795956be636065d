//! The four commands the console calls over Tauri's IPC, and nothing else: everything else it
//! asks the hub over HTTP and WebSocket, exactly as in a browser. Their names and JSON shapes are
//! the contract with `ui/`'s Tauri backend; the capability file allows exactly these.

use serde::Serialize;
use synchub::server::AppState;
use tauri::State;
use tokio::sync::watch;

use crate::hub_keeper::{HubRestart, Restarts};
use crate::projector::{Projectors, RoomTarget};

/// What the commands share (managed by Tauri).
#[derive(Debug)]
pub struct Desktop {
    /// The embedded hub's console address (the token is read when asked: it can be rotated).
    /// It stays the same when the hub is restarted.
    pub base_url: String,
    /// The running hub's state — a new one after a restart: its live room settings, read when
    /// a projector opens (the code may have changed), and its admin token.
    pub hub: watch::Receiver<AppState>,
    /// The hub's unexpected stops and restarts, for the console to show.
    pub restarts: Restarts,
    pub projectors: Projectors,
}

/// How the console reaches the embedded hub. The admin token is handed over here so the
/// facilitator never copies or types it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubConnection {
    pub base_url: String,
    pub admin_token: String,
}

impl std::fmt::Debug for HubConnection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HubConnection")
            .field("base_url", &self.base_url)
            .field("admin_token", &"<secret>")
            .finish()
    }
}

/// One display attached to this computer, as Tauri sees it; `index` is what
/// [`open_projector`] takes.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorInfo {
    pub index: usize,
    pub name: String,
    /// Physical pixels.
    pub width: u32,
    pub height: u32,
}

#[tauri::command]
pub fn hub_connection(desktop: State<'_, Desktop>) -> HubConnection {
    HubConnection {
        base_url: desktop.base_url.clone(),
        admin_token: desktop
            .hub
            .borrow()
            .admin
            .tokens
            .current()
            .as_str()
            .to_owned(),
    }
}

/// Every time the embedded hub stopped unexpectedly and what became of it (restarted, the
/// session resumed), oldest first; empty while all is well. The console polls it.
#[tauri::command]
pub fn hub_restarts(desktop: State<'_, Desktop>) -> Vec<HubRestart> {
    desktop.restarts.list()
}

// Async, so the monitor query (answered by the event loop's thread) never runs on that thread.
#[tauri::command]
pub async fn list_monitors(app: tauri::AppHandle) -> Result<Vec<MonitorInfo>, String> {
    Ok(monitors(&app)?
        .into_iter()
        .enumerate()
        .map(|(index, monitor)| MonitorInfo {
            index,
            name: monitor
                .name()
                .cloned()
                .unwrap_or_else(|| format!("Display {}", index + 1)),
            width: monitor.size().width,
            height: monitor.size().height,
        })
        .collect())
}

#[tauri::command]
pub async fn open_projector(
    app: tauri::AppHandle,
    desktop: State<'_, Desktop>,
    monitor: usize,
) -> Result<(), String> {
    let monitor_count = monitors(&app)?.len();
    let target = {
        let hub = desktop.hub.borrow();
        RoomTarget {
            hub_url: desktop.base_url.clone(),
            join_url: hub.join_url(),
            room_code: hub.room().code,
        }
    };
    desktop
        .projectors
        .open(monitor, monitor_count, &target)
        .map_err(|error| error.to_string())
}

fn monitors(app: &tauri::AppHandle) -> Result<Vec<tauri::Monitor>, String> {
    app.available_monitors()
        .map_err(|error| format!("The list of monitors is not available: {error}."))
}
