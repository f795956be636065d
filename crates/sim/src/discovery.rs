//! Finding a hub on the local network by mDNS/DNS-SD (`_synchub._tcp.local.`), for
//! `synchub-sim run|bench` without `--hub`, as phones and the projector find it.
//!
//! Browsing starts a background thread inside `mdns-sd`'s daemon; that is one thread for the
//! whole command, not one per participant, and it is shut down as soon as a hub is found.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};

/// The service type every hub advertises.
pub const SERVICE_TYPE: &str = "_synchub._tcp.local.";

/// A hub found on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredHub {
    /// The room name (TXT `name`, else the instance name).
    pub room_name: String,
    /// `http://address:port`.
    pub url: String,
    /// Whether the hub requires a room code (TXT `code=1`).
    pub room_code_required: bool,
}

/// Why no hub was found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon could not start or browse.
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
    /// Nothing answered in time.
    #[error("no hub ({SERVICE_TYPE}) answered within {0:?}")]
    NotFound(Duration),
}

/// Browses for up to `limit` and returns the first hub that resolves (IPv4 preferred).
/// Blocking: call it before starting the crowd, or from `spawn_blocking`.
pub fn find_hub(limit: Duration) -> Result<DiscoveredHub, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now() + limit;
    let found = loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break None;
        };
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(service)) => {
                let mut addresses: Vec<IpAddr> =
                    service.addresses.iter().map(|ip| ip.to_ip_addr()).collect();
                // IPv4 first; a link-local IPv6 address would need its scope id in the URL.
                addresses.sort_by_key(|address| !address.is_ipv4());
                let Some(address) = addresses.first() else {
                    continue;
                };
                let host = match address {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                };
                let instance = service
                    .fullname
                    .strip_suffix(SERVICE_TYPE)
                    .unwrap_or(&service.fullname)
                    .trim_end_matches('.')
                    .to_owned();
                break Some(DiscoveredHub {
                    room_name: service
                        .get_property_val_str("name")
                        .map_or(instance, str::to_owned),
                    url: format!("http://{host}:{}", service.port),
                    room_code_required: service.get_property_val_str("code") == Some("1"),
                });
            }
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    // Best effort: the daemon's thread ends with the process anyway.
    let _ = daemon.shutdown();
    found.ok_or(DiscoveryError::NotFound(limit))
}
