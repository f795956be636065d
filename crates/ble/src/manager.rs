//! The strap manager: the adapter between btleplug and the hub.
//!
//! It scans for devices advertising the Heart Rate Service (0x180D), connects to every one it
//! finds (many at once, one task each), subscribes to Heart Rate Measurement notifications and
//! turns them into [`BeatBatch`]es on the hub's clock; it reads Body Sensor Location, the Device
//! Information strings and the battery on connect, and the battery again every
//! [`ManagerConfig::battery_poll`]. A strap that drops is reconnected with exponential backoff
//! (1 s doubling to 30 s): straps advertise only while they touch skin, and BlueZ drops Polar
//! H10/H9 connections after about 150 s on some Linux kernels, so losing a strap is routine.
//!
//! Nothing here blocks or panics the caller: the hub gets a snapshot ([`StrapManager::straps`])
//! and a channel of [`StrapEvent`]s, and a failing strap only ever affects its own task.

use crate::beats::{BeatBatch, BeatTimeline};
use crate::code::strap_code;
use crate::measurement::{
    BodyLocation, Contact, Measurement, parse_battery_level, parse_body_location, parse_utf8_string,
};
use crate::quirks;
use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{
    BDAddr, Central as _, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tracing::{debug, info, warn};
use uuid::Uuid;

/// The Heart Rate Service, which every strap advertises and the scan filters on.
pub const HEART_RATE_SERVICE: Uuid = uuid_from_u16(0x180D);
const HEART_RATE_MEASUREMENT: Uuid = uuid_from_u16(0x2A37);
const BODY_SENSOR_LOCATION: Uuid = uuid_from_u16(0x2A38);
const BATTERY_LEVEL: Uuid = uuid_from_u16(0x2A19);
const MODEL_NUMBER: Uuid = uuid_from_u16(0x2A24);
const MANUFACTURER_NAME: Uuid = uuid_from_u16(0x2A29);

/// At or below this charge a strap is flagged `batteryLow`, so the coin cell is changed before a
/// session rather than during one.
pub const BATTERY_LOW_PCT: u8 = 15;

/// How long a connected strap may stay silent before the manager asks BlueZ whether it is
/// still connected (straps notify about once a second).
const SILENCE_CHECK: Duration = Duration::from_secs(5);
/// How long a strap that BlueZ still calls connected may stay silent before the manager drops
/// the link and connects again: a subscription that stopped delivering is worth nothing.
const SILENCE_RECONNECT: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the reconnection backoff; a shorter one counts as a
/// failed attempt.
const STABLE_CONNECTION: Duration = Duration::from_secs(30);
/// Upper bound on any single read, and on disconnecting at shutdown.
const GATT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with Bluetooth as a whole (a single strap's trouble is never an error: it
/// shows in its [`StrapState`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BleError {
    /// No usable Bluetooth adapter: no D-Bus system bus or BlueZ (Linux), no permission, no
    /// adapter, or the adapter cannot be powered on. `reason` carries btleplug's error text.
    #[error("Bluetooth is unavailable: {reason}")]
    Unavailable {
        /// What failed, with the platform's own error text.
        reason: String,
    },
}

/// How the manager runs.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Scan for straps (default). Without it the manager only connects to straps the platform
    /// already knows about (on Linux: devices in BlueZ's cache that advertised 0x180D).
    pub scan: bool,
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
    /// event that finds the channel full is skipped, as the snapshot has it anyway.
    pub event_capacity: usize,
}

