//! The mDNS advertisement: what the hub writes in its TXT record, and how a client reads a
//! resolved advertisement back.

use std::collections::BTreeMap;
use std::net::IpAddr;

use synchub_protocol::discovery::{AdvertisedHub, SERVICE_TYPE, txt_properties};

/// Reads an advertisement of `room_name` (as the hub writes its TXT record) resolved at
/// `addresses`.
fn resolve(room_name: &str, code_required: bool, addresses: &[&str]) -> Option<AdvertisedHub> {
    let txt: BTreeMap<&str, String> = txt_properties(room_name, code_required)
        .into_iter()
        .collect();
    AdvertisedHub::from_resolved(
        &format!("{room_name}.{SERVICE_TYPE}"),
        7878,
        addresses
            .iter()
            .map(|address| address.parse::<IpAddr>().unwrap()),
        |key| txt.get(key).map(String::as_str),
    )
}

#[test]
fn the_txt_record_says_how_to_connect_and_whether_a_code_is_needed() {
    let owned = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs
            .iter()
            .map(|&(key, value)| (key, value.to_owned()))
            .collect()
    };
    assert_eq!(
        txt_properties("Studio A", true),
        owned(&[
            ("v", "1"),
            ("sio", "/socket.io/"),
            ("ws", "/ws"),
            ("name", "Studio A"),
            ("code", "1"),
        ])
    );
    assert_eq!(
        txt_properties("Open room", false),
        owned(&[
            ("v", "1"),
            ("sio", "/socket.io/"),
            ("ws", "/ws"),
            ("name", "Open room"),
        ])
    );
}

#[test]
fn a_client_reads_back_what_the_hub_advertised() {
    assert_eq!(
        resolve("Studio A", true, &["192.168.1.20"]),
        Some(AdvertisedHub {
            room_name: "Studio A".to_owned(),
            url: "http://192.168.1.20:7878".to_owned(),
            room_code_required: true,
        })
    );
    let open = resolve("Open room", false, &["10.0.0.5"]).unwrap();
    assert!(!open.room_code_required);
}

#[test]
fn ipv4_is_preferred_and_ipv6_is_bracketed() {
    let url = |addresses: &[&str]| resolve("Room", false, addresses).map(|hub| hub.url);
    assert_eq!(
        url(&["fe80::1", "192.168.1.20"]).as_deref(),
        Some("http://192.168.1.20:7878")
    );
    assert_eq!(url(&["fd00::7"]).as_deref(), Some("http://[fd00::7]:7878"));
    assert_eq!(
        url(&[]),
        None,
        "an advertisement without an address is no use"
    );
}

#[test]
fn without_a_name_in_the_txt_record_the_instance_name_is_the_room() {
    let hub = AdvertisedHub::from_resolved(
        &format!("Old hub.{SERVICE_TYPE}"),
        80,
        ["127.0.0.1".parse::<IpAddr>().unwrap()],
        |_| None,
    )
    .unwrap();
    assert_eq!(hub.room_name, "Old hub");
    assert!(!hub.room_code_required);
}
