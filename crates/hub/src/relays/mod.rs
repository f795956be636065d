//! Relays (`synchub relay`) as the hub knows them: which relays have a token ([`tokens`]),
//! which are connected now, the straps and queue each reported last, and the way back to each
//! relay's link for acknowledgements. The relay link itself is `server::relay_link`; a relay's
//! straps join the hub's strap room (`crate::straps`) with ids `<strap>@<relay>`.
//!
//! An assigned relay strap is a strap connection in the engine task like a hub-read one; its
//! [`RelayStrapPeer`] turns the engine's `rr_ack` for a batch into `relay_ack` on the relay's
//! current link, so a batch is acknowledged only once it is durable, by the store's own rule.

pub mod tokens;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use synchub_protocol::relay::{HubToRelay, RelayAck, RelayQueueState, RelayStrap};
use synchub_protocol::rest::{RelayInfo, RelayList};
use synchub_protocol::{HubEvent, RrAck};
use tokio::sync::mpsc;

pub use tokens::{RelayTokens, TokenError};

use crate::encoded::Encoded;
use crate::peer::{Peer, SendFailure};

/// Capacity of the queue of frames to one relay (acks mostly: a backlog of a minute of 18
/// straps is about a thousand).
pub const RELAY_OUTBOX_CAPACITY: usize = 8192;

/// A relay's live state.
#[derive(Debug, Default)]
struct LiveRelay {
    /// The link now serving it, by a number unique in the process, and its outbox.
    link: Option<(u64, mpsc::Sender<HubToRelay>)>,
    last_seen_ms: Option<u64>,
    straps: Vec<RelayStrap>,
    queue: Option<RelayQueueState>,
}

/// Every relay: tokens and live state.
#[derive(Debug)]
pub struct Relays {
    tokens: Mutex<RelayTokens>,
    live: Mutex<BTreeMap<String, LiveRelay>>,
}

/// The id the hub gives strap `id` of relay `relay`: `<id>@<relay>` (relay names have no `@`).
pub fn hub_strap_id(relay: &str, id: &str) -> String {
    format!("{id}@{relay}")
}