impl Default for ManagerConfig {
    fn default() -> ManagerConfig {
        ManagerConfig {
            scan: true,
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

/// A strap's stable identity: its Bluetooth address where the platform exposes it (Linux,
/// Windows), the platform's peripheral id otherwise (macOS gives a per-computer UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StrapId(String);

impl StrapId {
    /// A strap id from its string form.
    pub fn new(id: impl Into<String>) -> StrapId {
        StrapId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StrapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a strap is in its life with the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrapState {
    /// Seen advertising; the first connection attempt is under way.
    Discovered,
    /// Connected and delivering beats.
    Connected,
    /// Connected, but the strap reports no skin contact: its beats are not forwarded.
    NoContact,
    /// Lost or never reached; waiting to try again.
    Reconnecting,
}

/// What the console shows about one strap (`GET /api/straps`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrapStatus {
    /// Stable id (see [`StrapId`]).
    pub id: StrapId,
    /// The four-character code a participant types to claim the strap ([`strap_code`]).
    pub code: String,
    /// The advertised name, e.g. "Polar H10 1A2B3C4D".
    pub name: Option<String>,
    /// Device Information Model Number (0x2A24), once connected.
    pub model: Option<String>,
    /// Device Information Manufacturer Name (0x2A29), once connected.
    pub manufacturer: Option<String>,
    /// Where the strap is in its life with the manager.
    pub state: StrapState,
    /// Signal strength of its last advertisement, in dBm (stale while connected: a connected
    /// strap stops advertising).
    pub rssi: Option<i16>,
    /// Battery level in percent.
    pub battery_pct: Option<u8>,
    /// The battery is at or below [`BATTERY_LOW_PCT`].
    pub battery_low: bool,
    /// The strap's own heart rate, `None` without contact.
    pub heart_rate_bpm: Option<u16>,
    /// Body Sensor Location (0x2A38), once connected.
    pub body_location: Option<BodyLocation>,
    /// Set for sensors known to smooth their RR intervals (optical sensors, watches).
    pub smoothed_rr_warning: Option<String>,
    /// When the strap was last heard from (advertisement or notification), hub clock in ms.
    pub last_seen_ms: i64,
}

impl StrapStatus {
    fn discovered(id: StrapId, name: Option<String>, rssi: Option<i16>, now_ms: i64) -> Self {
        let smoothed_rr_warning =
            quirks::classify(name.as_deref(), None, None, None).smoothed_rr_warning();
        StrapStatus {
            code: strap_code(id.as_str()),
            id,
            name,
            model: None,
            manufacturer: None,
            state: StrapState::Discovered,
            rssi,
            battery_pct: None,
            battery_low: false,
            heart_rate_bpm: None,
            body_location: None,
            smoothed_rr_warning,
            last_seen_ms: now_ms,
        }
    }

    /// The status without the fields that change with every advertisement or notification:
    /// a status event is sent when this part changes.
    fn settled(&self) -> StrapStatus {
        StrapStatus {
            rssi: None,
            heart_rate_bpm: None,
            last_seen_ms: 0,
            ..self.clone()
        }
    }

    fn set_battery(&mut self, battery_pct: u8) {
        self.battery_pct = Some(battery_pct);
        self.battery_low = battery_pct <= BATTERY_LOW_PCT;
    }
}

/// What the manager tells its listener.
#[derive(Debug, Clone, PartialEq)]
pub enum StrapEvent {
    /// A strap appeared or its state, battery, names or location changed (not sent for every
    /// heart rate or RSSI change: read [`StrapManager::straps`] for those).
    Status(StrapStatus),
    /// The beats of one notification of a strap in contact.
    Beats {
        /// Which strap.
        strap: StrapId,
        /// Its RR intervals and when the last one ended on the hub's clock.
        batch: BeatBatch,
    },
}

/// Reads every heart-rate strap in range; see the module documentation.
#[derive(Debug)]
pub struct StrapManager {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl StrapManager {
    /// Finds the first Bluetooth adapter, starts scanning and returns the manager with the
    /// receiver of its events. `Err(BleError::Unavailable { reason })` when there is no usable
    /// adapter. Must be called inside a tokio runtime (with time and I/O enabled).
    pub async fn start(
        config: ManagerConfig,
    ) -> Result<(StrapManager, mpsc::Receiver<StrapEvent>), BleError> {
        let adapter = first_adapter().await?;
        let central_events = adapter
            .events()
            .await
            .map_err(|error| unavailable("could not listen to the Bluetooth adapter", &error))?;
        if config.scan {
            adapter
                .start_scan(heart_rate_filter())
                .await
                .map_err(|error| unavailable("could not start scanning", &error))?;
        }
        let (events, receiver) = mpsc::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared {
            straps: Mutex::new(BTreeMap::new()),
            events,
            config,
        });
        let (stop, stop_receiver) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(
            adapter,
            shared.clone(),
            central_events,
            stop_receiver,
        ));
        Ok((
            StrapManager {
                shared,
                stop,
                supervisor,
            },
            receiver,
        ))
    }

    /// A snapshot of every strap seen since the start, ordered by id.
    pub fn straps(&self) -> Vec<StrapStatus> {
        self.shared.lock().values().cloned().collect()
    }

    /// Stops scanning and disconnects every strap; returns within about 15 s whatever the
    /// straps do.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if timeout(GATT_TIMEOUT + Duration::from_secs(5), self.supervisor)
            .await
            .is_err()
        {
            warn!("Bluetooth strap manager did not stop in time; leaving its tasks behind");
        }
    }
}

/// Scans for `duration` and lists the straps heard (for `synchub ble scan --secs N`), without
/// connecting to any. BlueZ also lists straps it remembers from earlier scans: those have no
/// `rssi` unless they advertised during this one.
pub async fn scan_once(duration: Duration) -> Result<Vec<StrapStatus>, BleError> {
    let adapter = first_adapter().await?;
    adapter
        .start_scan(heart_rate_filter())
        .await
        .map_err(|error| unavailable("could not start scanning", &error))?;
    tokio::time::sleep(duration).await;
    let peripherals = adapter.peripherals().await;
    if let Err(error) = adapter.stop_scan().await {
        debug!(%error, "stopping the scan failed");
    }
    let peripherals =
        peripherals.map_err(|error| unavailable("could not list Bluetooth devices", &error))?;
    let now_ms = system_now_ms();
    let mut straps = Vec::new();
    for peripheral in peripherals {
        let Ok(Some(properties)) = peripheral.properties().await else {
            continue;
        };
        if properties.services.contains(&HEART_RATE_SERVICE) {
            straps.push(StrapStatus::discovered(
                strap_id(&peripheral),
                properties.local_name,
                properties.rssi,
                now_ms,
            ));
        }
    }
    straps.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(straps)
}

fn heart_rate_filter() -> ScanFilter {
    ScanFilter {
        services: vec![HEART_RATE_SERVICE],
    }
}

async fn first_adapter() -> Result<Adapter, BleError> {
    let manager = Manager::new()
        .await
        .map_err(|error| unavailable("could not reach the Bluetooth service", &error))?;
    let adapters = manager
        .adapters()
        .await
        .map_err(|error| unavailable("could not list Bluetooth adapters", &error))?;
    adapters
        .into_iter()
        .next()
        .ok_or_else(|| BleError::Unavailable {
            reason: "no Bluetooth adapter found".to_owned(),
        })
}

fn unavailable(context: &str, error: &btleplug::Error) -> BleError {
    BleError::Unavailable {
        reason: format!("{context}: {}", describe(error)),
    }
}

/// btleplug's error text. Its `Other` variant displays only the D-Bus message; its debug form
/// also names the D-Bus error (`org.freedesktop.DBus.Error.FileNotFound`), which is what a
/// person needs to search for.
fn describe(error: &btleplug::Error) -> String {
    match error {
        btleplug::Error::Other(inner) => format!("{inner:?}"),
        other => other.to_string(),
    }
}

fn strap_id(peripheral: &Peripheral) -> StrapId {
    let address = peripheral.address();
    if address == BDAddr::default() {
        StrapId(peripheral.id().to_string())
    } else {
        StrapId(address.to_string())
    }
}

/// What the supervisor and the strap tasks share.
#[derive(Debug)]
struct Shared {
    straps: Mutex<BTreeMap<StrapId, StrapStatus>>,
    events: mpsc::Sender<StrapEvent>,
    config: ManagerConfig,
}

impl Shared {
    fn now_ms(&self) -> i64 {
        (self.config.now_ms)()
    }

    /// The status map. A panic elsewhere while holding the lock leaves a map that is still
    /// consistent (every change is a field assignment), so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<StrapId, StrapStatus>> {
        self.straps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes a strap's status and sends a status event when its settled part changed.
    fn update(&self, id: &StrapId, change: impl FnOnce(&mut StrapStatus)) {
        let changed = {
            let mut straps = self.lock();
            let Some(status) = straps.get_mut(id) else {
                return;
            };
            let before = status.settled();
            change(status);
            (status.settled() != before).then(|| status.clone())
        };
        if let Some(status) = changed {
            self.send_status(status);
        }
    }

    fn send_status(&self, status: StrapStatus) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.events.try_send(StrapEvent::Status(status))
        {
            debug!("strap event channel full; status event skipped (the snapshot has it)");
        }
    }
}

/// One strap the supervisor knows: the task that runs it and how to tell it about a
/// disconnection that BlueZ reported.
#[derive(Debug)]
struct Link {
    strap: StrapId,
    disconnected: Arc<Notify>,
    task: JoinHandle<()>,
}

type CentralEvents = Pin<Box<dyn Stream<Item = CentralEvent> + Send>>;

/// Returns when the manager is told to stop, or is dropped without `shutdown`.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The manager's main task: turns the adapter's events into strap tasks.
async fn supervise(
    adapter: Adapter,
    shared: Arc<Shared>,
    mut central_events: CentralEvents,
    mut stop: watch::Receiver<bool>,
) {
    let mut links: HashMap<PeripheralId, Link> = HashMap::new();
    let mut bus_open = true;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            event = central_events.next(), if bus_open => match event {
                Some(event) => on_central_event(&adapter, &shared, &mut links, &stop, event).await,
                None => {
                    warn!("the Bluetooth adapter stopped sending events; no new straps will be found");
                    bus_open = false;
                }
            },
        }
    }
    if shared.config.scan
        && let Ok(Err(error)) = timeout(GATT_TIMEOUT, adapter.stop_scan()).await
    {
        debug!(%error, "stopping the scan failed");
    }
    // Each strap task saw the same stop signal and is disconnecting its strap.
    for link in links.into_values() {
        let _ = timeout(GATT_TIMEOUT, link.task).await;
    }
}

