//! A room with more straps than one controller holds: the reader against an emulated BlueZ with
//! several adapters, each with a connection limit, and adapters unplugged and plugged in while
//! it runs.
//!
//! In the emulated room every adapter hears every strap; strap k is loudest on adapter
//! (k − 1) mod N and 8 dB weaker on each adapter further round (tools/bluez-emulator/README.md,
//! "Straps"). The reader keeps its default budget of 7 connections per adapter.

use crate::emulated_bluez::beats_by_strap;
use crate::util::{Emulator, Probe, Snapshot, emulated_rr_ms, strap_address, strap_addresses};
use serde_json::Value;
use std::time::Duration;

/// How long the reader may take to reach a state the test waits for: discovery, a second to
/// let every adapter hear a strap, connecting, and up to 2 s to notice an adapter change.
const SETTLE: Duration = Duration::from_secs(40);

/// Every strap's received RR values equal the emulator's beat sequence for it: none lost,
/// repeated or altered, whichever adapters carried them. Waits first until each of them has
/// delivered at least one batch.
fn assert_beats_match_the_emulator(probe: &mut Probe, numbers: impl IntoIterator<Item = u32>) {
    let numbers: Vec<u32> = numbers.into_iter().collect();
    for &number in &numbers {
        let strap = strap_address(number);
        let delivered = |line: &Value| line["event"] == "beats" && line["strap"] == strap.as_str();
        if !probe.seen.iter().any(delivered) {
            probe.wait_for(SETTLE, &format!("beats from strap {number}"), delivered);
        }
    }
    let beats = beats_by_strap(&probe.seen);
    for number in numbers {
        let strap = strap_address(number);
        let received: Vec<f64> = beats
            .get(&strap)
            .unwrap_or_else(|| panic!("no beats from strap {number} ({strap})"))
            .iter()
            .flat_map(|(rr, _)| rr.clone())
            .collect();
        assert_eq!(
            received,
            emulated_rr_ms(number, received.len()),
            "strap {number}"
        );
    }
}

/// Waits until strap `number` has delivered a beat batch after everything seen so far.
fn wait_for_fresh_beats(probe: &mut Probe, number: u32) {
    let strap = strap_address(number);
    probe.wait_for(SETTLE, &format!("beats from strap {number}"), |line| {
        line["event"] == "beats" && line["strap"] == strap.as_str()
    });
}

fn problem(snapshot: &Snapshot, strap: &str) -> String {
    snapshot.strap(strap)["connectionProblem"]
        .as_str()
        .unwrap_or_else(|| panic!("strap {strap} has no connection problem: {}", snapshot.0))
        .to_owned()
}

