//! How a hub is found on the local network: the DNS-SD service type and TXT record it advertises
//! over mDNS, and how a client reads an advertisement back into an [`AdvertisedHub`].
//!
//! Both sides of the advertisement live here so that the hub that writes it and the clients
//! that read it (simulator, projector) cannot disagree on a key. The mDNS traffic itself is the
//! caller's: this module takes what a browser resolved (instance name, port, addresses, TXT
//! values) as plain values.
//!
//! The TXT record says how to connect and whether a room code is needed, never the code itself.

// `core::net`: an address is plain data here; nothing in this crate opens a socket.
use core::net::IpAddr;

/// The DNS-SD service type of a Sync Hub.
pub const SERVICE_TYPE: &str = "_synchub._tcp.local.";

/// TXT key: the protocol version, [`PROTOCOL_VERSION`].
pub const TXT_VERSION: &str = "v";
/// TXT key: the Socket.IO path, [`SOCKETIO_PATH`].
pub const TXT_SOCKETIO_PATH: &str = "sio";
/// TXT key: the plain WebSocket path, [`WS_PATH`].
pub const TXT_WS_PATH: &str = "ws";
/// TXT key: the room's name, as the projector shows it.
pub const TXT_ROOM_NAME: &str = "name";
/// TXT key: present with [`TXT_TRUE`] when participants must give a room code.
pub const TXT_ROOM_CODE_REQUIRED: &str = "code";

/// The value of [`TXT_VERSION`].
pub const PROTOCOL_VERSION: &str = "1";
/// Where Socket.IO is served.
pub const SOCKETIO_PATH: &str = "/socket.io/";
/// Where the plain WebSocket is served.
pub const WS_PATH: &str = "/ws";
/// How a TXT flag says yes.
pub const TXT_TRUE: &str = "1";

/// The TXT record of a room named `room_name`, as `(key, value)` pairs in advertising order.
pub fn txt_properties(room_name: &str, room_code_required: bool) -> Vec<(&'static str, String)> {
    let mut properties = vec![
        (TXT_VERSION, PROTOCOL_VERSION.to_owned()),
        (TXT_SOCKETIO_PATH, SOCKETIO_PATH.to_owned()),
        (TXT_WS_PATH, WS_PATH.to_owned()),
        (TXT_ROOM_NAME, room_name.to_owned()),
    ];
    if room_code_required {
        properties.push((TXT_ROOM_CODE_REQUIRED, TXT_TRUE.to_owned()));
    }
    properties
}

/// A hub found by browsing for [`SERVICE_TYPE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedHub {
    /// The room name (TXT `name`, else the service instance's name).
    pub room_name: String,
    /// `http://address:port`, the base of every route.
    pub url: String,
    /// Whether the hub requires a room code (TXT `code=1`).
    pub room_code_required: bool,
}

impl AdvertisedHub {
    /// Reads a resolved advertisement: the service's full name
    /// (`Room name._synchub._tcp.local.`), its port and addresses, and `txt`, which looks a TXT
    /// key up. IPv4 addresses are preferred: a link-local IPv6 address would need its scope id
    /// in the URL. `None` when the advertisement has no address.
    pub fn from_resolved<'txt>(
        full_name: &str,
        port: u16,
        addresses: impl IntoIterator<Item = IpAddr>,
        txt: impl Fn(&str) -> Option<&'txt str>,
    ) -> Option<AdvertisedHub> {
        let mut addresses: Vec<IpAddr> = addresses.into_iter().collect();
        // Sorted, so the choice does not depend on the order the browser found them in.
        addresses.sort_by_key(|address| (!address.is_ipv4(), *address));
        let host = match addresses.first()? {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let instance_name = full_name
            .strip_suffix(SERVICE_TYPE)
            .unwrap_or(full_name)
            .trim_end_matches('.');
        Some(AdvertisedHub {
            room_name: txt(TXT_ROOM_NAME).unwrap_or(instance_name).to_owned(),
            url: format!("http://{host}:{port}"),
            room_code_required: txt(TXT_ROOM_CODE_REQUIRED) == Some(TXT_TRUE),
        })
    }
}