async fn on_central_event(
    adapter: &Adapter,
    shared: &Arc<Shared>,
    links: &mut HashMap<PeripheralId, Link>,
    stop: &watch::Receiver<bool>,
    event: CentralEvent,
) {
    match event {
        CentralEvent::DeviceDiscovered(id) => {
            if links.contains_key(&id) {
                return;
            }
            let Ok(peripheral) = adapter.peripheral(&id).await else {
                return;
            };
            let Ok(Some(properties)) = peripheral.properties().await else {
                return;
            };
            if properties.services.contains(&HEART_RATE_SERVICE) {
                let link = adopt(
                    shared,
                    stop,
                    peripheral,
                    properties.local_name,
                    properties.rssi,
                );
                links.insert(id, link);
            }
        }
        CentralEvent::ServicesAdvertisement { id, services } => {
            if links.contains_key(&id) || !services.contains(&HEART_RATE_SERVICE) {
                return;
            }
            let Ok(peripheral) = adapter.peripheral(&id).await else {
                return;
            };
            let properties = peripheral.properties().await.ok().flatten();
            let (name, rssi) = properties.map_or((None, None), |p| (p.local_name, p.rssi));
            let link = adopt(shared, stop, peripheral, name, rssi);
            links.insert(id, link);
        }
        CentralEvent::RssiUpdate { id, rssi } => {
            if let Some(link) = links.get(&id) {
                let now_ms = shared.now_ms();
                shared.update(&link.strap, |status| {
                    status.rssi = Some(rssi);
                    status.last_seen_ms = now_ms;
                });
            }
        }
        CentralEvent::DeviceDisconnected(id) => {
            if let Some(link) = links.get(&id) {
                link.disconnected.notify_one();
            }
        }
        _ => {}
    }
}

