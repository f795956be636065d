//! Adapters coming and going while the reader runs: a new adapter is listened to, scanned on
//! and given the configured budget; one that went away (a dongle unplugged) loses its links,
//! and its straps are placed again at the next placement tick.
//!
//! bluez-async reports no adapter removal, so [`Supervisor::poll_adapters`] lists the adapters
//! every [`ReaderConfig::adapter_poll`](crate::ReaderConfig::adapter_poll) and compares.

use super::{AdapterEntry, Supervisor, hearings, strap_rssi};
use crate::reader::adapters::{FoundAdapter, list_adapters, watch};
use crate::reader::status::{AdapterId, StrapState};
use btleplug::api::Peripheral as _;
use std::collections::BTreeSet;
use tracing::{debug, info, warn};

impl Supervisor {
    /// Starts using an adapter: listen to it and scan on it. `Err` with why when it cannot be
    /// used (it is retried at the next listing).
    pub(in crate::reader) async fn add_adapter(
        &mut self,
        found: FoundAdapter,
    ) -> Result<(), String> {
        let watcher = match watch(&found, self.shared.config.scan, self.central_sender.clone())
            .await
        {
            Ok(watcher) => watcher,
            Err(reason) => {
                if self
                    .unusable
                    .insert(found.id.clone(), reason.clone())
                    .is_none()
                {
                    warn!(adapter = %found.id, %reason, "cannot use this Bluetooth adapter; trying again while the reader runs");
                }
                return Err(reason);
            }
        };
        self.unusable.remove(&found.id);
        info!(adapter = %found.id, address = ?found.address, "reading heart-rate straps through this Bluetooth adapter");
        self.adapters.insert(
            found.id,
            AdapterEntry {
                adapter: found.adapter,
                address: found.address,
                link_budget: self.shared.config.links_per_adapter,
                controller_refusal: None,
                watcher,
            },
        );
        self.publish_adapters();
        Ok(())
    }

    /// Lists the adapters again: uses new ones, and moves the straps of vanished ones.
    pub(super) async fn poll_adapters(&mut self) {
        let found = match list_adapters(&self.manager).await {
            Ok(found) => found,
            Err(error) => {
                debug!(%error, "listing the Bluetooth adapters failed; trying again later");
                return;
            }
        };
        let present: BTreeSet<&AdapterId> = found.iter().map(|adapter| &adapter.id).collect();
        let gone: Vec<AdapterId> = self
            .adapters
            .keys()
            .filter(|id| !present.contains(id))
            .cloned()
            .collect();
        for id in gone {
            self.remove_adapter(&id);
        }
        for adapter in found {
            if !self.adapters.contains_key(&adapter.id) {
                // Logged inside; an adapter that cannot be used is tried again next time.
                let _ = self.add_adapter(adapter).await;
            }
        }
    }

    /// An adapter went away (a dongle unplugged): its straps lose their links and are placed
    /// again at the next placement tick, on adapters that hear them and have room.
    fn remove_adapter(&mut self, id: &AdapterId) {
        let Some(adapter) = self.adapters.remove(id) else {
            return;
        };
        adapter.watcher.abort();
        let mut moved = 0_usize;
        for (strap, entry) in &mut self.straps {
            if let Some(heard) = entry.heard.remove(id) {
                self.peripherals.remove(&heard.peripheral.id());
            }
            let lost_link = entry.link.as_ref().is_some_and(|link| &link.adapter == id);
            if lost_link && let Some(link) = entry.link.take() {
                // The task disconnects (BlueZ answers at once: the device is gone) and ends.
                link.stop.send_replace(true);
                moved += 1;
            }
            let (heard_by, rssi) = (hearings(entry), strap_rssi(entry));
            self.shared.update(strap, |status| {
                status.heard_by = heard_by;
                status.rssi = rssi;
                if lost_link {
                    status.state = StrapState::Reconnecting;
                    status.adapter = None;
                    status.heart_rate_bpm = None;
                }
            });
        }
        warn!(adapter = %id, straps = moved, "Bluetooth adapter gone; its straps are placed again on adapters with free connections");
        self.publish_adapters();
    }
}
