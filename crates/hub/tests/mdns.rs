//! The hub advertises itself over mDNS. Multicast must never leave this machine, so the test
//! re-runs itself inside a private network namespace (`unshare -rn`: a user namespace, so no
//! root is needed, and a network namespace with loopback up) where the only
//! interface is `lo`; there it browses for `_synchub._tcp.local.` with `mdns-sd` and resolves the
//! hub's port and TXT keys, sees a rename re-announced, and the advertisement withdrawn on stop.

use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
use synchub::discovery::{MdnsScope, SERVICE_TYPE};

use crate::util::{INSIDE_PRIVATE_NETNS, rerun_in_private_network_namespace, test_config};

const NAME: &str = "mdns::the_hub_is_found_by_browsing_with_its_port_and_txt_keys";

#[test]
fn the_hub_is_found_by_browsing_with_its_port_and_txt_keys() {
    if std::env::var_os(INSIDE_PRIVATE_NETNS).is_some() {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(browse_inside_the_namespace());
        return;
    }
    rerun_in_private_network_namespace(NAME, "ip link set lo up");
}

fn wait_for(
    receiver: &mdns_sd::Receiver<ServiceEvent>,
    what: &str,
    mut accept: impl FnMut(&ServiceEvent) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(event) = receiver.recv_timeout(Duration::from_millis(200))
            && accept(&event)
        {
            return;
        }
    }
    panic!("no mDNS event: {what}");
}

async fn browse_inside_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), Some("1357"));
    config.mdns = Some(MdnsScope::AllInterfaces);
    let hub = synchub::serve::start(config).await.expect("the hub starts");
    let port = hub.local_addr.port();

    let browser = ServiceDaemon::new().unwrap();
    let events = browser.browse(SERVICE_TYPE).unwrap();
    let mut fullname = String::new();
    wait_for(&events, "the hub resolved", |event| match event {
        ServiceEvent::ServiceResolved(service) if service.get_port() == port => {
            let txt = &service.txt_properties;
            assert_eq!(txt.get_property_val_str("v"), Some("1"));
            assert_eq!(txt.get_property_val_str("sio"), Some("/socket.io/"));
            assert_eq!(txt.get_property_val_str("ws"), Some("/ws"));
            assert_eq!(txt.get_property_val_str("name"), Some("Test room"));
            assert_eq!(txt.get_property_val_str("code"), Some("1"));
            assert!(
                service
                    .txt_properties
                    .iter()
                    .all(|property| property.val_str() != "1357"),
                "the code itself is never advertised"
            );
            fullname = service.get_fullname().to_owned();
            true
        }
        _ => false,
    });

    hub.set_room_name("Renamed room");
    wait_for(&events, "the new name announced", |event| match event {
        ServiceEvent::ServiceResolved(service) if service.get_port() == port => {
            service.txt_properties.get_property_val_str("name") == Some("Renamed room")
        }
        _ => false,
    });

    hub.stop().await.unwrap();
    wait_for(
        &events,
        "the advertisement withdrawn",
        |event| matches!(event, ServiceEvent::ServiceRemoved(_, name) if name.starts_with("Renamed room")),
    );
    assert!(fullname.starts_with("Test room"), "{fullname}");
    let _ = browser.shutdown();
}