/// Records a newly found strap and starts its task.
fn adopt(
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
    peripheral: Peripheral,
    name: Option<String>,
    rssi: Option<i16>,
) -> Link {
    let id = strap_id(&peripheral);
    let status = StrapStatus::discovered(id.clone(), name, rssi, shared.now_ms());
    {
        let mut straps = shared.lock();
        if let Some(other) = straps.values().find(|other| other.code == status.code) {
            warn!(
                strap = %id, other = %other.id, code = %status.code,
                "two straps share a code; a participant claiming it is ambiguous"
            );
        }
        straps.insert(id.clone(), status.clone());
    }
    info!(strap = %id, code = %status.code, name = ?status.name, "heart-rate strap found");
    shared.send_status(status);
    let disconnected = Arc::new(Notify::new());
    let task = tokio::spawn(run_strap(
        peripheral,
        id.clone(),
        shared.clone(),
        disconnected.clone(),
        stop.clone(),
    ));
    Link {
        strap: id,
        disconnected,
        task,
    }
}

/// How one connection ended.
enum LinkEnd {
    /// It never delivered: connecting, discovering or subscribing failed.
    Failed(String),
    /// It delivered, then the strap went away.
    Lost(String),
}

/// One strap, for as long as the manager runs: connect, read, stream beats; on loss wait with
/// exponential backoff and connect again.
async fn run_strap(
    peripheral: Peripheral,
    id: StrapId,
    shared: Arc<Shared>,
    disconnected: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let mut timeline = BeatTimeline::new();
    let mut backoff = config.reconnect_min;
    // Attempts since the last connection that held; only the first of a series is logged at
    // INFO, so a strap in a drawer (or one that drops right after connecting) is retried for
    // hours without flooding the log.
    let mut troubled_attempts = 0_u32;
    loop {
        let started = Instant::now();
        let end = tokio::select! {
            () = stopped(&mut stop) => break,
            end = connection(&peripheral, &id, &shared, &disconnected, &mut timeline, troubled_attempts > 1) => end,
        };
        match end {
            LinkEnd::Lost(reason) if started.elapsed() >= STABLE_CONNECTION => {
                info!(strap = %id, %reason, "heart-rate strap lost; reconnecting");
                backoff = config.reconnect_min;
                troubled_attempts = 0;
            }
            LinkEnd::Lost(reason) | LinkEnd::Failed(reason) => {
                troubled_attempts += 1;
                if troubled_attempts == 1 {
                    info!(strap = %id, %reason, "heart-rate strap unreachable; retrying with backoff");
                } else {
                    debug!(strap = %id, %reason, attempt = troubled_attempts, "connection attempt failed");
                }
            }
        }
        // Leave no half-open link behind; BlueZ answers quickly when there is none.
        let _ = timeout(GATT_TIMEOUT, peripheral.disconnect()).await;
        shared.update(&id, |status| {
            status.state = StrapState::Reconnecting;
            status.heart_rate_bpm = None;
        });
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(config.reconnect_max);
    }
    if let Ok(Err(error)) = timeout(GATT_TIMEOUT, peripheral.disconnect()).await {
        debug!(strap = %id, %error, "disconnecting at shutdown failed");
    }
}

