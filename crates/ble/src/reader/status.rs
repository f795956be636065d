//! What the reader reports: the status of every strap and adapter, the snapshot the hub (or a
//! relay) serves, and the events on its channel.
//!
//! These are plain data with the JSON shape the console reads (camelCase), kept apart from the
//! btleplug code so that what the reader says can be read, and tested, without a radio. The
//! sentences that tell a facilitator what to do when a strap cannot be connected are written
//! here too, next to the fields that carry them.

use crate::beats::BeatBatch;
use crate::code::strap_code;
use crate::measurement::BodyLocation;
use crate::quirks;
use serde::Serialize;
use std::fmt;

/// At or below this charge a strap is flagged `batteryLow`, so the coin cell is changed before a
/// session rather than during one.
pub const BATTERY_LOW_PCT: u8 = 15;

/// A strap's stable identity: its Bluetooth address where the platform exposes it (Linux,
/// Windows), the platform's peripheral id otherwise (macOS gives a per-computer UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StrapId(String);

impl StrapId {
    /// A strap id from its string form.
    pub fn new(id: impl Into<String>) -> StrapId {
        StrapId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StrapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Bluetooth adapter's name on this computer: `hci0`, `hci1`, … on Linux (BlueZ's
/// `/org/bluez/hciN`); on macOS and Windows, which expose one adapter, the platform's name for
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AdapterId(String);

impl AdapterId {
    /// An adapter id from its string form.
    pub fn new(id: impl Into<String>) -> AdapterId {
        AdapterId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdapterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a strap is in its life with the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrapState {
    /// Seen advertising; a connection attempt is under way (or about to be, once every adapter
    /// has had a moment to hear it).
    Discovered,
    /// Connected and delivering beats.
    Connected,
    /// Connected, but the strap reports no skin contact: its beats are not forwarded.
    NoContact,
    /// Lost or never reached; waiting to try again. Also a strap that no adapter hears any more
    /// (`connectionProblem` says so).
    Reconnecting,
    /// Heard, but every adapter that hears it has all its connections in use:
    /// `connectionProblem` says what to do.
    NoFreeConnection,
}

/// One adapter hearing a strap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hearing {
    /// Which adapter.
    pub adapter: AdapterId,
    /// Signal strength of the strap's last advertisement as this adapter heard it, in dBm.
    pub rssi: Option<i16>,
}

/// What the console shows about one strap (`GET /api/straps`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrapStatus {
    /// Stable id (see [`StrapId`]).
    pub id: StrapId,
    /// The four-character code a participant types to claim the strap ([`strap_code`]).
    pub code: String,
    /// The advertised name, e.g. "Polar H10 1A2B3C4D".
    pub name: Option<String>,
    /// Device Information Model Number (0x2A24), once connected.
    pub model: Option<String>,
    /// Device Information Manufacturer Name (0x2A29), once connected.
    pub manufacturer: Option<String>,
    /// Where the strap is in its life with the reader.
    pub state: StrapState,
    /// The adapter its connection goes through (or is being attempted through).
    pub adapter: Option<AdapterId>,
    /// Every adapter that hears it, ordered by adapter id.
    pub heard_by: Vec<Hearing>,
    /// Signal strength in dBm: as its own adapter hears it, or the loudest adapter while it has
    /// none (stale while connected: a connected strap stops advertising).
    pub rssi: Option<i16>,
    /// Battery level in percent.
    pub battery_pct: Option<u8>,
    /// The battery is at or below [`BATTERY_LOW_PCT`].
    pub battery_low: bool,
    /// The strap's own heart rate, `None` without contact.
    pub heart_rate_bpm: Option<u16>,
    /// Body Sensor Location (0x2A38), once connected.
    pub body_location: Option<BodyLocation>,
    /// Set for sensors known to smooth their RR intervals (optical sensors, watches).
    pub smoothed_rr_warning: Option<String>,
    /// Why the strap has no connection and what to do about it, when the reader cannot give it
    /// one (`no_free_connection`, or no adapter hears it).
    pub connection_problem: Option<String>,
    /// When the strap was last heard from (advertisement or notification), hub clock in ms.
    pub last_seen_ms: i64,
}

impl StrapStatus {
    pub(crate) fn discovered(
        id: StrapId,
        name: Option<String>,
        rssi: Option<i16>,
        now_ms: i64,
    ) -> Self {
        let smoothed_rr_warning =
            quirks::classify(name.as_deref(), None, None, None).smoothed_rr_warning();
        StrapStatus {
            code: strap_code(id.as_str()),
            id,
            name,
            model: None,
            manufacturer: None,
            state: StrapState::Discovered,
            adapter: None,
            heard_by: Vec::new(),
            rssi,
            battery_pct: None,
            battery_low: false,
            heart_rate_bpm: None,
            body_location: None,
            smoothed_rr_warning,
            connection_problem: None,
            last_seen_ms: now_ms,
        }
    }

    /// The status without the fields that change with every advertisement or notification:
    /// a status event is sent when this part changes.
    pub(crate) fn settled(&self) -> StrapStatus {
        StrapStatus {
            rssi: None,
            heard_by: self
                .heard_by
                .iter()
                .map(|hearing| Hearing {
                    adapter: hearing.adapter.clone(),
                    rssi: None,
                })
                .collect(),
            heart_rate_bpm: None,
            last_seen_ms: 0,
            ..self.clone()
        }
    }

    pub(crate) fn set_battery(&mut self, battery_pct: u8) {
        self.battery_pct = Some(battery_pct);
        self.battery_low = battery_pct <= BATTERY_LOW_PCT;
    }
}

/// One Bluetooth adapter the reader uses, and the connections it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterStatus {
    /// Which adapter (see [`AdapterId`]).
    pub id: AdapterId,
    /// Its own Bluetooth address, where the platform gives it.
    pub address: Option<String>,
    /// How many straps the reader connects through it at most: the configured budget
    /// ([`ReaderConfig::links_per_adapter`](crate::ReaderConfig::links_per_adapter)), or fewer
    /// once the controller refused a connection.
    pub link_budget: usize,
    /// Set when the controller refused a connection within the budget: what it said, and the
    /// lower budget the reader keeps to from then on.
    pub controller_refusal: Option<String>,
    /// Straps placed on it: connected, connecting or reconnecting.
    pub links_in_use: usize,
    /// Further straps it can take: `link_budget` minus `links_in_use`.
    pub free_links: usize,
    /// The straps placed on it, ordered by id.
    pub straps: Vec<StrapId>,
}

/// Everything the reader knows at one moment: what `GET /api/straps` and the console's adapter
/// list are built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderSnapshot {
    /// The adapters in use, ordered by id.
    pub adapters: Vec<AdapterStatus>,
    /// Every strap heard since the start, ordered by id.
    pub straps: Vec<StrapStatus>,
    /// What to do when straps cannot all be connected (or no adapter is left); `None` when
    /// there is nothing to do.
    pub advice: Option<String>,
}

