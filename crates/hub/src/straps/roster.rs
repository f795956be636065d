//! Every Bluetooth adapter the strap reader has used while the hub runs. The reader lists only
//! the adapters there now; the console also lists one that went away (a dongle unplugged) as
//! not present, so the facilitator sees why its straps moved or wait, and sees it come back.

use std::collections::BTreeMap;

use synchub_ble::{AdapterId, AdapterStatus};
use synchub_protocol::rest::BluetoothAdapter;

use crate::convert;

/// The last status of every adapter seen, by id.
#[derive(Debug, Default)]
pub(super) struct AdapterRoster {
    last_seen: BTreeMap<AdapterId, AdapterStatus>,
}

impl AdapterRoster {
    /// Notes the adapters in use now (an adapter list from the reader's events or snapshot).
    pub(super) fn note(&mut self, adapters: &[AdapterStatus]) {
        for adapter in adapters {
            self.last_seen.insert(adapter.id.clone(), adapter.clone());
        }
    }

    /// The adapters for `GET /api/straps`, by id: those in `current` (the reader's adapters now)
    /// as present, every other one seen before as gone.
    pub(super) fn list(&mut self, current: &[AdapterStatus]) -> Vec<BluetoothAdapter> {
        self.note(current);
        self.last_seen
            .values()
            .map(|adapter| {
                let present = current.iter().any(|now| now.id == adapter.id);
                convert::bluetooth_adapter(adapter, present)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synchub_ble::StrapId;

    fn adapter(id: &str, straps: &[&str], link_budget: usize) -> AdapterStatus {
        AdapterStatus {
            id: AdapterId::new(id),
            address: Some(format!("00:1A:7D:DA:71:{}", &id[3..])),
            link_budget,
            controller_refusal: None,
            links_in_use: straps.len(),
            free_links: link_budget - straps.len(),
            straps: straps.iter().map(|strap| StrapId::new(*strap)).collect(),
        }
    }

    #[test]
    fn an_adapter_that_went_away_stays_listed_as_not_present_until_it_returns() {
        let mut roster = AdapterRoster::default();
        let hci0 = adapter("hci0", &["A", "B"], 7);
        let hci1 = adapter("hci1", &["C"], 7);
        let both = roster.list(&[hci0.clone(), hci1.clone()]);
        assert_eq!(both.len(), 2);
        assert!(both.iter().all(|adapter| adapter.present));
        assert_eq!(both[0].id, "hci0");
        assert_eq!(both[0].connections_in_use, 2);
        assert_eq!(both[0].free_connections, 5);
        assert_eq!(both[0].straps, ["A", "B"]);
        assert_eq!(both[1].address.as_deref(), Some("00:1A:7D:DA:71:1"));

        let hci0_with_c = adapter("hci0", &["A", "B", "C"], 7);
        let one_left = roster.list(std::slice::from_ref(&hci0_with_c));
        assert_eq!(one_left.len(), 2);
        assert!(one_left[0].present);
        assert_eq!(one_left[0].connections_in_use, 3);
        assert_eq!(one_left[1].id, "hci1");
        assert!(!one_left[1].present);
        assert_eq!(one_left[1].connection_budget, 7);
        assert_eq!(one_left[1].connections_in_use, 0);
        assert_eq!(one_left[1].free_connections, 0);
        assert!(one_left[1].straps.is_empty());

        let back = roster.list(&[hci0_with_c, adapter("hci1", &[], 7)]);
        assert!(back.iter().all(|adapter| adapter.present));
        assert_eq!(back[1].free_connections, 7);
    }

    #[test]
    fn an_adapter_seen_only_in_an_event_is_listed_too() {
        let mut roster = AdapterRoster::default();
        roster.note(&[adapter("hci2", &[], 5)]);
        let listed = roster.list(&[]);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, "hci2");
        assert!(!listed[0].present);
    }
}
