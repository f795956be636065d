//! How much of the hub one network address, and all displays together, may hold: open TCP
//! connections per address (counted where connections are accepted, so idle and upgraded
//! connections alike), participants per address (counted by the engine task with the opaque
//! [`AddressKey`] this module hands out), and display connections.
//!
//! Loopback is the hub's own computer — the desktop app, a local simulation or benchmark — and
//! is never capped per address: whoever runs code there can stop the hub anyway.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::peer::AddressKey;

/// The limits, each set by a `serve` flag; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapsConfig {
    /// Open TCP connections from one address: a phone's browser needs a page load's few
    /// connections and one socket.
    pub connections_per_address: u32,
    /// Participants joined from one address (a connection, a resume grace, a reconnect).
    pub participants_per_address: u32,
    /// Display connections (projector, console views) for the whole hub.
    pub displays: u32,
}

impl CapsConfig {
    pub const DEFAULT_CONNECTIONS_PER_ADDRESS: u32 = 16;
    pub const DEFAULT_PARTICIPANTS_PER_ADDRESS: u32 = 4;
    pub const DEFAULT_DISPLAYS: u32 = 8;

    /// No caps at all (tests of other things, in-process tools).
    pub const UNLIMITED: CapsConfig = CapsConfig {
        connections_per_address: 0,
        participants_per_address: 0,
        displays: 0,
    };
}

impl Default for CapsConfig {
    fn default() -> Self {
        CapsConfig {
            connections_per_address: Self::DEFAULT_CONNECTIONS_PER_ADDRESS,
            participants_per_address: Self::DEFAULT_PARTICIPANTS_PER_ADDRESS,
            displays: Self::DEFAULT_DISPLAYS,
        }
    }
}

/// The live counts behind [`CapsConfig`].
#[derive(Debug)]
pub struct Caps {
    pub config: CapsConfig,
    /// The session's participant limit (the engine enforces it; the console shows it).
    pub max_participants: Option<u32>,
    connections: Mutex<HashMap<IpAddr, u32>>,
    displays: AtomicU32,
    /// A per-process random key for [`AddressKey`]s.
    address_hasher: RandomState,
}

/// One accepted connection's place in its address's count; given back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    caps: Arc<Caps>,
    ip: IpAddr,
}

/// One display connection's place in the display count; given back when dropped.
#[derive(Debug)]
pub struct DisplayPermit {
    caps: Arc<Caps>,
}

fn within(count: u32, limit: u32) -> bool {
    limit == 0 || count < limit
}

fn is_capped(ip: IpAddr) -> bool {
    !ip.is_loopback() && !ip.to_canonical().is_loopback()
}

impl Caps {
    pub fn new(config: CapsConfig, max_participants: Option<u32>) -> Arc<Caps> {
        Arc::new(Caps {
            config,
            max_participants,
            connections: Mutex::new(HashMap::new()),
            displays: AtomicU32::new(0),
            address_hasher: RandomState::new(),
        })
    }

    /// A place for one more connection from `ip`; `None` when the address holds its limit.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionPermit> {
        let ip = ip.to_canonical();
        if is_capped(ip) {
            let mut connections = self
                .connections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = connections.entry(ip).or_insert(0);
            if !within(*count, self.config.connections_per_address) {
                return None;
            }
            *count += 1;
        }
        Some(ConnectionPermit {
            caps: self.clone(),
            ip,
        })
    }

    /// A place for one more display; `None` when the room has its limit.
    pub fn display(self: &Arc<Self>) -> Option<DisplayPermit> {
        let limit = self.config.displays;
        self.displays
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                within(count, limit).then_some(count + 1)
            })
            .ok()
            .map(|_| DisplayPermit { caps: self.clone() })
    }

    /// The key the engine task counts `ip`'s participants by; `None` for loopback (uncapped).
    pub fn address_key(&self, ip: IpAddr) -> Option<AddressKey> {
        let ip = ip.to_canonical();
        is_capped(ip).then(|| AddressKey(self.address_hasher.hash_one(ip)))
    }

    /// Open connections from `ip` (for tests and the console).
    pub fn connections_from(&self, ip: IpAddr) -> u32 {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&ip.to_canonical())
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        if !is_capped(self.ip) {
            return;
        }
        let mut connections = self
            .caps
            .connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = connections.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                connections.remove(&self.ip);
            }
        }
    }
}

impl Drop for DisplayPermit {
    fn drop(&mut self) {
        self.caps.displays.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_connections_and_loopback_is_not_capped() {
        let caps = Caps::new(
            CapsConfig {
                connections_per_address: 2,
                participants_per_address: 1,
                displays: 1,
            },
            None,
        );
        let phone: IpAddr = [10, 0, 0, 7].into();
        let first = caps.connect(phone).unwrap();
        let _second = caps.connect(phone).unwrap();
        assert!(caps.connect(phone).is_none());
        assert!(caps.connect([10, 0, 0, 8].into()).is_some());
        drop(first);
        assert!(caps.connect(phone).is_some());
        let loopback: Vec<_> = (0..10)
            .map(|_| caps.connect([127, 0, 0, 1].into()).unwrap())
            .collect();
        assert_eq!(loopback.len(), 10);
        assert_eq!(caps.address_key([127, 0, 0, 1].into()), None);
        assert_eq!(
            caps.address_key(phone),
            caps.address_key("::ffff:10.0.0.7".parse().unwrap())
        );
        let display = caps.display().unwrap();
        assert!(caps.display().is_none());
        drop(display);
        assert!(caps.display().is_some());
    }
}