impl ReaderSnapshot {
    pub(crate) fn new(adapters: Vec<AdapterStatus>, straps: Vec<StrapStatus>) -> ReaderSnapshot {
        let advice = advice(&adapters, &straps);
        ReaderSnapshot {
            adapters,
            straps,
            advice,
        }
    }
}

/// What `scan_once` heard: the adapters it listened with and the straps they heard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    /// The adapters that scanned, ordered by id.
    pub adapters: Vec<AdapterId>,
    /// The straps heard, ordered by id, each with `heardBy` per adapter.
    pub straps: Vec<StrapStatus>,
}

/// What the reader tells its listener.
#[derive(Debug, Clone, PartialEq)]
pub enum StrapEvent {
    /// A strap appeared or its state, adapter, battery, names or location changed (not sent for
    /// every heart rate or RSSI change: read [`StrapReader::straps`](crate::StrapReader::straps)
    /// for those).
    Status(StrapStatus),
    /// The adapters changed: one appeared or went away, a strap was placed on one or left it,
    /// or a controller refused a connection. The whole list, ordered by id.
    Adapters(Vec<AdapterStatus>),
    /// The beats of one notification of a strap in contact.
    Beats {
        /// Which strap.
        strap: StrapId,
        /// Its RR intervals and when the last one ended on the hub's clock.
        batch: BeatBatch,
    },
}