/// The relay and the relay's own strap id of a hub strap id, for a relay's strap.
pub fn split_hub_strap_id(hub_id: &str) -> Option<(&str, &str)> {
    let (id, relay) = hub_id.rsplit_once('@')?;
    Some((relay, id))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock: keep serving it after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Relays {
    pub fn new(tokens: RelayTokens) -> Arc<Relays> {
        Arc::new(Relays {
            tokens: Mutex::new(tokens),
            live: Mutex::new(BTreeMap::new()),
        })
    }

    /// `POST /api/relays`: a new relay's token.
    pub fn create(&self, name: &str, now_ms: i64) -> Result<String, TokenError> {
        lock(&self.tokens).create(name, now_ms)
    }

    /// `DELETE /api/relays/{name}`: its token no longer connects, and its link ends.
    pub fn revoke(&self, name: &str) -> Result<(), TokenError> {
        lock(&self.tokens).revoke(name)?;
        lock(&self.live).remove(name);
        Ok(())
    }

    /// The relay this token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<String> {
        lock(&self.tokens).relay_of(token)
    }

    /// A link of `relay` was welcomed; an older link of the same relay is replaced (its
    /// outbox closes, which ends it).
    pub fn attach(&self, relay: &str, link: u64, outbox: mpsc::Sender<HubToRelay>, now_ms: u64) {
        let mut live = lock(&self.live);
        let entry = live.entry(relay.to_owned()).or_default();
        entry.link = Some((link, outbox));
        entry.last_seen_ms = Some(now_ms);
    }

    /// The link ended (only if it is still the relay's current one).
    pub fn detach(&self, relay: &str, link: u64) {
        if let Some(entry) = lock(&self.live).get_mut(relay)
            && entry
                .link
                .as_ref()
                .is_some_and(|(current, _)| *current == link)
        {
            entry.link = None;
        }
    }

    /// Whether `link` still serves `relay` (not replaced, not revoked).
    pub fn is_current(&self, relay: &str, link: u64) -> bool {
        lock(&self.live)
            .get(relay)
            .and_then(|entry| entry.link.as_ref())
            .is_some_and(|(current, _)| *current == link)
    }

    /// `relay_straps`: what the relay reads now.
    pub fn update(
        &self,
        relay: &str,
        straps: Vec<RelayStrap>,
        queue: RelayQueueState,
        now_ms: u64,
    ) {
        if let Some(entry) = lock(&self.live).get_mut(relay) {
            entry.straps = straps;
            entry.queue = Some(queue);
            entry.last_seen_ms = Some(now_ms);
        }
    }

    /// Anything arrived from the relay.
    pub fn seen(&self, relay: &str, now_ms: u64) {
        if let Some(entry) = lock(&self.live).get_mut(relay) {
            entry.last_seen_ms = Some(now_ms);
        }
    }

    /// Queues a frame for the relay's current link; false when it has none or its outbox is
    /// full (the relay sends the batch again and gets its ack then).
    pub fn send(&self, relay: &str, frame: HubToRelay) -> bool {
        let live = lock(&self.live);
        let Some((_, outbox)) = live.get(relay).and_then(|entry| entry.link.as_ref()) else {
            return false;
        };
        outbox.try_send(frame).is_ok()
    }

    /// Every relay's straps as last reported, with whether the relay is connected now.
    pub fn straps(&self) -> Vec<(String, bool, RelayStrap)> {
        lock(&self.live)
            .iter()
            .flat_map(|(name, entry)| {
                let connected = entry.link.is_some();
                entry
                    .straps
                    .iter()
                    .map(move |strap| (name.clone(), connected, strap.clone()))
            })
            .collect()
    }

    /// `GET /api/relays`.
    pub fn list(&self) -> RelayList {
        let names = lock(&self.tokens).names();
        let live = lock(&self.live);
        let mut relays: Vec<RelayInfo> = names
            .into_iter()
            .map(|name| {
                let entry = live.get(&name);
                RelayInfo {
                    connected: entry.is_some_and(|entry| entry.link.is_some()),
                    last_seen_ms: entry.and_then(|entry| entry.last_seen_ms),
                    straps: entry
                        .map(|entry| {
                            entry
                                .straps
                                .iter()
                                .map(|strap| hub_strap_id(&name, &strap.id))
                                .collect()
                        })
                        .unwrap_or_default(),
                    queue: entry.and_then(|entry| entry.queue.clone()),
                    name,
                }
            })
            .collect();
        relays.sort_by(|a, b| a.name.cmp(&b.name));
        RelayList { relays }
    }
}

/// The engine task's way to an assigned relay strap: `rr_ack {seq}` for its wearer becomes
/// `relay_ack {strap, seq, stored: true}` on the relay's current link. Everything else the
/// wearer is sent (feedback, errors) goes nowhere: claimers get the feedback through the
/// engine task, and the relay link answers refusals itself.
#[derive(Debug)]
pub struct RelayStrapPeer {
    pub relays: Arc<Relays>,
    pub relay: String,
    /// The strap's id on the relay.
    pub strap: String,
}

impl Peer for RelayStrapPeer {
    fn send(&self, event: &Arc<Encoded>) -> Result<(), SendFailure> {
        if event.name == HubEvent::RrAck(RrAck { seq: 0 }).name()
            && let Ok(ack) = serde_json::from_str::<RrAck>(event.payload.get())
        {
            // Not delivered (link down, outbox full): the relay sends the batch again, and a
            // batch already durable is acknowledged again.
            self.relays.send(
                &self.relay,
                HubToRelay::RelayAck(RelayAck {
                    strap: self.strap.clone(),
                    seq: ack.seq,
                    stored: true,
                    reason: None,
                }),
            );
        }
        Ok(())
    }

    fn close(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_strap_id_names_its_relay() {
        let id = hub_strap_id("back-row", "A0:9E:1A:A1:B2:C3");
        assert_eq!(id, "A0:9E:1A:A1:B2:C3@back-row");
        assert_eq!(
            split_hub_strap_id(&id),
            Some(("back-row", "A0:9E:1A:A1:B2:C3"))
        );
        assert_eq!(split_hub_strap_id("A0:9E:1A:A1:B2:C3"), None);
    }
}
