//! `synchub relay` with real processes: a hub and a relay, each reading its own emulated
//! BlueZ on its own private bus (`tools/bluez-emulator`), the relay in its own network
//! namespace joined to the hub's by a veth pair the test creates, so its link can be taken
//! down like a Wi-Fi that drops. What the hub stores is compared with the emulator's own record
//! of every packet its straps sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::straps::{EmulatedBluez, wait_for_straps};
use crate::util::{
    HubProcess, INSIDE_PRIVATE_NETNS, Lines, collect_lines, rerun_in_private_network_namespace,
    snapshot,
};

/// The relay's name in these tests.
const RELAY: &str = "back-row";

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|error| panic!("{program} {args:?}: {error}"));
    assert!(status.success(), "{program} {args:?} failed");
}

fn signal(pid: u32, name: &str) {
    run("kill", &[&format!("-{name}"), &pid.to_string()]);
}

/// `synchub serve` on data directory `dir` (listening on `bind`), reading Bluetooth through
/// the emulated BlueZ on `bus` if there is one.
fn start_hub(dir: tempfile::TempDir, bus: Option<&str>, bind: &str) -> HubProcess {
    match bus {
        Some(bus) => {
            HubProcess::start_bound(dir, bind, &["--ble"], &[("DBUS_SYSTEM_BUS_ADDRESS", bus)])
        }
        None => HubProcess::start_bound(dir, bind, &[], &[]),
    }
}

fn database(hub: &HubProcess) -> PathBuf {
    hub.data_dir().join("synchub.sqlite3")
}

/// The relay as the hub's `GET /api/relays` lists it (null when it is not listed).
fn relay_info(hub: &HubProcess) -> Value {
    let (status, body) = hub.call("GET", "/api/relays", None);
    assert_eq!(status, 200, "{body}");
    body["relays"]
        .as_array()
        .and_then(|relays| relays.iter().find(|relay| relay["name"] == RELAY).cloned())
        .unwrap_or(Value::Null)
}

/// Where the relay runs: in its own network namespace behind a veth pair, or on loopback.
#[derive(Clone, Copy, PartialEq)]
enum Network {
    OwnNamespace,
    Loopback,
}

/// A `synchub relay` process.
struct Relay {
    child: Child,
    stdout: Lines,
    log: Lines,
}

const HUB_SIDE: &str = "veth-hub";
const RELAY_SIDE: &str = "veth-relay";