/// The snapshot's sentence of what to do, if anything.
fn advice(adapters: &[AdapterStatus], straps: &[StrapStatus]) -> Option<String> {
    if adapters.is_empty() {
        return Some(
            "No Bluetooth adapter is left: plug one in (or switch Bluetooth on); the reader uses \
             every adapter it finds."
                .to_owned(),
        );
    }
    let waiting = straps
        .iter()
        .filter(|strap| strap.state == StrapState::NoFreeConnection)
        .count();
    (waiting > 0).then(|| {
        let (straps_are, them) = if waiting == 1 {
            ("1 strap is".to_owned(), "it")
        } else {
            (format!("{waiting} straps are"), "them")
        };
        format!(
            "{straps_are} heard but not connected: every Bluetooth adapter that hears {them} has \
             all its connections in use. Plug another Bluetooth adapter (a USB dongle) into this \
             computer, or read {them} with a relay on a second computer near {them}."
        )
    })
}

/// A strap's `connectionProblem` when adapters hear it but none has a free connection.
pub(crate) fn no_free_connection_problem(
    heard_by: &[Hearing],
    adapters: &[AdapterStatus],
) -> String {
    let full: Vec<String> = heard_by
        .iter()
        .filter_map(|hearing| {
            let adapter = adapters.iter().find(|a| a.id == hearing.adapter)?;
            Some(format!(
                "{} ({} of {} connections in use)",
                adapter.id, adapter.links_in_use, adapter.link_budget
            ))
        })
        .collect();
    format!(
        "no free connection: heard by {}; plug another Bluetooth adapter into this computer or \
         use a relay near this strap",
        full.join(", ")
    )
}

