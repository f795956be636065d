//! How phones find the hub without typing an address: an mDNS/DNS-SD advertisement of
//! `_synchub._tcp.local.` (`mdns-sd`), and the LAN address for the join URL and QR code.
//!
//! The TXT record says how to connect (`sio=/socket.io/`, `ws=/ws`), the room's name, and
//! whether a code is needed (`code=1`) — never the code itself. Its keys and values are
//! `synchub_protocol::discovery`'s, which the simulator and the projector read it back with;
//! this module only runs the advertisement.

use std::net::{IpAddr, Ipv4Addr};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
pub use synchub_protocol::discovery::SERVICE_TYPE;

use crate::room::RoomSettings;

/// Where the advertisement is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdnsScope {
    /// Every interface (a real room: `synchub serve`).
    AllInterfaces,
    /// Loopback only (the demo: discoverable on this machine, invisible on the LAN).
    LoopbackOnly,
}

/// A running advertisement; withdrawn by [`Advertisement::shutdown`].
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
    port: u16,
    scope: MdnsScope,
    room: RoomSettings,
}

impl std::fmt::Debug for Advertisement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertisement")
            .field("fullname", &self.fullname)
            .field("port", &self.port)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn host_name() -> String {
    let raw = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|character| character.is_ascii_alphanumeric() || *character == '-')
        .collect();
    if name.is_empty() {
        "synchub.local.".to_owned()
    } else {
        format!("{name}.local.")
    }
}

fn service_info(
    room: &RoomSettings,
    port: u16,
    scope: MdnsScope,
) -> Result<ServiceInfo, mdns_sd::Error> {
    let properties = synchub_protocol::discovery::txt_properties(&room.name, room.code.is_some());
    let info = match scope {
        MdnsScope::LoopbackOnly => ServiceInfo::new(
            SERVICE_TYPE,
            &room.name,
            &host_name(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            &properties[..],
        )?,
        MdnsScope::AllInterfaces => ServiceInfo::new(
            SERVICE_TYPE,
            &room.name,
            &host_name(),
            (),
            port,
            &properties[..],
        )?
        .enable_addr_auto(),
    };
    Ok(info)
}

impl Advertisement {
    /// Starts advertising `room` on `port`.
    pub fn start(room: &RoomSettings, port: u16, scope: MdnsScope) -> Result<Self, mdns_sd::Error> {
        let daemon = ServiceDaemon::new()?;
        if scope == MdnsScope::LoopbackOnly {
            daemon.disable_interface(IfKind::All)?;
            daemon.enable_interface(IfKind::LoopbackV4)?;
        }
        let info = service_info(room, port, scope)?;
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        tracing::info!(service = SERVICE_TYPE, "advertising the room over mDNS");
        Ok(Advertisement {
            daemon,
            fullname,
            port,
            scope,
            room: room.clone(),
        })
    }

    /// Re-announces after the room's name (or code requirement) changed: the old instance is
    /// withdrawn and the new one registered, so browsers see the new name at once.
    pub fn update(&mut self, room: &RoomSettings) -> Result<(), mdns_sd::Error> {
        if *room == self.room {
            return Ok(());
        }
        let _ = self.daemon.unregister(&self.fullname)?;
        let info = service_info(room, self.port, self.scope)?;
        self.fullname = info.get_fullname().to_owned();
        self.daemon.register(info)?;
        self.room = room.clone();
        Ok(())
    }

    /// Withdraws the advertisement (a goodbye packet) and stops the daemon.
    pub fn shutdown(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            // The goodbye goes out within a second; do not hold up the shutdown longer.
            let _ = done.recv_timeout(std::time::Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

/// The address phones on the LAN reach the hub at: the bind address when it is specific,
/// else the first private IPv4 address of an up, non-loopback interface, else loopback.
pub fn lan_address(bind: IpAddr) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    let candidates: Vec<Ipv4Addr> = interfaces
        .iter()
        .filter(|interface| !interface.is_loopback())
        .filter_map(|interface| match interface.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .collect();
    candidates
        .iter()
        .find(|ip| ip.is_private())
        .or(candidates.first())
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ip| IpAddr::V4(*ip))
}