impl Relay {
    fn start(network: Network, hub_port: u16, token: &str, bus: &str, data_dir: &Path) -> Relay {
        let synchub = env!("CARGO_BIN_EXE_synchub");
        let hub_url = match network {
            Network::OwnNamespace => format!("http://10.77.0.1:{hub_port}"),
            Network::Loopback => format!("http://127.0.0.1:{hub_port}"),
        };
        let relay_args = [
            "relay",
            "--hub",
            &hub_url,
            "--token",
            token,
            "--name",
            RELAY,
            "--status-secs",
            "2",
            "--ble-links-per-adapter",
            "7",
        ];
        let mut command = match network {
            Network::Loopback => {
                let mut command = Command::new(synchub);
                command.args(relay_args);
                command
            }
            Network::OwnNamespace => {
                // The relay's side of the link appears once the test has made the pair.
                let script = format!(
                    "until ip link show {RELAY_SIDE} >/dev/null 2>&1; do sleep 0.05; done; \
                     ip link set lo up && ip addr add 10.77.0.2/24 dev {RELAY_SIDE} && \
                     ip link set {RELAY_SIDE} up && exec \"$0\" \"$@\""
                );
                let mut command = Command::new("unshare");
                command
                    .args(["-n", "sh", "-c", &script, synchub])
                    .args(relay_args);
                command
            }
        };
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("synchub relay starts");
        let stdout = collect_lines(child.stdout.take().expect("piped stdout"));
        let log = collect_lines(child.stderr.take().expect("piped stderr"));
        if network == Network::OwnNamespace {
            let pid = child.id().to_string();
            // The pair's far end goes into the relay's namespace: wait until it has one.
            let own = std::fs::read_link("/proc/self/ns/net").expect("this namespace");
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .as_ref()
                == Some(&own)
            {
                assert!(
                    Instant::now() < deadline,
                    "the relay's network namespace did not appear"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            run(
                "ip",
                &[
                    "link", "add", HUB_SIDE, "type", "veth", "peer", "name", RELAY_SIDE, "netns",
                    &pid,
                ],
            );
            run("ip", &["addr", "add", "10.77.0.1/24", "dev", HUB_SIDE]);
            run("ip", &["link", "set", HUB_SIDE, "up"]);
        }
        Relay { child, stdout, log }
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            snapshot(&self.stdout).join("\n"),
            snapshot(&self.log).join("\n")
        )
    }

    /// Waits until the relay has been welcomed `times` times since it started.
    fn wait_connected(&self, times: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while snapshot(&self.stdout)
            .iter()
            .filter(|line| line.starts_with(&format!("synchub relay {RELAY} connected to")))
            .count()
            < times
        {
            assert!(
                Instant::now() < deadline,
                "the relay was not welcomed {times} times within {limit:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the relay to exit by itself; fails the test, naming `what`, after `limit`.
    fn wait_exit(&mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(exit) = self.child.try_wait().expect("the relay's status") {
                return exit;
            }
            assert!(
                Instant::now() < deadline,
                "{what} kept running:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(mut self) {
        signal(self.child.id(), "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Heart Rate packet in the emulator's record.
#[derive(Debug, Clone, PartialEq)]
struct Packet {
    index: u64,
    /// RR values in ms as the wire carries them (1/1024 s).
    rr_ms: Vec<f64>,
}

/// Every packet each strap sent to a client that was there to receive it, by address, in
/// order. Packets logged from line `resumed_at` (the emulator was paused while the relay was
/// killed) until the emulator noticed the relay had left the bus went to nobody; they are
/// returned apart.
fn delivered_packets(
    log: &[String],
    killed: &[(usize, usize)],
) -> (HashMap<String, Vec<Packet>>, usize) {
    let mut delivered: HashMap<String, Vec<Packet>> = HashMap::new();
    let mut to_nobody = 0;
    for (number, line) in log.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 5 || words[0] != "bluez-emulator:" || words[2] != "packet" {
            continue;
        }
        if killed
            .iter()
            .any(|&(resumed_at, left_at)| number >= resumed_at && number < left_at)
        {
            to_nobody += 1;
            continue;
        }
        let index = words[3]
            .trim_end_matches(':')
            .parse()
            .expect("a packet index");
        let bytes = hex::decode(words[4]).expect("packet hex");
        let rr_ms = bytes[2..]
            .chunks(2)
            .map(|pair| f64::from(u16::from_le_bytes([pair[0], pair[1]])) * 1000.0 / 1024.0)
            .collect();
        delivered
            .entry(words[1].to_owned())
            .or_default()
            .push(Packet { index, rr_ms });
    }
    (delivered, to_nobody)
}

/// The first line at or after `from` saying a client left the bus.
fn left_the_bus_after(log: &Lines, from: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = snapshot(log)
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, line)| line.contains("left the bus"))
            .map(|(number, _)| number)
        {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the emulator never saw the relay leave its bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One stored participant's batches: `(batch_seq, rr values)` in storage order.
fn stored_batches(database: &Path) -> Vec<Vec<(i64, Vec<f64>)>> {
    let connection = rusqlite::Connection::open(database).expect("the hub's database");
    let mut participants = connection
        .prepare("SELECT id FROM session_participants ORDER BY id")
        .unwrap();
    let ids: Vec<i64> = participants
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ids.iter()
        .map(|id| {
            let mut rows = connection
                .prepare("SELECT batch_seq, rr_ms FROM rr_intervals WHERE participant_ref = ?1 ORDER BY id")
                .unwrap();
            let mut batches: Vec<(i64, Vec<f64>)> = Vec::new();
            for row in rows
                .query_map([id], |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, f64>(1)?)))
                .unwrap()
            {
                let (seq, rr) = row.unwrap();
                let seq = seq.unwrap_or(-1);
                match batches.last_mut() {
                    Some((last, values)) if *last == seq => values.push(rr),
                    _ => batches.push((seq, vec![rr])),
                }
            }
            batches
        })
        .collect()
}

fn scored_participants(database: &Path) -> i64 {
    crate::util::count_rows(
        database,
        "SELECT COUNT(DISTINCT participant_ref) FROM hrv_metrics",
    )
}

/// How long the relay's link stays down (`scripts/relay-cut` sets 60).
fn cut_secs() -> u64 {
    std::env::var("SYNCHUB_TEST_RELAY_CUT_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(30)
}

const EXACTLY_ONCE: &str =
    "relay::relay_straps_are_scored_and_stored_exactly_once_through_a_cut_and_a_kill";

#[test]
fn relay_straps_are_scored_and_stored_exactly_once_through_a_cut_and_a_kill() {
    if std::env::var_os(INSIDE_PRIVATE_NETNS).is_none() {
        rerun_in_private_network_namespace(EXACTLY_ONCE, "ip link set lo up");
        return;
    }
    let hub_bluez = EmulatedBluez::start(&[
        "--adapters",
        "2",
        "--links-per-adapter",
        "7",
        "--straps",
        "12",
    ]);
    let relay_bluez = EmulatedBluez::start(&[
        "--adapters",
        "3",
        "--links-per-adapter",
        "7",
        "--straps",
        "18",
    ]);
    let hub = start_hub(
        tempfile::tempdir().expect("the hub's data directory"),
        Some(&hub_bluez.address),
        "0.0.0.0",
    );
    let (status, created) = hub.call("POST", "/api/relays", Some(&json!({"name": RELAY})));
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("a token").to_owned();
    assert!(
        created["command"]
            .as_str()
            .is_some_and(|command| command.contains(&format!("--token {token}"))),
        "{created}"
    );
    let relay_dir = tempfile::tempdir().expect("the relay's data directory");
    let relay = Relay::start(
        Network::OwnNamespace,
        hub.port,
        &token,
        &relay_bluez.address,
        relay_dir.path(),
    );
    relay.wait_connected(1, Duration::from_secs(60));

    // All 30 straps connected: 12 through the hub's 2 adapters, 18 through the relay's 3.
    let connected = |strap: &Value| strap["state"] == "connected";
    eprintln!("relay welcomed; waiting for 30 connected straps");
    let straps = wait_for_straps(
        &hub,
        Duration::from_secs(90),
        "30 connected straps",
        |straps| straps.len() == 30 && straps.iter().all(connected),
    );
    let via_relay: Vec<&Value> = straps
        .iter()
        .filter(|strap| strap["via"] == RELAY)
        .collect();
    assert_eq!(via_relay.len(), 18, "{straps:?}");
    assert!(via_relay.iter().all(|strap| {
        strap["id"]
            .as_str()
            .is_some_and(|id| id.ends_with("@back-row"))
    }));

    // Every strap assigned, the hub's first, then the relay's: participants are stored in
    // this order.
    let (status, _) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201);
    let mut order: Vec<Value> = straps
        .iter()
        .filter(|strap| strap["via"].is_null())
        .cloned()
        .collect();
    order.extend(via_relay.iter().map(|strap| (*strap).clone()));
    for (seat, strap) in order.iter().enumerate() {
        let id = strap["id"].as_str().expect("an id");
        let (status, assigned) = hub.call(
            "POST",
            &format!("/api/straps/{id}/assign"),
            Some(&json!({"label": format!("Seat {seat}"), "consent": {"research": true}})),
        );
        assert_eq!(status, 200, "{assigned}");
        assert_eq!(assigned["via"], strap["via"]);
    }

    // All 30 scored.
    let database = database(&hub);
    let deadline = Instant::now() + Duration::from_secs(120);
    while scored_participants(&database) < 30 {
        assert!(
            Instant::now() < deadline,
            "not every strap was scored: {} of 30\n{}",
            scored_participants(&database),
            hub.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    eprintln!("all 30 straps scored; cutting the relay's link");
    // The relay's link goes down, as a Wi-Fi does: no reset, nothing.
    let cut = Duration::from_secs(cut_secs());
    run("ip", &["link", "set", HUB_SIDE, "down"]);
    let cut_at = Instant::now();
    std::thread::sleep(cut);
    let queued = relay_info(&hub);
    eprintln!(
        "the relay's link was down {:?}; its last report: {queued}",
        cut_at.elapsed()
    );

    // The straps fall silent (the emulator is paused) so that nothing is in flight when the
    // relay is killed; the link comes back; the relay is killed right after it reconnects,
    // while the hub is storing its backlog and acknowledging it.
    signal(relay_bluez.emulator_pid(), "STOP");
    std::thread::sleep(Duration::from_millis(1500));
    run("ip", &["link", "set", HUB_SIDE, "up"]);
    relay.wait_connected(2, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    let relay_output = relay.output();
    relay.kill();
    let resumed_at = snapshot(&relay_bluez.log).len();
    signal(relay_bluez.emulator_pid(), "CONT");
    let left_at = left_the_bus_after(&relay_bluez.log, resumed_at, Duration::from_secs(10));

    eprintln!("relay killed after it reconnected; restarting it");
    // Restarted on the same data directory (its queue), in a new namespace and link.
    let relay = Relay::start(
        Network::OwnNamespace,
        hub.port,
        &token,
        &relay_bluez.address,
        relay_dir.path(),
    );
    relay.wait_connected(1, Duration::from_secs(60));
    wait_for_straps(
        &hub,
        Duration::from_secs(60),
        "the relay's straps connected again",
        |straps| {
            straps
                .iter()
                .filter(|strap| strap["via"] == RELAY && connected(strap))
                .count()
                == 18
        },
    );
    std::thread::sleep(Duration::from_secs(10));

    // The straps stop; everything the relay holds reaches the hub's disk.
    signal(relay_bluez.emulator_pid(), "STOP");
    std::thread::sleep(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = relay_info(&hub);
        if info["connected"] == true && info["queue"]["batches"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay's queue did not drain: {info}\n{}",
            relay.output()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Its report is every 2 s; one more so the one read above is not older than the last ack.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(relay_info(&hub)["queue"]["batches"], 0);

    let (delivered, to_nobody) =
        delivered_packets(&snapshot(&relay_bluez.log), &[(resumed_at, left_at)]);
    let stored = stored_batches(&database);
    assert_eq!(stored.len(), 30, "one participant per strap");
    let mut checked_batches = 0;
    for (strap, batches) in via_relay.iter().zip(&stored[12..]) {
        let address = strap["id"]
            .as_str()
            .and_then(|id| id.split_once('@'))
            .map(|(address, _)| address)
            .expect("a relay strap id");
        let sent = &delivered[address];
        // Stored once each: no seq twice.
        let mut seqs: Vec<i64> = batches.iter().map(|(seq, _)| *seq).collect();
        seqs.sort_unstable();
        let unique = seqs.len();
        seqs.dedup();
        assert_eq!(seqs.len(), unique, "{address}: a batch was stored twice");
        // Every packet the relay received from the strap's assignment on is stored: the seqs
        // run without a gap up to the last packet the strap sent.
        let first = usize::try_from(seqs[0]).expect("a relay seq");
        let expected: Vec<i64> = (seqs[0]..).take(sent.len() - first).collect();
        let mut in_seq_order = batches.clone();
        in_seq_order.sort_by_key(|(seq, _)| *seq);
        assert_eq!(
            seqs,
            expected,
            "{address}: stored seqs are not every packet from {first} to the last ({} sent)",
            sent.len()
        );
        // And each is that packet's beats, byte for byte.
        for (seq, rr) in &in_seq_order {
            let packet = &sent[usize::try_from(*seq).unwrap()];
            assert_eq!(
                rr.len(),
                packet.rr_ms.len(),
                "{address} packet {}",
                packet.index
            );
            for (stored_rr, sent_rr) in rr.iter().zip(&packet.rr_ms) {
                assert!(
                    (stored_rr - sent_rr).abs() < 1e-6,
                    "{address} packet {}: {rr:?} vs {:?}",
                    packet.index,
                    packet.rr_ms
                );
            }
        }
        checked_batches += batches.len();
    }
    eprintln!(
        "exactly once: {checked_batches} batches of 18 relay straps, each stored once and equal to the emulator's packets; \
         {to_nobody} packets went to nobody while the relay was dead; the relay before its kill:\n{relay_output}"
    );
    signal(relay_bluez.emulator_pid(), "CONT");
    drop(relay);
}

/// A `/ws` client that speaks the relay events itself.
async fn relay_hello(port: u16, token: &str) -> Value {
    use futures_util::{SinkExt as _, StreamExt as _};
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?role=relay&protocol=2"))
            .await
            .expect("a /ws connection");
    let hello = json!({"event": "relay_hello", "data": {"token": token}}).to_string();
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(hello))
        .await
        .expect("sent");
    loop {
        match socket.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                return serde_json::from_str(text.as_str()).expect("JSON");
            }
            Some(Ok(_)) => {}
            other => panic!("the hub closed without an answer: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_with_a_wrong_token_is_refused_and_counted_like_a_wrong_room_code() {
    let bluez = EmulatedBluez::start(&["--straps", "1"]);
    let hub = start_hub(tempfile::tempdir().unwrap(), None, "127.0.0.1");
    let (status, created) = hub.call("POST", "/api/relays", Some(&json!({"name": RELAY})));
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let (status, taken) = hub.call("POST", "/api/relays", Some(&json!({"name": RELAY})));
    assert_eq!(status, 409, "{taken}");
    let (status, bad_name) = hub.call("POST", "/api/relays", Some(&json!({"name": "Back Row"})));
    assert_eq!(status, 400, "{bad_name}");

    // A real relay with a wrong token stops and says why.
    let relay_dir = tempfile::tempdir().unwrap();
    let mut wrong = Relay::start(
        Network::Loopback,
        hub.port,
        "0123456789abcdef",
        &bluez.address,
        relay_dir.path(),
    );
    let exit = wrong.wait_exit(Duration::from_secs(30), "a relay with a wrong token");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!exit.success());
    assert!(
        wrong.output().contains("the hub refused this relay"),
        "{}",
        wrong.output()
    );
    assert_eq!(relay_info(&hub)["connected"], false);

    // The relay's own wrong token counted as 1 of the address's 10 wrong codes; 9 more are
    // refused as wrong, then the address is blocked like a room-code guesser.
    for _ in 0..9 {
        let answer = relay_hello(hub.port, "not-a-token").await;
        assert_eq!(answer["event"], "error", "{answer}");
        assert_eq!(answer["data"]["code"], "unauthorized", "{answer}");
    }
    let blocked = relay_hello(hub.port, &token).await;
    assert_eq!(blocked["data"]["code"], "rate_limited", "{blocked}");

    // A token that survives a restart of the hub: the file holds only its hash.
    let relays_file = std::fs::read_to_string(hub.data_dir().join("relays.json")).unwrap();
    assert!(relays_file.contains(RELAY) && !relays_file.contains(&token));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_token_works_after_a_hub_restart_until_it_is_revoked() {
    let bluez = EmulatedBluez::start(&["--straps", "2"]);
    let mut hub = start_hub(tempfile::tempdir().unwrap(), None, "127.0.0.1");
    let (_, created) = hub.call("POST", "/api/relays", Some(&json!({"name": RELAY})));
    let token = created["token"].as_str().unwrap().to_owned();
    // The hub restarts on its data directory; it reads no Bluetooth of its own.
    let hub_dir = hub.take_dir();
    drop(hub);
    let hub = start_hub(hub_dir, None, "127.0.0.1");

    let relay_dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(
        Network::Loopback,
        hub.port,
        &token,
        &bluez.address,
        relay_dir.path(),
    );
    relay.wait_connected(1, Duration::from_secs(30));
    // Its straps are listed via the relay although this hub reads no Bluetooth itself.
    let straps = wait_for_straps(
        &hub,
        Duration::from_secs(30),
        "the relay's 2 straps",
        |straps| straps.iter().filter(|strap| strap["via"] == RELAY).count() == 2,
    );
    assert_eq!(straps.len(), 2);
    let (_, list) = hub.call("GET", "/api/straps", None);
    assert_eq!(list["available"], true, "{list}");
    let info = relay_info(&hub);
    assert_eq!(info["connected"], true, "{info}");

    // Revoked: the relay is dropped, and refused when it comes back, so it stops.
    let (status, _) = hub.call("DELETE", &format!("/api/relays/{RELAY}"), None);
    assert_eq!(status, 204);
    let (_, list) = hub.call("GET", "/api/relays", None);
    assert_eq!(list["relays"], json!([]));
    let exit = relay.wait_exit(Duration::from_secs(60), "a revoked relay");
    assert!(!exit.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        relay.output().contains("the hub refused this relay"),
        "{}",
        relay.output()
    );
}
