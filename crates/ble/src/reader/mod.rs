//! The strap reader: the adapter between btleplug and whoever listens (the hub, or a relay
//! that forwards straps to a hub over the network).
//!
//! It reads heart-rate straps through every Bluetooth adapter the computer has. It scans for
//! devices advertising the Heart Rate Service (0x180D) on each adapter, notes which adapters
//! hear which strap and how loudly, and connects each strap through the adapter with a free
//! connection that hears it best: a controller holds only a handful of connections, so each
//! adapter gets a budget ([`ReaderConfig::links_per_adapter`]). A strap that no adapter with
//! room hears is listed as [`StrapState::NoFreeConnection`] with what to do. Connected straps
//! deliver [`BeatBatch`](crate::BeatBatch)es on the hub's clock; body location, device
//! information and battery are read on connect, the battery again every
//! [`ReaderConfig::battery_poll`]. Adapters coming and going are noticed within
//! [`ReaderConfig::adapter_poll`], and the straps of one that went away are placed again.
//!
//! The parts: `adapters` finds and watches adapters; `supervisor` decides where straps go (with
//! the pure [`place_straps`](crate::placement::place_straps)); `link` runs one strap's
//! connection; `state` and `status` hold and describe what the reader knows.
//!
//! Nothing here blocks or panics the caller: the caller gets a snapshot
//! ([`StrapReader::snapshot`]) and a channel of [`StrapEvent`]s, and a failing strap only ever
//! affects its own task.

mod adapters;
mod link;
mod state;
mod status;
mod supervisor;

pub use adapters::HEART_RATE_SERVICE;
pub use status::{
    AdapterId, AdapterStatus, BATTERY_LOW_PCT, Hearing, ReaderSnapshot, ScanReport, StrapEvent,
    StrapId, StrapState, StrapStatus,
};

use adapters::{bluetooth_service, heart_rate_filter, list_adapters, strap_id, unavailable};
use btleplug::api::{Central as _, Peripheral as _};
use link::GATT_TIMEOUT;
use state::Shared;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use supervisor::Supervisor;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::{debug, warn};

/// The per-adapter connection budget when none is configured: what most Linux and Windows
/// controllers hold (some hold 5, a Mac about 14).
pub const DEFAULT_LINKS_PER_ADAPTER: usize = 7;

/// What went wrong with Bluetooth as a whole (a single strap's trouble is never an error: it
/// shows in its [`StrapState`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BleError {
    /// No usable Bluetooth adapter: no D-Bus system bus or BlueZ (Linux), no permission, no
    /// adapter, or no adapter that can be powered on and scanned with. `reason` carries the
    /// platform's error text.
    #[error("Bluetooth is unavailable: {reason}")]
    Unavailable {
        /// What failed, with the platform's own error text.
        reason: String,
    },
}

/// How the reader runs.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Scan for straps (default). Without it the reader only connects to straps the platform
    /// already knows about (on Linux: devices in BlueZ's cache that advertised 0x180D).
    pub scan: bool,
    /// How many straps to connect through one adapter at most (default
    /// [`DEFAULT_LINKS_PER_ADAPTER`]). A controller that refuses a connection earlier lowers
    /// its own adapter's budget to what it held.
    pub links_per_adapter: usize,
    /// How often to list the adapters again, to use new ones and notice removed ones
    /// (default 2 s).
    pub adapter_poll: Duration,
    /// How often to re-read a connected strap's battery level (default 60 s).
    pub battery_poll: Duration,
    /// The hub's clock in ms (Unix epoch by default): beat times and `lastSeenMs` use it, so
    /// strap beats and phone beats are on one time line.
    pub now_ms: fn() -> i64,
    /// How long one connection attempt (connect and GATT service discovery) may take.
    pub connect_timeout: Duration,
    /// The first wait before reconnecting (default 1 s); doubled after each failed attempt.
    pub reconnect_min: Duration,
    /// The longest wait between reconnection attempts (default 30 s).
    pub reconnect_max: Duration,
    /// Capacity of the event channel. Beats wait for room (they are never dropped); a status
    /// or adapters event that finds the channel full is skipped, as the snapshot has it anyway.
    pub event_capacity: usize,
}