/// A strap's `connectionProblem` when no adapter hears it any more.
pub(crate) const NOT_HEARD_PROBLEM: &str = "no Bluetooth adapter hears this strap now (the \
    adapter it was connected through went away): bring it near another adapter, or plug an \
    adapter in near it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serialises_with_camel_case_fields() {
        let mut status = StrapStatus::discovered(
            StrapId::new("A0:9E:1A:12:34:56"),
            Some("Polar OH1 1A2B3C4D".to_owned()),
            Some(-60),
            1_700_000_000_000,
        );
        status.set_battery(15);
        status.body_location = Some(BodyLocation::Chest);
        status.adapter = Some(AdapterId::new("hci1"));
        status.heard_by = vec![Hearing {
            adapter: AdapterId::new("hci1"),
            rssi: Some(-60),
        }];
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["id"], "A0:9E:1A:12:34:56");
        assert_eq!(json["code"], strap_code("A0:9E:1A:12:34:56"));
        assert_eq!(json["name"], "Polar OH1 1A2B3C4D");
        assert_eq!(json["model"], serde_json::Value::Null);
        assert_eq!(json["state"], "discovered");
        assert_eq!(json["adapter"], "hci1");
        assert_eq!(
            json["heardBy"],
            serde_json::json!([{"adapter": "hci1", "rssi": -60}])
        );
        assert_eq!(json["rssi"], -60);
        assert_eq!(json["batteryPct"], 15);
        assert_eq!(json["batteryLow"], true);
        assert_eq!(json["heartRateBpm"], serde_json::Value::Null);
        assert_eq!(json["bodyLocation"], "chest");
        assert!(
            json["smoothedRrWarning"]
                .as_str()
                .unwrap()
                .starts_with("Polar OH1 is an optical")
        );
        assert_eq!(json["connectionProblem"], serde_json::Value::Null);
        assert_eq!(json["lastSeenMs"], 1_700_000_000_000_i64);
        assert_eq!(json.as_object().unwrap().len(), 16);
    }

    #[test]
    fn battery_is_low_at_fifteen_percent_and_below() {
        let mut status = StrapStatus::discovered(StrapId::new("x"), None, None, 0);
        status.set_battery(16);
        assert!(!status.battery_low);
        status.set_battery(15);
        assert!(status.battery_low);
        status.set_battery(0);
        assert!(status.battery_low);
    }

    #[test]
    fn states_serialise_in_snake_case() {
        let states = [
            (StrapState::Discovered, "discovered"),
            (StrapState::Connected, "connected"),
            (StrapState::NoContact, "no_contact"),
            (StrapState::Reconnecting, "reconnecting"),
            (StrapState::NoFreeConnection, "no_free_connection"),
        ];
        for (state, json) in states {
            assert_eq!(serde_json::to_value(state).unwrap(), json);
        }
    }

    #[test]
    fn only_settled_changes_count_as_status_changes() {
        let mut status = StrapStatus::discovered(StrapId::new("x"), None, None, 0);
        status.heard_by = vec![Hearing {
            adapter: AdapterId::new("hci0"),
            rssi: Some(-70),
        }];
        let mut live = status.clone();
        live.heart_rate_bpm = Some(60);
        live.rssi = Some(-40);
        live.heard_by[0].rssi = Some(-41);
        live.last_seen_ms = 5;
        assert_eq!(live.settled(), status.settled());
        live.state = StrapState::NoContact;
        assert_ne!(live.settled(), status.settled());
        let mut heard_elsewhere = status.clone();
        heard_elsewhere.heard_by.push(Hearing {
            adapter: AdapterId::new("hci1"),
            rssi: None,
        });
        assert_ne!(heard_elsewhere.settled(), status.settled());
    }

    fn adapter(id: &str, links_in_use: usize, link_budget: usize) -> AdapterStatus {
        AdapterStatus {
            id: AdapterId::new(id),
            address: None,
            link_budget,
            controller_refusal: None,
            links_in_use,
            free_links: link_budget.saturating_sub(links_in_use),
            straps: Vec::new(),
        }
    }

    fn strap_in(state: StrapState) -> StrapStatus {
        let mut status = StrapStatus::discovered(StrapId::new("x"), None, None, 0);
        status.state = state;
        status
    }

    #[test]
    fn the_snapshot_advises_only_when_a_strap_waits_for_a_connection() {
        let adapters = [adapter("hci0", 7, 7)];
        let connected = strap_in(StrapState::Connected);
        let waiting = strap_in(StrapState::NoFreeConnection);
        assert_eq!(advice(&adapters, std::slice::from_ref(&connected)), None);

        let one = advice(&adapters, &[connected.clone(), waiting.clone()]).unwrap();
        assert!(
            one.starts_with("1 strap is heard but not connected"),
            "{one}"
        );
        assert!(one.contains("Plug another Bluetooth adapter"), "{one}");
        assert!(one.contains("relay"), "{one}");

        let two = advice(&adapters, &[waiting.clone(), waiting]).unwrap();
        assert!(two.starts_with("2 straps are heard"), "{two}");
    }

    #[test]
    fn the_snapshot_says_when_no_adapter_is_left() {
        let said = advice(&[], &[strap_in(StrapState::Reconnecting)]).unwrap();
        assert!(said.starts_with("No Bluetooth adapter is left"), "{said}");
    }

    #[test]
    fn a_strap_without_a_free_connection_names_the_full_adapters() {
        let heard_by = [
            Hearing {
                adapter: AdapterId::new("hci0"),
                rssi: Some(-60),
            },
            Hearing {
                adapter: AdapterId::new("hci1"),
                rssi: Some(-70),
            },
        ];
        let problem =
            no_free_connection_problem(&heard_by, &[adapter("hci0", 7, 7), adapter("hci1", 3, 3)]);
        assert_eq!(
            problem,
            "no free connection: heard by hci0 (7 of 7 connections in use), hci1 (3 of 3 \
             connections in use); plug another Bluetooth adapter into this computer or use a \
             relay near this strap"
        );
    }
}
