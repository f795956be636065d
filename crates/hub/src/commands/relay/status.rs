//! What the relay prints about itself: whether it is connected to the hub, its straps and its
//! queue, every `--status-secs` (the hub's console shows the same from `relay_straps`).

use std::sync::Mutex;

use synchub_ble::{StrapState, StrapStatus};
use synchub_protocol::relay::RelayQueueState;

/// Whether the link is up, for the status line.
#[derive(Debug, Default)]
pub struct LinkStatus {
    hub: Mutex<Option<(String, String)>>,
}

impl LinkStatus {
    pub fn connected(&self, hub_url: &str, name: &str) {
        *self.lock() = Some((hub_url.to_owned(), name.to_owned()));
    }

    pub fn disconnected(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, String)>> {
        self.hub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One line: link, straps, queue.
    pub fn line(&self, straps: &[StrapStatus], queue: &RelayQueueState) -> String {
        let link = match &*self.lock() {
            Some((hub, name)) => format!("relay {name}: connected to {hub}"),
            None => {
                "relay: not connected to the hub (retrying); beats wait in the queue".to_owned()
            }
        };
        let connected = straps
            .iter()
            .filter(|strap| matches!(strap.state, StrapState::Connected | StrapState::NoContact))
            .count();
        let waiting = straps
            .iter()
            .filter(|strap| strap.state == StrapState::NoFreeConnection)
            .count();
        let mut line = format!(
            "{link}; straps: {connected} connected of {} seen",
            straps.len()
        );
        if waiting > 0 {
            line.push_str(&format!(
                ", {waiting} with no free connection (add an adapter or another relay)"
            ));
        }
        line.push_str(&format!("; queue: {} batches", queue.batches));
        if let Some(age) = queue.oldest_age_ms {
            line.push_str(&format!(", oldest {} s", age / 1000));
        }
        if let Some(warning) = &queue.warning {
            line.push_str(&format!("; WARNING: {warning}"));
        }
        line
    }
}
