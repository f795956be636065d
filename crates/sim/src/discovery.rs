//! Finding a hub on the local network by mDNS/DNS-SD (`_synchub._tcp.local.`), for
//! `synchub-sim run|bench` without `--hub`, as phones and the projector find it.
//!
//! Browsing starts a background thread inside `mdns-sd`'s daemon; that is one thread for the
//! whole command, not one per participant, and it is shut down as soon as a hub is found. What
//! an advertisement means (service type, TXT keys) is `synchub_protocol::discovery`'s.

use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
use synchub_protocol::discovery::{AdvertisedHub, SERVICE_TYPE};

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
pub fn find_hub(limit: Duration) -> Result<AdvertisedHub, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now() + limit;
    let found = loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break None;
        };
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(service)) => {
                let hub = AdvertisedHub::from_resolved(
                    &service.fullname,
                    service.port,
                    service.addresses.iter().map(|ip| ip.to_ip_addr()),
                    |key| service.get_property_val_str(key),
                );
                if hub.is_some() {
                    break hub;
                }
            }
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    // Best effort: the daemon's thread ends with the process anyway.
    let _ = daemon.shutdown();
    found.ok_or(DiscoveryError::NotFound(limit))
}
