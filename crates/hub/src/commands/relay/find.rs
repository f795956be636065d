//! The hub on the local network, over mDNS/DNS-SD, as phones and the projector find it (what
//! an advertisement means is `synchub_protocol::discovery`'s).

use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
use synchub_protocol::discovery::{AdvertisedHub, SERVICE_TYPE};

/// Why no hub was found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
    #[error("no hub ({SERVICE_TYPE}) answered within {0:?}")]
    NotFound(Duration),
}

/// The first hub that answers within `limit`: its `http://host:port`.
pub async fn hub(limit: Duration) -> Result<String, FindError> {
    tokio::task::spawn_blocking(move || browse(limit))
        .await
        .unwrap_or(Err(FindError::NotFound(limit)))
}

fn browse(limit: Duration) -> Result<String, FindError> {
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
                if let Some(hub) = hub {
                    break Some(hub.url);
                }
            }
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    let _ = daemon.shutdown();
    found.ok_or(FindError::NotFound(limit))
}
