//! Hub-read Bluetooth straps through the real btleplug → BlueZ (D-Bus) path: the hub process
//! talks to an emulated BlueZ on a private bus (`tools/bluez-emulator`), never to the
//! machine's own Bluetooth. Without any bus the hub runs and says why.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{
    HubProcess, Lines, StoppedHub, WsClient, collect_lines, count_rows, now_ms, repo_root,
};

/// The emulated BlueZ with its private bus; stopped (with its bus) when dropped.
pub struct EmulatedBluez {
    child: Child,
    pub address: String,
    /// The emulator's log: among others, its record of every packet its straps sent.
    pub log: Lines,
}

impl EmulatedBluez {
    pub fn start(args: &[&str]) -> EmulatedBluez {
        let script = repo_root().join("tools/bluez-emulator/start");
        let mut child = Command::new(&script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; run tools/bluez-emulator/install-deps",
                    script.display()
                )
            });
        let log = collect_lines(child.stderr.take().expect("piped stderr"));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the emulator prints its bus address");
        let address = line
            .trim()
            .strip_prefix("DBUS_SYSTEM_BUS_ADDRESS=")
            .unwrap_or_else(|| {
                panic!("the emulator did not start (printed {line:?}); run tools/bluez-emulator/install-deps")
            })
            .to_owned();
        EmulatedBluez {
            child,
            address,
            log,
        }
    }

    /// The emulator's own process (a child of `start`), to pause and resume its straps.
    pub fn emulator_pid(&self) -> u32 {
        self.find_emulator_pid().expect("the emulator's process")
    }

    fn find_emulator_pid(&self) -> Option<u32> {
        let parent = self.child.id();
        std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|ppid| ppid.parse::<u32>().ok());
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                ppid == Some(parent)
                    && String::from_utf8_lossy(&cmdline).contains("bluez_emulator.py")
            })
    }

    /// Unplugs an adapter (`hci1`) while the emulator runs: its straps disconnect, then its
    /// devices and itself leave the bus, as when BlueZ loses a controller.
    pub fn remove_adapter(&self, name: &str) {
        self.control("RemoveAdapter", name);
    }

    /// Plugs an adapter (`hci1`) in while the emulator runs.
    pub fn add_adapter(&self, name: &str) {
        self.control("AddAdapter", name);
    }

    /// Calls the emulator's own control object (not part of BlueZ).
    fn control(&self, method: &str, adapter: &str) {
        let output = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.bluez",
                "/org/synchub/emulator",
                &format!("org.synchub.BluezEmulator1.{method}"),
                &format!("string:{adapter}"),
            ])
            .output()
            .expect("dbus-send runs (tools/bluez-emulator/install-deps installs it)");
        assert!(
            output.status.success(),
            "{method} {adapter} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for EmulatedBluez {
    fn drop(&mut self) {
        // A paused emulator could not stop when `start` asks it to.
        if let Some(pid) = self.find_emulator_pid() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Polls `GET /api/straps` until `done` holds for the list, or fails after `limit`.
pub fn wait_for_straps(
    hub: &HubProcess,
    limit: Duration,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = hub.call("GET", "/api/straps", None);
        assert_eq!(status, 200, "{body}");
        let straps = body["straps"].as_array().cloned().unwrap_or_default();
        if done(&straps) {
            return straps;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen within {limit:?}; straps: {body}\nhub log:\n{}",
            hub.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn strap_named<'a>(straps: &'a [Value], name: &str) -> &'a Value {
    straps
        .iter()
        .find(|strap| {
            strap["name"]
                .as_str()
                .is_some_and(|known| known.starts_with(name))
        })
        .unwrap_or_else(|| panic!("no strap named {name}: {straps:?}"))
}

#[test]
fn without_a_system_bus_the_hub_runs_and_says_why_once() {
    // Switched on by the environment, as a service manager would (1, not only `true`).
    let hub = HubProcess::start(
        &[],
        &[
            ("SYNCHUB_BLE", "1"),
            (
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent/synchub-test-bus",
            ),
        ],
    );
    let (status, body) = hub.call("GET", "/api/straps", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["available"], false);
    let reason = body["reason"].as_str().expect("a reason");
    assert!(!reason.is_empty());
    assert_eq!(body["straps"], json!([]));
    // The rest of the hub works.
    let (status, _) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201);
    let (status, refused) = hub.call(
        "POST",
        "/api/straps/AA:BB:CC:DD:EE:FF/assign",
        Some(&json!({"label": "Seat 1"})),
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains(reason)),
        "{refused}"
    );
    // Logged once at WARN, not in a loop.
    std::thread::sleep(Duration::from_secs(2));
    let StoppedHub { exit, log, .. } = hub.stop();
    assert!(exit.success(), "{log}");
    let warnings = log
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("Bluetooth"))
        .count();
    assert_eq!(warnings, 1, "{log}");
}