#[test]
fn sixteen_straps_on_two_adapters_of_seven_links_and_one_adapter_unplugged() {
    let Some(emulator) = Emulator::start(&[
        "--adapters",
        "2",
        "--links-per-adapter",
        "7",
        "--straps",
        "16",
    ]) else {
        return;
    };
    let mut probe = Probe::start(
        &emulator.address,
        &["--secs", "120", "--snapshot-every-secs", "1"],
    );

    // Fourteen straps connect, seven through each adapter, each through the adapter that hears
    // it loudest (odd straps hci0, even straps hci1); the last two heard find no free
    // connection.
    let room = probe.wait_for_snapshot(SETTLE, "14 straps connected, 2 waiting", |snapshot| {
        snapshot.in_state("connected").len() == 14
            && snapshot.in_state("no_free_connection").len() == 2
    });
    assert_eq!(room.adapter_ids(), ["hci0", "hci1"]);
    for (adapter, straps) in [
        ("hci0", [1, 3, 5, 7, 9, 11, 13]),
        ("hci1", [2, 4, 6, 8, 10, 12, 14]),
    ] {
        assert_eq!(
            room.straps_on(adapter),
            strap_addresses(straps),
            "{adapter}"
        );
        let status = room.adapter(adapter);
        assert_eq!(status["linkBudget"], 7, "{status}");
        assert_eq!(status["linksInUse"], 7, "{status}");
        assert_eq!(status["freeLinks"], 0, "{status}");
        // The budget kept every connection within what the controller holds.
        assert_eq!(status["controllerRefusal"], Value::Null, "{status}");
        for strap in straps {
            let strap = room.strap(&strap_address(strap));
            assert_eq!(strap["state"], "connected", "{strap}");
            assert_eq!(strap["adapter"], adapter, "{strap}");
            assert_eq!(
                strap["heardBy"].as_array().map(Vec::len),
                Some(2),
                "{strap}"
            );
        }
    }
    assert_eq!(
        room.in_state("no_free_connection"),
        strap_addresses([15, 16])
    );
    for strap in strap_addresses([15, 16]) {
        assert_eq!(room.strap(&strap)["adapter"], Value::Null);
        assert_eq!(
            problem(&room, &strap),
            "no free connection: heard by hci0 (7 of 7 connections in use), hci1 (7 of 7 \
             connections in use); plug another Bluetooth adapter into this computer or use a \
             relay near this strap"
        );
    }
    let advice = room.0["advice"].as_str().expect("advice");
    assert!(
        advice.starts_with("2 straps are heard but not connected"),
        "{advice}"
    );

    // Beats arrive from straps on both adapters, exactly as the straps sent them; none from
    // the two without a connection.
    assert_beats_match_the_emulator(&mut probe, 1..=14);
    let beats = beats_by_strap(&probe.seen);
    assert!(!beats.contains_key(&strap_address(15)));
    assert!(!beats.contains_key(&strap_address(16)));

    // hci1 is unplugged. hci0 has no free link, so its seven straps cannot move: all nine
    // straps without a link are listed with the reason; hci0's straps carry on.
    emulator.remove_adapter("hci1");
    let after = probe.wait_for_snapshot(SETTLE, "hci1 gone and its straps waiting", |snapshot| {
        snapshot.adapter_ids() == ["hci0"] && snapshot.in_state("no_free_connection").len() == 9
    });
    assert_eq!(
        after.straps_on("hci0"),
        strap_addresses([1, 3, 5, 7, 9, 11, 13])
    );
    assert_eq!(
        after.in_state("connected"),
        strap_addresses([1, 3, 5, 7, 9, 11, 13])
    );
    for strap in strap_addresses([2, 4, 6, 8, 10, 12, 14, 15, 16]) {
        assert_eq!(after.strap(&strap)["adapter"], Value::Null);
        assert_eq!(
            problem(&after, &strap),
            "no free connection: heard by hci0 (7 of 7 connections in use); plug another \
             Bluetooth adapter into this computer or use a relay near this strap"
        );
    }
    let advice = after.0["advice"].as_str().expect("advice");
    assert!(
        advice.starts_with("9 straps are heard but not connected"),
        "{advice}"
    );
    wait_for_fresh_beats(&mut probe, 1);
    assert_beats_match_the_emulator(&mut probe, 1..=14);
}