impl Default for ReaderConfig {
    fn default() -> ReaderConfig {
        ReaderConfig {
            scan: true,
            links_per_adapter: DEFAULT_LINKS_PER_ADAPTER,
            adapter_poll: Duration::from_secs(2),
            battery_poll: Duration::from_secs(60),
            now_ms: system_now_ms,
            connect_timeout: Duration::from_secs(20),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }
}

/// Milliseconds since the Unix epoch from the system clock: the default hub clock.
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Reads every heart-rate strap in range through every adapter; see the module documentation.
#[derive(Debug)]
pub struct StrapReader {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl StrapReader {
    /// Finds the Bluetooth adapters, starts scanning on each and returns the reader with the
    /// receiver of its events. `Err(BleError::Unavailable { reason })` when no adapter can be
    /// used. Must be called inside a tokio runtime (with time and I/O enabled).
    pub async fn start(
        config: ReaderConfig,
    ) -> Result<(StrapReader, mpsc::Receiver<StrapEvent>), BleError> {
        let manager = bluetooth_service().await?;
        let found = list_adapters(&manager)
            .await
            .map_err(|error| unavailable("could not list Bluetooth adapters", &error))?;
        if found.is_empty() {
            return Err(BleError::Unavailable {
                reason: "no Bluetooth adapter found; plug one in or switch Bluetooth on".to_owned(),
            });
        }
        let (events, receiver) = mpsc::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared::new(config, events));
        let mut supervisor = Supervisor::new(manager, shared.clone());
        let mut problems = Vec::new();
        for adapter in found {
            let id = adapter.id.clone();
            if let Err(reason) = supervisor.add_adapter(adapter).await {
                problems.push(format!("{id}: {reason}"));
            }
        }
        if shared.snapshot().adapters.is_empty() {
            return Err(BleError::Unavailable {
                reason: format!(
                    "no Bluetooth adapter could be used ({})",
                    problems.join("; ")
                ),
            });
        }
        let (stop, stop_receiver) = watch::channel(false);
        let supervisor = tokio::spawn(supervisor.run(stop_receiver));
        Ok((
            StrapReader {
                shared,
                stop,
                supervisor,
            },
            receiver,
        ))
    }

    /// Everything the reader knows now: adapters, straps and what to do if straps are waiting
    /// for a connection.
    pub fn snapshot(&self) -> ReaderSnapshot {
        self.shared.snapshot()
    }

    /// Every strap heard since the start, ordered by id (the snapshot's straps).
    pub fn straps(&self) -> Vec<StrapStatus> {
        self.shared.straps()
    }

    /// Stops scanning and disconnects every strap; returns within about 15 s whatever the
    /// straps do.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if timeout(GATT_TIMEOUT + Duration::from_secs(5), self.supervisor)
            .await
            .is_err()
        {
            warn!("Bluetooth strap reader did not stop in time; leaving its tasks behind");
        }
    }
}

/// Scans on every adapter for `duration` and lists the straps heard (for `synchub ble scan
/// --secs N`), without connecting to any; each strap lists the adapters that heard it. BlueZ
/// also lists straps it remembers from earlier scans: those have no `rssi` unless they
/// advertised during this one.
pub async fn scan_once(duration: Duration) -> Result<ScanReport, BleError> {
    let manager = bluetooth_service().await?;
    let found = list_adapters(&manager)
        .await
        .map_err(|error| unavailable("could not list Bluetooth adapters", &error))?;
    let mut scanning = Vec::new();
    let mut problems = Vec::new();
    for adapter in found {
        match adapter.adapter.start_scan(heart_rate_filter()).await {
            Ok(()) => scanning.push(adapter),
            Err(error) => problems.push(unavailable(
                &format!("could not start scanning on {}", adapter.id),
                &error,
            )),
        }
    }
    if scanning.is_empty() {
        return Err(problems.pop().unwrap_or_else(|| BleError::Unavailable {
            reason: "no Bluetooth adapter found; plug one in or switch Bluetooth on".to_owned(),
        }));
    }
    tokio::time::sleep(duration).await;
    let now_ms = system_now_ms();
    let mut straps: BTreeMap<StrapId, StrapStatus> = BTreeMap::new();
    for adapter in &scanning {
        let peripherals = adapter.adapter.peripherals().await;
        if let Err(error) = adapter.adapter.stop_scan().await {
            debug!(adapter = %adapter.id, %error, "stopping the scan failed");
        }
        let peripherals = peripherals.map_err(|error| {
            unavailable(
                &format!("could not list the Bluetooth devices of {}", adapter.id),
                &error,
            )
        })?;
        for peripheral in peripherals {
            let Ok(Some(properties)) = peripheral.properties().await else {
                continue;
            };
            if !properties.services.contains(&HEART_RATE_SERVICE) {
                continue;
            }
            let id = strap_id(&peripheral);
            let status = straps.entry(id.clone()).or_insert_with(|| {
                StrapStatus::discovered(id, properties.local_name.clone(), None, now_ms)
            });
            status.heard_by.push(Hearing {
                adapter: adapter.id.clone(),
                rssi: properties.rssi,
            });
            status.rssi = status.rssi.max(properties.rssi);
            if status.name.is_none() {
                status.name = properties.local_name;
            }
        }
    }
    Ok(ScanReport {
        adapters: scanning.into_iter().map(|adapter| adapter.id).collect(),
        straps: straps.into_values().collect(),
    })
}