#[test]
fn emulated_straps_join_the_room_are_claimed_and_reconnect() {
    // Strap 1 (the Polar) drops its connection 8 s after it is made, once.
    let bluez =
        EmulatedBluez::start(&["--straps", "2", "--drop-after-secs", "8", "--battery", "85"]);
    let hub = HubProcess::start(
        &["--ble"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bluez.address.as_str())],
    );

    let straps = wait_for_straps(
        &hub,
        Duration::from_secs(30),
        "both straps connected",
        |straps| straps.len() == 2 && straps.iter().all(|strap| strap["state"] == "connected"),
    );
    let polar = strap_named(&straps, "Polar H10").clone();
    let garmin = strap_named(&straps, "Garmin HRM-Dual").clone();
    for strap in [&polar, &garmin] {
        assert_eq!(strap["code"].as_str().map(str::len), Some(4), "{strap}");
        assert!(strap.get("assigned").is_none(), "{strap}");
    }
    assert_ne!(polar["code"], garmin["code"]);
    let connected_at = Instant::now();

    let (status, _) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201);
    for (strap, label) in [(&polar, "Seat 1"), (&garmin, "Seat 2")] {
        let id = strap["id"].as_str().unwrap();
        let (status, assigned) = hub.call(
            "POST",
            &format!("/api/straps/{id}/assign"),
            Some(&json!({"label": label, "intention": "grief", "consent": {"research": true}})),
        );
        assert_eq!(status, 200, "{assigned}");
        assert_eq!(assigned["assigned"]["label"], label);
        let (status, again) = hub.call(
            "POST",
            &format!("/api/straps/{id}/assign"),
            Some(&json!({"label": "someone else"})),
        );
        assert_eq!(status, 409, "assigning twice is refused: {again}");
    }

    // Both wearers are participants like any phone: in the participant list with their strap
    // code and battery, and counted in the group.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = hub.call("GET", "/api/participants", None);
        let participants = list["participants"].as_array().cloned().unwrap_or_default();
        let straps: Vec<&Value> = participants
            .iter()
            .filter(|participant| participant["source"] == "ble")
            .collect();
        if straps.len() == 2
            && straps
                .iter()
                .all(|participant| participant["strapBattery"] == 85)
        {
            let mut codes: Vec<&str> = straps
                .iter()
                .filter_map(|participant| participant["strapCode"].as_str())
                .collect();
            codes.sort_unstable();
            let mut expected = [
                polar["code"].as_str().unwrap(),
                garmin["code"].as_str().unwrap(),
            ];
            expected.sort_unstable();
            assert_eq!(codes, expected);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "strap participants not listed: {list}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, current) = hub.call("GET", "/api/sessions/current", None);
    assert_eq!(current["participantCount"], 2, "{current}");

    // A browser on the join page (no heart data of its own) claims the Polar by its code and
    // gets its wearer's feedback once the wearer has a score (about 35 s of beats).
    let port = hub.port;
    let code = polar["code"].as_str().unwrap().to_lowercase();
    let browser = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut browser =
                WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=browser-1")).await;
            browser
                .send("join_session", json!({"device": {"kind": "web"}}))
                .await;
            browser.expect("session_joined").await;
            browser
                .send("claim_strap", json!({"strapCode": "zzzz"}))
                .await;
            let refused = browser.expect("error").await;
            assert_eq!(refused["code"], "unknown_strap", "{refused}");
            browser
                .send("claim_strap", json!({"strapCode": code}))
                .await;
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                // Group updates arrive at 1 Hz meanwhile, so the connection is never idle.
                match browser.next_event().await {
                    Some((event, data)) if event == "personal_feedback" => {
                        browser.close().await;
                        return data;
                    }
                    Some((event, data)) if event == "error" => panic!("error: {data}"),
                    Some(_) => {}
                    None => panic!("the hub closed the browser's connection"),
                }
                assert!(
                    Instant::now() < deadline,
                    "no personal_feedback for the claimed strap"
                );
            }
        })
    });

    // The Polar drops (8 s after connecting); the hub reconnects it and its beats continue.
    wait_for_straps(
        &hub,
        Duration::from_secs(30),
        "the Polar dropping",
        |straps| strap_named(straps, "Polar H10")["state"] != "connected",
    );
    let dropped_at_ms = now_ms();
    assert!(connected_at.elapsed() < Duration::from_secs(30));
    wait_for_straps(
        &hub,
        Duration::from_secs(40),
        "the Polar reconnected",
        |straps| strap_named(straps, "Polar H10")["state"] == "connected",
    );

    let feedback = browser.join().expect("the browser got its feedback");
    assert!(feedback["yourCoherence"].is_number(), "{feedback}");
    assert!(feedback["groupAverage"].is_number(), "{feedback}");
    assert!(
        feedback["heartRate"].is_number(),
        "hub-scored feedback: {feedback}"
    );
    let (_, current) = hub.call("GET", "/api/sessions/current", None);
    assert_eq!(
        current["participantCount"], 3,
        "two wearers and the browser: {current}"
    );

    let StoppedHub { exit, log, dir, .. } = hub.stop();
    assert!(exit.success(), "{log}");
    let database = dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(
            &database,
            "SELECT COUNT(*) FROM session_participants WHERE device = 'ble' AND research_consent = 1"
        ),
        2
    );
    // The Polar's RR are about 1000 ms, the Garmin's about 800 ms (the emulator's patterns):
    // the values arrive as the straps sent them, each wearer's under their own participant.
    let per_participant = count_rows(
        &database,
        "SELECT COUNT(DISTINCT participant_ref) FROM rr_intervals WHERE rr_ms BETWEEN 930 AND 1070",
    );
    assert_eq!(per_participant, 1);
    let garmin_rows = count_rows(
        &database,
        "SELECT COUNT(*) FROM rr_intervals WHERE rr_ms BETWEEN 730 AND 870",
    );
    assert!(garmin_rows > 5, "{garmin_rows} Garmin beats stored");
    let polar_after_reconnect = count_rows(
        &database,
        &format!(
            "SELECT COUNT(*) FROM rr_intervals WHERE rr_ms BETWEEN 930 AND 1070 AND time_ms > {dropped_at_ms}"
        ),
    );
    assert!(
        polar_after_reconnect >= 1,
        "no Polar beats stored after its reconnection"
    );
    let out_of_pattern = count_rows(
        &database,
        "SELECT COUNT(*) FROM rr_intervals WHERE NOT (rr_ms BETWEEN 730 AND 870 OR rr_ms BETWEEN 930 AND 1070)",
    );
    assert_eq!(out_of_pattern, 0);
    drop(bluez);
}
