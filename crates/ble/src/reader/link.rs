//! One strap's connection through one adapter, for as long as the supervisor keeps it there:
//! connect, read what the strap tells about itself, stream its beats, and reconnect with
//! backoff when it drops.
//!
//! A strap that drops is reconnected with exponential backoff (1 s doubling to 30 s): straps
//! advertise only while they touch skin, and BlueZ drops Polar H10/H9 connections after about
//! 150 s on some Linux kernels, so losing a strap is routine. The one failure the task does not
//! retry is the controller refusing another connection: it reports that to the supervisor,
//! which lowers the adapter's budget and places the strap on another adapter.

use super::adapters::describe;
use super::state::Shared;
use super::status::{AdapterId, StrapId, StrapState};
use crate::beats::BeatTimeline;
use crate::measurement::{
    Contact, Measurement, parse_battery_level, parse_body_location, parse_utf8_string,
};
use crate::quirks;
use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{Characteristic, Peripheral as _};
use btleplug::platform::Peripheral;
use futures_util::StreamExt as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, timeout};
use tracing::{debug, info, warn};
use uuid::Uuid;

const HEART_RATE_MEASUREMENT: Uuid = uuid_from_u16(0x2A37);
const BODY_SENSOR_LOCATION: Uuid = uuid_from_u16(0x2A38);
const BATTERY_LEVEL: Uuid = uuid_from_u16(0x2A19);
const MODEL_NUMBER: Uuid = uuid_from_u16(0x2A24);
const MANUFACTURER_NAME: Uuid = uuid_from_u16(0x2A29);

/// How long a connected strap may stay silent before the task asks BlueZ whether it is still
/// connected (straps notify about once a second).
const SILENCE_CHECK: Duration = Duration::from_secs(5);
/// How long a strap that BlueZ still calls connected may stay silent before the task drops the
/// link and connects again: a subscription that stopped delivering is worth nothing.
const SILENCE_RECONNECT: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the reconnection backoff; a shorter one counts as a
/// failed attempt.
const STABLE_CONNECTION: Duration = Duration::from_secs(30);
/// Upper bound on any single read, and on disconnecting at shutdown.
pub(super) const GATT_TIMEOUT: Duration = Duration::from_secs(10);

/// A strap's beat timeline: one for its whole life with the reader, whichever adapter it is
/// connected through, so its beat times stay on one chain across a move.
pub(super) type SharedTimeline = Arc<Mutex<BeatTimeline>>;

pub(super) fn new_timeline() -> SharedTimeline {
    Arc::new(Mutex::new(BeatTimeline::new()))
}

/// What a link task tells the supervisor when it ends on its own.
#[derive(Debug)]
pub(super) enum LinkReport {
    /// The adapter's controller refused the connection because it holds all it can; the task
    /// has ended and the strap needs another adapter.
    ControllerFull {
        strap: StrapId,
        generation: u64,
        reason: String,
    },
}

/// Everything one link task needs.
pub(super) struct LinkTask {
    pub(super) peripheral: Peripheral,
    pub(super) strap: StrapId,
    pub(super) adapter: AdapterId,
    /// Tells reports of this link apart from those of an earlier link of the same strap.
    pub(super) generation: u64,
    pub(super) shared: Arc<Shared>,
    pub(super) disconnected: Arc<Notify>,
    /// Set (or dropped) by the supervisor to end the task: shutdown, or the adapter went away.
    pub(super) stop: watch::Receiver<bool>,
    pub(super) reports: mpsc::UnboundedSender<LinkReport>,
    pub(super) timeline: SharedTimeline,
}

/// How one connection ended.
enum LinkEnd {
    /// It never delivered: connecting, discovering or subscribing failed.
    Failed(String),
    /// It delivered, then the strap went away.
    Lost(String),
    /// The controller refused to open another connection.
    ControllerFull(String),
}

/// Returns when the task is told to stop, or its supervisor dropped the sender.
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Whether a failed connect means the controller holds all the connections it can.
///
/// BlueZ answers `org.bluez.Error.Failed` with the kernel's errno turned into words: HCI status
/// 0x09 "Connection Limit Exceeded" becomes `EMLINK`, and 0x07 "Memory Capacity Exceeded" (what
/// some controllers answer instead) `ENOMEM`. BlueZ 5.65 and later name them
/// `le-connection-concurrent-connection-limit` and `le-connection-memory-allocation`; older
/// versions send `strerror`'s "Too many links" and "Cannot allocate memory".
/// `le-connection-abort-by-local` is not taken as "full": BlueZ also says it when a strap
/// stopped advertising or the attempt timed out.
pub(super) fn is_controller_full(connect_error: &str) -> bool {
    [
        "le-connection-concurrent-connection-limit",
        "le-connection-memory-allocation",
        "Too many links",
        "Cannot allocate memory",
    ]
    .iter()
    .any(|words| connect_error.contains(words))
}

