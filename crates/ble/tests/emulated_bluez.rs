//! The strap reader against an emulated BlueZ with one adapter on a private D-Bus, and against
//! no D-Bus at all.
//!
//! The reader runs inside `synchub-ble-probe`, a child process: libdbus reads
//! `DBUS_SYSTEM_BUS_ADDRESS` once per process, and a child lets each test choose its bus without
//! touching this process's environment.

use crate::util::{Emulator, Probe, Snapshot, emulated_rr_ms};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use synchub_ble::code::CODE_ALPHABET;
use synchub_ble::strap_code;

const POLAR: &str = "A0:9E:1A:A1:B2:C3";
const GARMIN: &str = "C8:3E:99:4D:A1:02";

fn status_of<'a>(line: &'a Value, strap: &str) -> Option<&'a Value> {
    (line["event"] == "status" && line["status"]["id"] == strap).then(|| &line["status"])
}

/// Every strap's beats in arrival order: (rrMs, endedAtMs) per batch.
pub fn beats_by_strap(lines: &[Value]) -> BTreeMap<String, Vec<(Vec<f64>, i64)>> {
    let mut beats: BTreeMap<String, Vec<(Vec<f64>, i64)>> = BTreeMap::new();
    for line in lines.iter().filter(|line| line["event"] == "beats") {
        let rr_ms = line["rrMs"]
            .as_array()
            .expect("rrMs")
            .iter()
            .map(|rr| rr.as_f64().expect("a number"))
            .collect();
        let ended_at_ms = line["endedAtMs"].as_i64().expect("endedAtMs");
        beats
            .entry(line["strap"].as_str().expect("strap id").to_owned())
            .or_default()
            .push((rr_ms, ended_at_ms));
    }
    beats
}

#[test]
fn two_emulated_straps_are_read_and_a_dropped_one_is_reconnected() {
    // Strap 1 (the Polar) drops its connection 3 s after connecting, once; batteries at 12 %.
    let Some(emulator) =
        Emulator::start(&["--straps", "2", "--drop-after-secs", "3", "--battery", "12"])
    else {
        return;
    };
    // The probe runs the reader for 10 s, shuts it down and prints its last snapshot; the
    // whole transcript is checked afterwards.
    let mut probe = Probe::start(&emulator.address, &["--secs", "10"]);
    assert_eq!(
        probe.wait_exit(Duration::from_secs(40)),
        Some(0),
        "{:#?}",
        probe.seen
    );
    assert_eq!(
        probe.seen.last().map(|line| &line["event"]),
        Some(&Value::from("stopped"))
    );

    // Both straps were discovered with their codes and connected with what they told us.
    for (strap, name, model, manufacturer) in [
        (POLAR, "Polar H10 A1B2C3D4", "H10", "Polar Electro Oy"),
        (GARMIN, "Garmin HRM-Dual", "HRM-Dual", "Garmin"),
    ] {
        let statuses: Vec<&Value> = probe
            .seen
            .iter()
            .filter_map(|line| status_of(line, strap))
            .collect();
        assert_eq!(
            statuses.first().map(|s| &s["state"]),
            Some(&Value::from("discovered")),
            "{statuses:#?}"
        );
        let connected = statuses
            .iter()
            .find(|status| status["state"] == "connected")
            .unwrap_or_else(|| panic!("{strap} never connected: {statuses:#?}"));
        assert_eq!(connected["name"], name);
        assert_eq!(connected["model"], model);
        assert_eq!(connected["manufacturer"], manufacturer);
        let code = connected["code"].as_str().expect("a code");
        assert_eq!(code, strap_code(strap));
        assert_eq!(code.len(), 4);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        assert_eq!(connected["batteryPct"], 12);
        assert_eq!(connected["batteryLow"], true);
        assert_eq!(connected["bodyLocation"], "chest");
        assert_eq!(connected["smoothedRrWarning"], Value::Null);
    }
    assert_ne!(strap_code(POLAR), strap_code(GARMIN));

    // The Polar dropped; the reader noticed, reconnected (1 s backoff) and its beats resumed.
    // The Garmin stayed connected throughout.
    let states = |strap: &str| -> Vec<String> {
        let mut states: Vec<String> = Vec::new();
        for status in probe.seen.iter().filter_map(|line| status_of(line, strap)) {
            let state = status["state"].as_str().expect("a state").to_owned();
            if states.last() != Some(&state) {
                states.push(state);
            }
        }
        states
    };
    assert_eq!(
        states(POLAR),
        ["discovered", "connected", "reconnecting", "connected"]
    );
    assert_eq!(states(GARMIN), ["discovered", "connected"]);
    let reconnected_at = probe
        .seen
        .iter()
        .rposition(|line| {
            status_of(line, POLAR).is_some_and(|status| status["state"] == "connected")
        })
        .expect("a last connected status");
    assert!(
        probe.seen[reconnected_at..]
            .iter()
            .any(|line| line["event"] == "beats" && line["strap"] == POLAR),
        "no Polar beats after reconnecting"
    );

    // The snapshot lists the one adapter with both straps on it, and both straps connected
    // through it with their live heart rates; nothing to advise.
    let snapshot = probe
        .seen
        .iter()
        .find(|line| line["event"] == "snapshot")
        .map(|line| Snapshot(line["snapshot"].clone()))
        .expect("a snapshot line");
    assert_eq!(snapshot.adapter_ids(), ["hci0"]);
    let adapter = snapshot.adapter("hci0");
    assert_eq!(adapter["address"], "00:1A:7D:DA:71:13");
    assert_eq!(adapter["linkBudget"], 7);
    assert_eq!(adapter["linksInUse"], 2);
    assert_eq!(adapter["freeLinks"], 5);
    assert_eq!(snapshot.straps_on("hci0"), [POLAR, GARMIN]);
    assert_eq!(snapshot.0["advice"], Value::Null);
    let ids: Vec<&Value> = snapshot.straps().iter().map(|strap| &strap["id"]).collect();
    assert_eq!(ids, [POLAR, GARMIN]);
    for strap in snapshot.straps() {
        assert_eq!(strap["state"], "connected", "{strap}");
        assert_eq!(strap["adapter"], "hci0", "{strap}");
        assert_eq!(strap["connectionProblem"], Value::Null, "{strap}");
        let bpm = strap["heartRateBpm"].as_u64().expect("a heart rate");
        assert!((50..=90).contains(&bpm), "{strap}");
    }

    // Every beat arrived with the emulator's exact RR values, none lost or repeated across the
    // drop (the emulator's sequence continues across connections).
    let beats = beats_by_strap(&probe.seen);
    for (strap, number, at_least) in [(POLAR, 1, 5), (GARMIN, 2, 7)] {
        let received: Vec<f64> = beats[strap].iter().flat_map(|(rr, _)| rr.clone()).collect();
        assert!(
            received.len() >= at_least,
            "{strap}: only {} beats",
            received.len()
        );
        assert_eq!(received, emulated_rr_ms(number, received.len()), "{strap}");
    }
    // The Garmin never dropped: its beat times follow the RR grid, each batch ending exactly
    // its RR sum after the previous one (±1 ms of rounding), whatever the delivery jitter.
    let garmin = &beats[GARMIN];
    for pair in garmin.windows(2) {
        let ((_, previous_end), (rr, end)) = (&pair[0], &pair[1]);
        let span: f64 = rr.iter().sum();
        assert!(
            ((end - previous_end) as f64 - span).abs() <= 1.0,
            "batch {rr:?} ended {} ms after the previous one",
            end - previous_end
        );
    }
}