fn find_characteristic(peripheral: &Peripheral, uuid: Uuid) -> Option<Characteristic> {
    peripheral
        .characteristics()
        .into_iter()
        .find(|characteristic| characteristic.uuid == uuid)
}

/// Reads a characteristic if the strap has it; `None` (logged at DEBUG) when it has not or the
/// read fails: every value read here is optional.
async fn read_optional(peripheral: &Peripheral, id: &StrapId, uuid: Uuid) -> Option<Vec<u8>> {
    let characteristic = find_characteristic(peripheral, uuid)?;
    match timeout(GATT_TIMEOUT, peripheral.read(&characteristic)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            debug!(strap = %id, %uuid, %error, "reading a characteristic failed");
            None
        }
        Err(_) => {
            debug!(strap = %id, %uuid, "reading a characteristic timed out");
            None
        }
    }
}

async fn read_battery(peripheral: &Peripheral, id: &StrapId) -> Option<u8> {
    let value = read_optional(peripheral, id, BATTERY_LEVEL).await?;
    parse_battery_level(&value)
        .inspect_err(|error| debug!(strap = %id, %error, "battery level ignored"))
        .ok()
}

/// One connection: set up, then stream until the strap goes away. `quiet` logs the connection at
/// DEBUG instead of INFO.
async fn connection(
    peripheral: &Peripheral,
    id: &StrapId,
    shared: &Shared,
    disconnected: &Notify,
    timeline: &mut BeatTimeline,
    quiet: bool,
) -> LinkEnd {
    let config = &shared.config;
    match timeout(config.connect_timeout, peripheral.connect()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return LinkEnd::Failed(format!("connect: {}", describe(&error))),
        Err(_) => {
            return LinkEnd::Failed(format!(
                "connect: timed out after {:?}",
                config.connect_timeout
            ));
        }
    }
    match timeout(config.connect_timeout, peripheral.discover_services()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return LinkEnd::Failed(format!("service discovery: {}", describe(&error)));
        }
        Err(_) => return LinkEnd::Failed("service discovery: timed out".to_owned()),
    }
    let Some(measurement_characteristic) = find_characteristic(peripheral, HEART_RATE_MEASUREMENT)
    else {
        return LinkEnd::Failed(
            "the strap has no Heart Rate Measurement characteristic (0x2A37)".to_owned(),
        );
    };

    // The advertised name may have been unknown at discovery (it can arrive in a later
    // advertisement); BlueZ knows it by now.
    let name = match peripheral.properties().await {
        Ok(Some(properties)) => properties.local_name,
        _ => None,
    };
    let body_location = read_optional(peripheral, id, BODY_SENSOR_LOCATION)
        .await
        .and_then(|value| parse_body_location(&value).ok());
    let model = read_optional(peripheral, id, MODEL_NUMBER)
        .await
        .and_then(|value| parse_utf8_string(&value));
    let manufacturer = read_optional(peripheral, id, MANUFACTURER_NAME)
        .await
        .and_then(|value| parse_utf8_string(&value));
    let battery_pct = read_battery(peripheral, id).await;
    let has_battery = find_characteristic(peripheral, BATTERY_LEVEL).is_some();

    // The stream first, then the subscription, so the first notification is not missed.
    let mut notifications = match peripheral.notifications().await {
        Ok(notifications) => notifications,
        Err(error) => return LinkEnd::Failed(format!("notifications: {}", describe(&error))),
    };
    if let Err(error) = peripheral.subscribe(&measurement_characteristic).await {
        return LinkEnd::Failed(format!("subscribe to 0x2A37: {}", describe(&error)));
    }

    let now_ms = shared.now_ms();
    shared.update(id, |status| {
        status.state = StrapState::Connected;
        status.name = name.or(status.name.take());
        status.body_location = body_location.or(status.body_location);
        status.model = model.or(status.model.take());
        status.manufacturer = manufacturer.or(status.manufacturer.take());
        if let Some(battery_pct) = battery_pct {
            status.set_battery(battery_pct);
        }
        status.smoothed_rr_warning = quirks::classify(
            status.name.as_deref(),
            status.model.as_deref(),
            status.manufacturer.as_deref(),
            status.body_location,
        )
        .smoothed_rr_warning();
        status.last_seen_ms = now_ms;
    });
    // A strap that keeps dropping right after connecting is reported once, not per connection.
    if quiet {
        debug!(strap = %id, battery_pct = ?battery_pct, "heart-rate strap connected");
    } else {
        info!(strap = %id, battery_pct = ?battery_pct, "heart-rate strap connected");
    }

    let mut battery_poll =
        tokio::time::interval_at(Instant::now() + config.battery_poll, config.battery_poll);
    let mut silence_check = tokio::time::interval_at(Instant::now() + SILENCE_CHECK, SILENCE_CHECK);
    let mut last_heard = Instant::now();
    let mut malformed = 0_u64;
    loop {
        tokio::select! {
            // Notifications first: a value BlueZ sent before reporting the disconnection is
            // already in this stream, and must become beats before the link is given up.
            biased;
            notification = notifications.next() => {
                let Some(notification) = notification else {
                    return LinkEnd::Lost("the notification stream ended".to_owned());
                };
                if notification.uuid != HEART_RATE_MEASUREMENT {
                    continue;
                }
                last_heard = Instant::now();
                match Measurement::parse(&notification.value) {
                    Ok(measurement) => {
                        on_measurement(shared, id, timeline, &measurement).await;
                    }
                    Err(error) => {
                        malformed += 1;
                        // The first one per connection is worth a line; a strap that sends
                        // nothing but garbage must not flood the log.
                        if malformed == 1 {
                            warn!(strap = %id, %error, "malformed heart rate measurement ignored");
                        } else {
                            debug!(strap = %id, %error, malformed, "malformed heart rate measurement ignored");
                        }
                    }
                }
            }
            () = disconnected.notified() => {
                if !matches!(peripheral.is_connected().await, Ok(true)) {
                    return LinkEnd::Lost("BlueZ reported a disconnection".to_owned());
                }
            }
            _ = silence_check.tick() => {
                if last_heard.elapsed() >= SILENCE_RECONNECT {
                    return LinkEnd::Lost(format!(
                        "no notification for {:?} although BlueZ reports the strap connected",
                        last_heard.elapsed()
                    ));
                }
                if last_heard.elapsed() >= SILENCE_CHECK
                    && !matches!(peripheral.is_connected().await, Ok(true))
                {
                    return LinkEnd::Lost(format!("silent for {:?} and no longer connected", last_heard.elapsed()));
                }
            }
            _ = battery_poll.tick(), if has_battery => {
                if let Some(battery_pct) = read_battery(peripheral, id).await {
                    shared.update(id, |status| status.set_battery(battery_pct));
                }
            }
        }
    }
}