impl LinkTask {
    /// Connect, read, stream beats; on loss wait with exponential backoff and connect again,
    /// until stopped or the controller is full.
    pub(super) async fn run(self) {
        let config = &self.shared.config;
        // Its own copy, borrowed mutably while `connection` borrows the task.
        let mut stop = self.stop.clone();
        let mut backoff = config.reconnect_min;
        // Attempts since the last connection that held; only the first of a series is logged
        // at INFO, so a strap in a drawer (or one that drops right after connecting) is retried
        // for hours without flooding the log.
        let mut troubled_attempts = 0_u32;
        loop {
            let started = Instant::now();
            let end = tokio::select! {
                () = stopped(&mut stop) => break,
                end = self.connection(troubled_attempts > 1) => end,
            };
            // Leave no half-open link behind; BlueZ answers quickly when there is none.
            let _ = timeout(GATT_TIMEOUT, self.peripheral.disconnect()).await;
            match end {
                LinkEnd::ControllerFull(reason) => {
                    // The supervisor logs it, once per adapter.
                    debug!(strap = %self.strap, adapter = %self.adapter, %reason, "the Bluetooth controller holds no more connections");
                    let _ = self.reports.send(LinkReport::ControllerFull {
                        strap: self.strap.clone(),
                        generation: self.generation,
                        reason,
                    });
                    return;
                }
                LinkEnd::Lost(reason) if started.elapsed() >= STABLE_CONNECTION => {
                    info!(strap = %self.strap, adapter = %self.adapter, %reason, "heart-rate strap lost; reconnecting");
                    backoff = config.reconnect_min;
                    troubled_attempts = 0;
                }
                LinkEnd::Lost(reason) | LinkEnd::Failed(reason) => {
                    troubled_attempts += 1;
                    if troubled_attempts == 1 {
                        info!(strap = %self.strap, adapter = %self.adapter, %reason, "heart-rate strap unreachable; retrying with backoff");
                    } else {
                        debug!(strap = %self.strap, %reason, attempt = troubled_attempts, "connection attempt failed");
                    }
                }
            }
            // A link the supervisor has ended must not write over its successor's status.
            if *stop.borrow() {
                break;
            }
            self.shared.update(&self.strap, |status| {
                status.state = StrapState::Reconnecting;
                status.heart_rate_bpm = None;
            });
            tokio::select! {
                () = stopped(&mut stop) => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(config.reconnect_max);
        }
        if let Ok(Err(error)) = timeout(GATT_TIMEOUT, self.peripheral.disconnect()).await {
            debug!(strap = %self.strap, %error, "disconnecting at the end of the link failed");
        }
    }

    /// One connection: set up, then stream until the strap goes away. `quiet` logs the
    /// connection at DEBUG instead of INFO.
    async fn connection(&self, quiet: bool) -> LinkEnd {
        let (peripheral, id, shared) = (&self.peripheral, &self.strap, &*self.shared);
        let config = &shared.config;
        match timeout(config.connect_timeout, peripheral.connect()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                let reason = format!("connect: {}", describe(&error));
                return if is_controller_full(&reason) {
                    LinkEnd::ControllerFull(reason)
                } else {
                    LinkEnd::Failed(reason)
                };
            }
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
        let Some(measurement_characteristic) =
            find_characteristic(peripheral, HEART_RATE_MEASUREMENT)
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
        // A strap that keeps dropping right after connecting is reported once, not per
        // connection.
        if quiet {
            debug!(strap = %id, adapter = %self.adapter, battery_pct = ?battery_pct, "heart-rate strap connected");
        } else {
            info!(strap = %id, adapter = %self.adapter, battery_pct = ?battery_pct, "heart-rate strap connected");
        }

        let mut battery_poll =
            tokio::time::interval_at(Instant::now() + config.battery_poll, config.battery_poll);
        let mut silence_check =
            tokio::time::interval_at(Instant::now() + SILENCE_CHECK, SILENCE_CHECK);
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
                            on_measurement(shared, id, &self.timeline, &measurement).await;
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
                () = self.disconnected.notified() => {
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

/// Applies one measurement: the status, then (with contact) the beats.
async fn on_measurement(
    shared: &Shared,
    id: &StrapId,
    timeline: &Mutex<BeatTimeline>,
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
    let batch = timeline
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(&measurement.rr_ms(), now_ms);
    if let Some(batch) = batch {
        // Waits for room rather than dropping beats; a listener that has gone away is fine.
        let _ = shared
            .events
            .send(super::StrapEvent::Beats {
                strap: id.clone(),
                batch,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beats::BeatBatch;
    use crate::reader::status::StrapStatus;
    use crate::reader::{ReaderConfig, StrapEvent};

    fn shared_with(strap: &StrapId) -> (Shared, mpsc::Receiver<StrapEvent>) {
        fn fixed_clock() -> i64 {
            50_000
        }
        let (events, receiver) = mpsc::channel(16);
        let shared = Shared::new(
            ReaderConfig {
                now_ms: fixed_clock,
                ..ReaderConfig::default()
            },
            events,
        );
        let mut status = StrapStatus::discovered(strap.clone(), None, None, 0);
        status.state = StrapState::Connected;
        shared.insert(status);
        (shared, receiver)
    }

    #[tokio::test]
    async fn beats_without_skin_contact_are_not_forwarded() {
        let strap = StrapId::new("A0:9E:1A:12:34:56");
        let (shared, mut events) = shared_with(&strap);
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Status(_))));
        let timeline = Mutex::new(BeatTimeline::new());

        // Flags 0x14: no contact (status 2), RR present; HR 0, RR 0x0400.
        let off_skin = Measurement::parse(&[0x14, 0x00, 0x00, 0x04]).unwrap();
        on_measurement(&shared, &strap, &timeline, &off_skin).await;
        let Ok(StrapEvent::Status(status)) = events.try_recv() else {
            panic!("a status event for the change to no_contact");
        };
        assert_eq!(status.state, StrapState::NoContact);
        assert_eq!(status.heart_rate_bpm, None);
        assert!(events.try_recv().is_err(), "no beats without contact");

        // Flags 0x16: contact, HR 0x3c = 60, RR 0x0400 = 1000 ms.
        let on_skin = Measurement::parse(&[0x16, 0x3c, 0x00, 0x04]).unwrap();
        on_measurement(&shared, &strap, &timeline, &on_skin).await;
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
        on_measurement(&shared, &strap, &timeline, &on_skin).await;
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Beats { .. })));
        assert!(events.try_recv().is_err());
    }

    #[tokio::test]
    async fn contact_not_supported_is_treated_as_contact() {
        let strap = StrapId::new("x");
        let (shared, mut events) = shared_with(&strap);
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Status(_))));
        // Flags 0x10: contact status 0 (not supported), RR present; HR 0x3c, RR 0x0400.
        let measurement = Measurement::parse(&[0x10, 0x3c, 0x00, 0x04]).unwrap();
        on_measurement(
            &shared,
            &strap,
            &Mutex::new(BeatTimeline::new()),
            &measurement,
        )
        .await;
        assert!(matches!(events.try_recv(), Ok(StrapEvent::Beats { .. })));
        assert_eq!(shared.status(&strap).unwrap().heart_rate_bpm, Some(60));
    }

    #[test]
    fn a_controller_out_of_connections_is_told_apart_from_an_unreachable_strap() {
        // What btleplug hands back for BlueZ's refusal (seen against the emulated BlueZ).
        let full = [
            "connect: DbusError(D-Bus error: le-connection-concurrent-connection-limit (org.bluez.Error.Failed))",
            "connect: DbusError(D-Bus error: le-connection-memory-allocation (org.bluez.Error.Failed))",
            "connect: DbusError(D-Bus error: Too many links (org.bluez.Error.Failed))",
        ];
        for reason in full {
            assert!(is_controller_full(reason), "{reason}");
        }
        let not_full = [
            "connect: DbusError(D-Bus error: le-connection-abort-by-local (org.bluez.Error.Failed))",
            "connect: DbusError(D-Bus error: Does Not Exist (org.bluez.Error.DoesNotExist))",
            "connect: timed out after 20s",
        ];
        for reason in not_full {
            assert!(!is_controller_full(reason), "{reason}");
        }
    }
}
