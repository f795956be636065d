//! Finding the computer's Bluetooth adapters and listening to each: the btleplug calls that
//! list adapters, name them, start scanning on one and forward its events to the supervisor.
//!
//! A laptop often has a built-in controller plus USB dongles, and each holds only a handful of
//! connections, so the reader uses all of them. BlueZ announces no adapter coming or going
//! through btleplug (bluez-async matches no `InterfacesRemoved`), so the supervisor lists the
//! adapters again every [`ReaderConfig::adapter_poll`](super::ReaderConfig::adapter_poll) and
//! compares.

use super::BleError;
use super::status::{AdapterId, StrapId};
use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{
    BDAddr, Central as _, CentralEvent, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The Heart Rate Service, which every strap advertises and the scan filters on.
pub const HEART_RATE_SERVICE: Uuid = uuid_from_u16(0x180D);

/// One adapter as the platform lists it.
#[derive(Debug, Clone)]
pub(super) struct FoundAdapter {
    pub(super) id: AdapterId,
    pub(super) address: Option<String>,
    pub(super) adapter: Adapter,
}

/// Reaches the platform's Bluetooth service (BlueZ over the D-Bus system bus on Linux).
pub(super) async fn bluetooth_service() -> Result<Manager, BleError> {
    Manager::new()
        .await
        .map_err(|error| unavailable("could not reach the Bluetooth service", &error))
}

/// Every adapter the platform lists now, named.
pub(super) async fn list_adapters(manager: &Manager) -> Result<Vec<FoundAdapter>, btleplug::Error> {
    let mut found = Vec::new();
    for adapter in manager.adapters().await? {
        // "hci0 (usb:v1D6Bp0246d0542)" on Linux: the name before the modalias. An adapter that
        // cannot say who it is right now (it is going away) is left for the next listing.
        let Ok(info) = adapter.adapter_info().await else {
            continue;
        };
        let id = AdapterId::new(info.split(" (").next().unwrap_or(&info));
        let address = adapter
            .adapter_address()
            .await
            .ok()
            .flatten()
            .map(|address| address.to_string());
        found.push(FoundAdapter {
            id,
            address,
            adapter,
        });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Starts listening to an adapter (and scanning on it with `scan`); its events go to `sender`
/// tagged with its id until the returned task is aborted.
pub(super) async fn watch(
    found: &FoundAdapter,
    scan: bool,
    sender: mpsc::Sender<(AdapterId, CentralEvent)>,
) -> Result<JoinHandle<()>, String> {
    let mut events = found
        .adapter
        .events()
        .await
        .map_err(|error| format!("could not listen to it: {}", describe(&error)))?;
    if scan {
        found
            .adapter
            .start_scan(heart_rate_filter())
            .await
            .map_err(|error| format!("could not start scanning: {}", describe(&error)))?;
    }
    let id = found.id.clone();
    Ok(tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if sender.send((id.clone(), event)).await.is_err() {
                break;
            }
        }
    }))
}

pub(super) fn heart_rate_filter() -> ScanFilter {
    ScanFilter {
        services: vec![HEART_RATE_SERVICE],
    }
}

pub(super) fn unavailable(context: &str, error: &btleplug::Error) -> BleError {
    BleError::Unavailable {
        reason: format!("{context}: {}", describe(error)),
    }
}

/// btleplug's error text. Its `Other` variant displays only the D-Bus message; its debug form
/// also names the D-Bus error (`org.freedesktop.DBus.Error.FileNotFound`), which is what a
/// person needs to search for.
pub(super) fn describe(error: &btleplug::Error) -> String {
    match error {
        btleplug::Error::Other(inner) => format!("{inner:?}"),
        other => other.to_string(),
    }
}

/// The strap's identity: its address, which is the same whichever adapter hears it.
pub(super) fn strap_id(peripheral: &Peripheral) -> StrapId {
    let address = peripheral.address();
    if address == BDAddr::default() {
        StrapId::new(peripheral.id().to_string())
    } else {
        StrapId::new(address.to_string())
    }
}