/// Applies one measurement: the status, then (with contact) the beats.
async fn on_measurement(
    shared: &Shared,
    id: &StrapId,
    timeline: &mut BeatTimeline,
    measurement: &Measurement,
) {
    let now_ms = shared.now_ms();
    let in_contact = measurement.contact != Contact::NoContact;
    shared.update(id, |status| {
        status.state = if in_contact {
            StrapState::Connected
        } else {
            StrapState::NoContact
        };
        status.heart_rate_bpm =
            (in_contact && measurement.heart_rate_bpm > 0).then_some(measurement.heart_rate_bpm);
        status.last_seen_ms = now_ms;
    });
    // Without skin contact a strap reports noise, if anything; those are not beats. The gap they
    // leave re-anchors the timeline when contact returns.
    if !in_contact {
        return;
    }
    if let Some(batch) = timeline.push(&measurement.rr_ms(), now_ms) {
        // Waits for room rather than dropping beats; a listener that has gone away is fine.
        let _ = shared
            .events
            .send(StrapEvent::Beats {
                strap: id.clone(),
                batch,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serialises_with_camel_case_fields() {
        let mut status = StrapStatus::discovered(
            StrapId::new("A0:9E:1A:12:34:56"),
            Some("Polar OH1 1A2B3C4D".to_owned()),
            Some(-60),
            1_700_000_000_000,
        );
        status.set_battery(15);
        status.body_location = Some(BodyLocation::Chest);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["id"], "A0:9E:1A:12:34:56");
        assert_eq!(json["code"], strap_code("A0:9E:1A:12:34:56"));
        assert_eq!(json["name"], "Polar OH1 1A2B3C4D");
        assert_eq!(json["model"], serde_json::Value::Null);
        assert_eq!(json["state"], "discovered");
        assert_eq!(json["rssi"], -60);
        assert_eq!(json["batteryPct"], 15);
        assert_eq!(json["batteryLow"], true);
        assert_eq!(json["heartRateBpm"], serde_json::Value::Null);
        assert_eq!(json["bodyLocation"], "chest");
        assert!(
            json["smoothedRrWarning"]
                .as_str()
                .unwrap()
                .starts_with("Polar OH1 is an optical")
        );
        assert_eq!(json["lastSeenMs"], 1_700_000_000_000_i64);
        assert_eq!(json.as_object().unwrap().len(), 13);
    }

    #[test]
    fn battery_is_low_at_fifteen_percent_and_below() {
        let mut status = StrapStatus::discovered(StrapId::new("x"), None, None, 0);
        status.set_battery(16);
        assert!(!status.battery_low);
        status.set_battery(15);
        assert!(status.battery_low);
        status.set_battery(0);
        assert!(status.battery_low);
    }

    #[test]
    fn states_serialise_in_snake_case() {
        let states = [
            (StrapState::Discovered, "discovered"),
            (StrapState::Connected, "connected"),
            (StrapState::NoContact, "no_contact"),
            (StrapState::Reconnecting, "reconnecting"),
        ];
        for (state, json) in states {
            assert_eq!(serde_json::to_value(state).unwrap(), json);
        }
    }

    fn shared_with(strap: &StrapId) -> (Shared, mpsc::Receiver<StrapEvent>) {
        fn fixed_clock() -> i64 {
            50_000
        }
        let (events, receiver) = mpsc::channel(16);
        let shared = Shared {
            straps: Mutex::new(BTreeMap::new()),
            events,
            config: ManagerConfig {
                now_ms: fixed_clock,
                ..ManagerConfig::default()
            },
        };
        let mut status = StrapStatus::discovered(strap.clone(), None, None, 0);
        status.state = StrapState::Connected;
        shared.lock().insert(strap.clone(), status);
        (shared, receiver)
    }

    #[tokio::test]
    async fn beats_without_skin_contact_are_not_forwarded() {
        let strap = StrapId::new("A0:9E:1A:12:34:56");
        let (shared, mut events) = shared_with(&strap);
        let mut timeline = BeatTimeline::new();

        // Flags 0x14: no contact (status 2), RR present; HR 0, RR 0x0400.
        let off_skin = Measurement::parse(&[0x14, 0x00, 0x00, 0x04]).unwrap();
        on_measurement(&shared, &strap, &mut timeline, &off_skin).await;
        let Ok(StrapEvent::Status(status)) = events.try_recv() else {
            panic!("a status event for the change to no_contact");
        };
        assert_eq!(status.state, StrapState::NoContact);
        assert_eq!(status.heart_rate_bpm, None);
        assert!(events.try_recv().is_err(), "no beats without contact");

        // Flags 0x16: contact, HR 0x3c = 60, RR 0x0400 = 1000 ms.
        let on_skin = Measurement::parse(&[0x16, 0x3c, 0x00, 0x04]).unwrap();
        on_measurement(&shared, &strap, &mut timeline, &on_skin).await;
        let Ok(StrapEvent::Status(status)) = events.try_recv() else {
            panic!("a status event for the change back to connected");
        };
        assert_eq!(status.state, StrapState::Connected);
        assert_eq!(status.heart_rate_bpm, Some(60));
        assert_eq!(status.last_seen_ms, 50_000);
        assert_eq!(
            events.try_recv().ok(),
            Some(StrapEvent::Beats {
                strap: strap.clone(),
                batch: BeatBatch {
                    rr_ms: vec![1000.0],
                    ended_at_ms: 50_000
                }
            })
        );

        // Another measurement in contact changes only live fields: beats, no status event.
        on_measurement(&shared, &strap, &mut timeline, &on_skin).await;
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Beats { .. })));
        assert!(events.try_recv().is_err());
    }

    #[tokio::test]
    async fn contact_not_supported_is_treated_as_contact() {
        let strap = StrapId::new("x");
        let (shared, mut events) = shared_with(&strap);
        // Flags 0x10: contact status 0 (not supported), RR present; HR 0x3c, RR 0x0400.
        let measurement = Measurement::parse(&[0x10, 0x3c, 0x00, 0x04]).unwrap();
        on_measurement(&shared, &strap, &mut BeatTimeline::new(), &measurement).await;
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Beats { .. })));
        assert_eq!(shared.lock()[&strap].heart_rate_bpm, Some(60));
    }

    #[test]
    fn only_settled_changes_count_as_status_changes() {
        let status = StrapStatus::discovered(StrapId::new("x"), None, None, 0);
        let mut live = status.clone();
        live.heart_rate_bpm = Some(60);
        live.rssi = Some(-40);
        live.last_seen_ms = 5;
        assert_eq!(live.settled(), status.settled());
        live.state = StrapState::NoContact;
        assert_ne!(live.settled(), status.settled());
    }
}