#[test]
fn a_scan_lists_the_straps_in_range_without_connecting() {
    let Some(emulator) = Emulator::start(&["--straps", "3"]) else {
        return;
    };
    let mut probe = Probe::start(&emulator.address, &["--scan-only", "--secs", "2"]);
    assert_eq!(
        probe.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{:#?}",
        probe.seen
    );
    let scan = probe
        .seen
        .iter()
        .find(|line| line["event"] == "scan")
        .expect("a scan line");
    assert_eq!(scan["adapters"], serde_json::json!(["hci0"]));
    let straps = scan["straps"].as_array().expect("straps");
    let found: Vec<(&str, &str, &str)> = straps
        .iter()
        .map(|strap| {
            (
                strap["id"].as_str().expect("id"),
                strap["name"].as_str().expect("name"),
                strap["state"].as_str().expect("state"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("A0:9E:1A:00:00:03", "Polar H10 A1B2C303", "discovered"),
            (POLAR, "Polar H10 A1B2C3D4", "discovered"),
            (GARMIN, "Garmin HRM-Dual", "discovered"),
        ]
    );
    for strap in straps {
        let rssi = strap["rssi"].as_i64().expect("an RSSI");
        assert!((-70..=-50).contains(&rssi), "{strap}");
        assert_eq!(strap["heardBy"][0]["adapter"], "hci0", "{strap}");
        assert_eq!(strap["heardBy"][0]["rssi"], rssi, "{strap}");
        assert_eq!(strap["code"], strap_code(strap["id"].as_str().expect("id")));
    }
}

#[test]
fn without_a_system_bus_start_reports_unavailable_with_the_reason() {
    let mut probe = Probe::start("unix:path=/nonexistent", &["--secs", "5"]);
    let line = probe.wait_for(Duration::from_secs(10), "unavailable line", |line| {
        line["event"] == "unavailable"
    });
    let reason = line["reason"].as_str().expect("a reason string");
    assert!(reason.contains("/nonexistent"), "{reason}");
    assert!(reason.contains("DbusError"), "{reason}");
    assert_eq!(probe.wait_exit(Duration::from_secs(10)), Some(2));
}