#[test]
fn straps_of_an_unplugged_adapter_move_to_free_links_and_a_new_adapter_takes_the_rest() {
    let Some(emulator) = Emulator::start(&[
        "--adapters",
        "3",
        "--links-per-adapter",
        "7",
        "--straps",
        "16",
    ]) else {
        return;
    };
    let mut probe = Probe::start(
        &emulator.address,
        &["--secs", "120", "--snapshot-every-secs", "1"],
    );

    // Three adapters of seven links hold all sixteen, each strap on its loudest adapter.
    let room = probe.wait_for_snapshot(SETTLE, "16 straps connected", |snapshot| {
        snapshot.in_state("connected").len() == 16
    });
    assert_eq!(
        room.straps_on("hci0"),
        strap_addresses([1, 4, 7, 10, 13, 16])
    );
    assert_eq!(room.straps_on("hci1"), strap_addresses([2, 5, 8, 11, 14]));
    assert_eq!(room.straps_on("hci2"), strap_addresses([3, 6, 9, 12, 15]));
    assert_eq!(room.0["advice"], Value::Null);
    wait_for_fresh_beats(&mut probe, 3);

    // hci2 is unplugged. Its five straps hear hci0 louder than hci1: hci0's one free link
    // goes to the first of them heard, hci1's two to the next two, and the last two wait.
    emulator.remove_adapter("hci2");
    let moved = probe.wait_for_snapshot(SETTLE, "hci2's straps placed again", |snapshot| {
        snapshot.adapter_ids() == ["hci0", "hci1"]
            && snapshot.in_state("connected").len() == 14
            && snapshot.in_state("no_free_connection").len() == 2
    });
    assert_eq!(
        moved.straps_on("hci0"),
        strap_addresses([1, 3, 4, 7, 10, 13, 16])
    );
    assert_eq!(
        moved.straps_on("hci1"),
        strap_addresses([2, 5, 6, 8, 9, 11, 14])
    );
    assert_eq!(
        moved.in_state("no_free_connection"),
        strap_addresses([12, 15])
    );
    for strap in strap_addresses([12, 15]) {
        assert_eq!(
            problem(&moved, &strap),
            "no free connection: heard by hci0 (7 of 7 connections in use), hci1 (7 of 7 \
             connections in use); plug another Bluetooth adapter into this computer or use a \
             relay near this strap"
        );
    }
    // The moved straps' beats continue where they left off: nothing lost or repeated.
    for number in [3, 6, 9] {
        wait_for_fresh_beats(&mut probe, number);
    }
    assert_beats_match_the_emulator(&mut probe, [3, 6, 9]);

    // A new adapter is plugged in: the two waiting straps connect through it.
    emulator.add_adapter("hci2");
    let grown = probe.wait_for_snapshot(SETTLE, "16 straps connected again", |snapshot| {
        snapshot.in_state("connected").len() == 16
    });
    assert_eq!(grown.adapter_ids(), ["hci0", "hci1", "hci2"]);
    assert_eq!(grown.straps_on("hci2"), strap_addresses([12, 15]));
    assert_eq!(grown.0["advice"], Value::Null);
    wait_for_fresh_beats(&mut probe, 12);
    wait_for_fresh_beats(&mut probe, 15);
    assert_beats_match_the_emulator(&mut probe, 1..=16);
}

#[test]
fn a_controller_that_refuses_a_connection_lowers_its_adapters_budget() {
    // The controllers hold only two connections each, below the reader's budget of 7; three
    // of the five straps are loudest on hci0, two on hci1.
    let Some(emulator) = Emulator::start(&[
        "--adapters",
        "2",
        "--links-per-adapter",
        "2",
        "--straps",
        "5",
    ]) else {
        return;
    };
    let mut probe = Probe::start(
        &emulator.address,
        &["--secs", "60", "--snapshot-every-secs", "1"],
    );

    // hci0 refuses the third connection the way BlueZ does; the reader keeps to 2 there and
    // tries the strap on hci1, which refuses it too. Four straps connect, one waits.
    let room = probe.wait_for_snapshot(SETTLE, "both controllers full", |snapshot| {
        snapshot.in_state("connected").len() == 4
            && snapshot.in_state("no_free_connection").len() == 1
            && snapshot
                .adapters()
                .iter()
                .all(|adapter| adapter["linkBudget"] == 2)
    });
    for adapter in ["hci0", "hci1"] {
        let status = room.adapter(adapter);
        assert_eq!(status["linksInUse"], 2, "{status}");
        assert_eq!(status["freeLinks"], 0, "{status}");
        let refusal = status["controllerRefusal"].as_str().expect("a refusal");
        assert!(
            refusal.starts_with("the controller refused connection 3 (")
                && refusal.contains("le-connection-concurrent-connection-limit")
                && refusal.ends_with("the reader keeps to 2 on it"),
            "{refusal}"
        );
    }
    // Which of hci0's three straps was refused depends on which connect reached the controller
    // last; whichever it was waits, named with both full adapters.
    let waiting = room.in_state("no_free_connection")[0].to_owned();
    assert!(
        strap_addresses([1, 3, 5]).contains(&waiting),
        "{waiting} is not one of hci0's straps"
    );
    assert_eq!(
        problem(&room, &waiting),
        "no free connection: heard by hci0 (2 of 2 connections in use), hci1 (2 of 2 \
         connections in use); plug another Bluetooth adapter into this computer or use a relay \
         near this strap"
    );
    assert!(
        room.0["advice"]
            .as_str()
            .is_some_and(|advice| advice.starts_with("1 strap is heard but not connected")),
        "{}",
        room.0
    );
}
