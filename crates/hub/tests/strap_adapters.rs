//! Straps for a whole room through every Bluetooth adapter, seen from the hub's API: the
//! per-adapter connection budget (`--ble-links-per-adapter`, `SYNCHUB_BLE_LINKS_PER_ADAPTER`),
//! straps heard but left without a free connection and why, and an adapter unplugged and
//! plugged in again while the hub runs. The hub process talks to the emulated BlueZ on a
//! private bus (`tools/bluez-emulator`), with its own limit of connections per adapter.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::straps::EmulatedBluez;
use crate::util::{HubProcess, StoppedHub};

/// Polls `GET /api/straps` until `done` holds for the whole reply, or fails after `limit`
/// with the last reply and the hub's log.
fn wait_for_list(
    hub: &HubProcess,
    limit: Duration,
    what: &str,
    done: impl Fn(&StrapList) -> bool,
) -> StrapList {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = hub.call("GET", "/api/straps", None);
        assert_eq!(status, 200, "{body}");
        let list = StrapList(body);
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen within {limit:?}; straps: {}\nhub log:\n{}",
            list.0,
            hub.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A `GET /api/straps` reply, with the questions the tests ask of it.
struct StrapList(Value);

impl StrapList {
    fn straps(&self) -> Vec<&Value> {
        self.0["straps"]
            .as_array()
            .map(|straps| straps.iter().collect())
            .unwrap_or_default()
    }

    fn in_state(&self, state: &str) -> Vec<&Value> {
        self.straps()
            .into_iter()
            .filter(|strap| strap["state"] == state)
            .collect()
    }

    fn count(&self, state: &str) -> usize {
        self.in_state(state).len()
    }

    fn adapter(&self, id: &str) -> &Value {
        self.0["adapters"]
            .as_array()
            .and_then(|adapters| adapters.iter().find(|adapter| adapter["id"] == id))
            .unwrap_or_else(|| panic!("adapter {id} is not listed: {}", self.0))
    }

    /// Connected straps per adapter, from each strap's `adapter`.
    fn connected_per_adapter(&self) -> BTreeMap<String, Vec<String>> {
        let mut per_adapter: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for strap in self.in_state("connected") {
            let adapter = strap["adapter"]
                .as_str()
                .unwrap_or_else(|| panic!("a connected strap names its adapter: {strap}"));
            per_adapter
                .entry(adapter.to_owned())
                .or_default()
                .push(strap["id"].as_str().unwrap().to_owned());
        }
        per_adapter
    }
}

/// Each adapter's own strap list agrees with the straps' `adapter`, and its figures add up.
fn assert_adapters_agree_with_straps(list: &StrapList) {
    let per_adapter = list.connected_per_adapter();
    for adapter in list.0["adapters"].as_array().expect("an adapter list") {
        let id = adapter["id"].as_str().unwrap();
        let mut listed: Vec<String> = adapter["straps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|strap| strap.as_str().unwrap().to_owned())
            .collect();
        listed.sort();
        let mut connected = per_adapter.get(id).cloned().unwrap_or_default();
        connected.sort();
        assert_eq!(listed, connected, "adapter {id}: {}", list.0);
        let used = adapter["connectionsInUse"].as_u64().unwrap();
        assert_eq!(used, listed.len() as u64, "{adapter}");
        if adapter["present"] == true {
            assert_eq!(
                adapter["freeConnections"].as_u64().unwrap(),
                adapter["connectionBudget"].as_u64().unwrap() - used,
                "{adapter}"
            );
        }
    }
}

/// Every strap waiting for a connection says so, names the full adapters that hear it, and
/// says what to do.
fn assert_waiting_straps_say_why(list: &StrapList, full_adapters: &[&str]) {
    for strap in list.in_state("no_free_connection") {
        let problem = strap["connectionProblem"]
            .as_str()
            .unwrap_or_else(|| panic!("a waiting strap says why: {strap}"));
        assert!(problem.starts_with("no free connection"), "{problem}");
        for adapter in full_adapters {
            assert!(
                problem.contains(&format!("{adapter} (7 of 7 connections in use)")),
                "{problem}"
            );
        }
        assert!(problem.contains("Bluetooth adapter"), "{problem}");
        assert!(problem.contains("relay"), "{problem}");
        assert!(strap.get("adapter").is_none(), "{strap}");
    }
    for strap in list.in_state("connected") {
        assert!(strap.get("connectionProblem").is_none(), "{strap}");
    }
}

#[test]
fn sixteen_straps_on_two_adapters_of_seven_then_one_adapter_unplugged_and_back() {
    let bluez = EmulatedBluez::start(&[
        "--straps",
        "16",
        "--adapters",
        "2",
        "--links-per-adapter",
        "7",
    ]);
    let hub = HubProcess::start(
        &["--ble", "--ble-links-per-adapter", "7"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bluez.address.as_str())],
    );

    // 14 connected, 7 through each adapter; the 2 left over heard but waiting, with the reason.
    let full = wait_for_list(
        &hub,
        Duration::from_secs(90),
        "14 straps connected and 2 without a free connection",
        |list| {
            list.straps().len() == 16
                && list.count("connected") == 14
                && list.count("no_free_connection") == 2
        },
    );
    let per_adapter = full.connected_per_adapter();
    eprintln!(
        "two adapters: {}",
        per_adapter
            .iter()
            .map(|(adapter, straps)| format!("{adapter} holds {} straps", straps.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(per_adapter.len(), 2, "{}", full.0);
    assert!(
        per_adapter.values().all(|straps| straps.len() == 7),
        "{per_adapter:?}"
    );
    assert_waiting_straps_say_why(&full, &["hci0", "hci1"]);
    assert_adapters_agree_with_straps(&full);
    for id in ["hci0", "hci1"] {
        let adapter = full.adapter(id);
        assert_eq!(adapter["present"], true, "{adapter}");
        assert_eq!(adapter["connectionBudget"], 7, "{adapter}");
        assert_eq!(adapter["connectionsInUse"], 7, "{adapter}");
        assert_eq!(adapter["freeConnections"], 0, "{adapter}");
        // The hub kept to its budget: the controller never had to refuse a connection.
        assert!(adapter.get("controllerRefusal").is_none(), "{adapter}");
    }
    assert_eq!(full.adapter("hci0")["address"], "00:1A:7D:DA:71:13");
    assert_eq!(full.adapter("hci1")["address"], "00:1A:7D:DA:71:14");
    let advice = full.0["advice"].as_str().expect("advice while straps wait");
    assert!(
        advice.starts_with("2 straps are heard but not connected"),
        "{advice}"
    );

    // hci1 unplugged: its 7 straps lose their connections; hci0 is full, so they wait with
    // the 2 already waiting, and hci1 stays listed as gone.
    bluez.remove_adapter("hci1");
    let one_adapter = wait_for_list(
        &hub,
        Duration::from_secs(30),
        "7 straps connected through hci0 and 9 waiting after hci1 went away",
        |list| {
            list.adapter("hci1")["present"] == false
                && list.count("connected") == 7
                && list.count("no_free_connection") == 9
        },
    );
    let per_adapter_after = one_adapter.connected_per_adapter();
    eprintln!(
        "hci1 unplugged: hci0 holds {} straps, {} wait for a free connection",
        per_adapter_after.get("hci0").map_or(0, Vec::len),
        one_adapter.count("no_free_connection")
    );
    assert_eq!(
        per_adapter_after.get("hci0"),
        per_adapter.get("hci0"),
        "hci0 keeps the straps it held"
    );
    assert_eq!(per_adapter_after.len(), 1, "{}", one_adapter.0);
    assert_waiting_straps_say_why(&one_adapter, &["hci0"]);
    assert_adapters_agree_with_straps(&one_adapter);
    let gone = one_adapter.adapter("hci1");
    assert_eq!(gone["connectionsInUse"], 0, "{gone}");
    assert_eq!(gone["freeConnections"], 0, "{gone}");
    assert_eq!(gone["straps"], serde_json::json!([]), "{gone}");
    let advice = one_adapter.0["advice"].as_str().expect("advice");
    assert!(advice.starts_with("9 straps are heard"), "{advice}");
    for strap in per_adapter["hci1"].iter() {
        let listed = one_adapter
            .straps()
            .into_iter()
            .find(|listed| listed["id"] == strap.as_str())
            .expect("a strap of hci1 is still listed");
        assert_eq!(listed["state"], "no_free_connection", "{listed}");
    }

    // hci1 plugged in again: waiting straps move to its free connections, 7 of the 9.
    bluez.add_adapter("hci1");
    let back = wait_for_list(
        &hub,
        Duration::from_secs(60),
        "14 straps connected again once hci1 is back",
        |list| {
            list.adapter("hci1")["present"] == true
                && list.count("connected") == 14
                && list.count("no_free_connection") == 2
        },
    );
    let per_adapter_back = back.connected_per_adapter();
    eprintln!(
        "hci1 back: {}",
        per_adapter_back
            .iter()
            .map(|(adapter, straps)| format!("{adapter} holds {} straps", straps.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(per_adapter_back.get("hci0"), per_adapter.get("hci0"));
    assert_eq!(per_adapter_back.get("hci1").map(Vec::len), Some(7));
    assert_waiting_straps_say_why(&back, &["hci0", "hci1"]);
    assert_adapters_agree_with_straps(&back);

    let StoppedHub { exit, log, .. } = hub.stop();
    assert!(exit.success(), "{log}");
    drop(bluez);
}

#[test]
fn the_budget_from_the_environment_caps_an_adapter_below_what_its_controller_holds() {
    // The emulated controller takes any number of connections; the hub's budget of 2 is what
    // leaves the third strap waiting.
    let bluez = EmulatedBluez::start(&["--straps", "3"]);
    let hub = HubProcess::start(
        &["--ble"],
        &[
            ("DBUS_SYSTEM_BUS_ADDRESS", bluez.address.as_str()),
            ("SYNCHUB_BLE_LINKS_PER_ADAPTER", "2"),
        ],
    );
    let list = wait_for_list(
        &hub,
        Duration::from_secs(60),
        "2 straps connected and 1 waiting",
        |list| {
            list.straps().len() == 3
                && list.count("connected") == 2
                && list.count("no_free_connection") == 1
        },
    );
    let adapter = list.adapter("hci0");
    assert_eq!(adapter["connectionBudget"], 2, "{adapter}");
    assert_eq!(adapter["connectionsInUse"], 2, "{adapter}");
    assert_eq!(adapter["freeConnections"], 0, "{adapter}");
    let waiting = list.in_state("no_free_connection")[0];
    let problem = waiting["connectionProblem"].as_str().expect("a reason");
    assert!(
        problem.contains("hci0 (2 of 2 connections in use)"),
        "{problem}"
    );
    let StoppedHub { exit, log, .. } = hub.stop();
    assert!(exit.success(), "{log}");
    drop(bluez);
}

#[test]
fn a_budget_of_zero_connections_is_refused_with_what_to_set() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_synchub"))
        .args(["serve", "--ble", "--ble-links-per-adapter", "0"])
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-mdns",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("SYNCHUB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("synchub serve starts");
    // A hub that accepted the budget would serve until stopped: give it a deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = serve.try_wait().expect("waiting for synchub serve") {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = serve.kill();
            let _ = serve.wait();
            panic!("synchub serve accepted a budget of 0 connections and kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    serve
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("stderr is UTF-8");
    assert!(!exit.success());
    assert!(stderr.contains("must be at least 1"), "{stderr}");
    assert!(stderr.contains("--ble-links-per-adapter"), "{stderr}");
}
