//! Runs `synchub-ble-probe` as a child process and reads its JSON lines.

use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The probe binary Cargo built for these tests.
pub const PROBE: &str = env!("CARGO_BIN_EXE_synchub-ble-probe");

/// A running probe and the lines it printed so far.
pub struct Probe {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Every line received, in order, for assertions and failure messages.
    pub seen: Vec<Value>,
}

impl Probe {
    /// Starts the probe on the given system bus address, with `args`.
    pub fn start(bus_address: &str, args: &[&str]) -> Probe {
        let mut child = Command::new(PROBE)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus_address)
            .env("RUST_LOG", "synchub_ble=debug")
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the probe binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("probe printed non-JSON {line:?}: {error}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `within` for a line matching `wanted`, keeping every line seen. Panics with
    /// the lines seen so far when none comes.
    pub fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {what} within {within:?}; the probe printed (beats left out, last 40 \
                     lines):\n{}",
                    self.transcript_without_beats(40)
                ),
            }
        }
    }

    /// The last `lines` lines seen that are not beats, for failure messages.
    pub fn transcript_without_beats(&self, lines: usize) -> String {
        let kept: Vec<String> = self
            .seen
            .iter()
            .filter(|line| line["event"] != "beats")
            .map(Value::to_string)
            .collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits up to `within` for a snapshot line (`--snapshot-every-secs`) for which `wanted`
    /// holds, and returns the snapshot.
    pub fn wait_for_snapshot(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        let line = self.wait_for(within, what, |line| {
            line["event"] == "snapshot" && wanted(&Snapshot(line["snapshot"].clone()))
        });
        Snapshot(line["snapshot"].clone())
    }

    /// Waits for the probe to exit by itself and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for the probe") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the probe did not exit within {within:?}");
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `{"event":"snapshot"}` of the probe: the reader's adapters, straps and advice.
#[derive(Debug, Clone)]
pub struct Snapshot(pub Value);

impl Snapshot {
    /// The adapters' ids, in the snapshot's order.
    pub fn adapter_ids(&self) -> Vec<&str> {
        self.adapters()
            .iter()
            .map(|adapter| adapter["id"].as_str().expect("an adapter id"))
            .collect()
    }

    pub fn adapters(&self) -> &[Value] {
        self.0["adapters"].as_array().expect("adapters")
    }

    pub fn adapter(&self, id: &str) -> &Value {
        self.adapters()
            .iter()
            .find(|adapter| adapter["id"] == id)
            .unwrap_or_else(|| panic!("no adapter {id} in {}", self.0))
    }

    pub fn straps(&self) -> &[Value] {
        self.0["straps"].as_array().expect("straps")
    }

    pub fn strap(&self, id: &str) -> &Value {
        self.straps()
            .iter()
            .find(|strap| strap["id"] == id)
            .unwrap_or_else(|| panic!("no strap {id} in {}", self.0))
    }

    /// The ids of the straps in `state`, ordered by id.
    pub fn in_state(&self, state: &str) -> Vec<&str> {
        self.straps()
            .iter()
            .filter(|strap| strap["state"] == state)
            .map(|strap| strap["id"].as_str().expect("a strap id"))
            .collect()
    }

    /// The ids of the straps placed on `adapter`, as the adapter lists them.
    pub fn straps_on(&self, adapter: &str) -> Vec<&str> {
        self.adapter(adapter)["straps"]
            .as_array()
            .expect("an adapter's straps")
            .iter()
            .map(|strap| strap.as_str().expect("a strap id"))
            .collect()
    }
}

/// The Bluetooth address of emulated strap `number` (tools/bluez-emulator/README.md, "Straps").
pub fn strap_address(number: u32) -> String {
    match number {
        1 => "A0:9E:1A:A1:B2:C3".to_owned(),
        2 => "C8:3E:99:4D:A1:02".to_owned(),
        k => format!("A0:9E:1A:00:00:{k:02X}"),
    }
}

/// The addresses of emulated straps `numbers`, ordered as the reader orders strap ids.
pub fn strap_addresses(numbers: impl IntoIterator<Item = u32>) -> Vec<String> {
    let mut addresses: Vec<String> = numbers.into_iter().map(strap_address).collect();
    addresses.sort();
    addresses
}

/// The emulated BlueZ of `tools/bluez-emulator/` on its own private bus, stopped on drop.
pub struct Emulator {
    child: Child,
    /// `unix:path=…`, the value for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
}

impl Emulator {
    /// Starts `tools/bluez-emulator/start` with `args` and waits for its address line. `None`
    /// (after a loud message) only when dbus-daemon is not installed on a developer's machine;
    /// in CI (`CI` set) that too is a failure, as is everything else missing.
    pub fn start(args: &[&str]) -> Option<Emulator> {
        if Command::new("dbus-daemon")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            // In CI scripts/test has installed it, so its absence is a broken setup, not a
            // reason to skip.
            assert!(
                std::env::var_os("CI").is_none(),
                "dbus-daemon is not installed; scripts/test installs it with tools/bluez-emulator/install-deps"
            );
            eprintln!(
                "\n*** SKIPPED: dbus-daemon is not installed, so the emulated BlueZ cannot run.\n\
                 *** Install it with tools/bluez-emulator/install-deps (scripts/test does).\n"
            );
            return None;
        }
        Some(Emulator::try_start(args).unwrap_or_else(|error| panic!("{error}")))
    }

    fn try_start(args: &[&str]) -> Result<Emulator, String> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tools/bluez-emulator/start"
        );
        let mut child = Command::new(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot run {script}: {error}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let address = match receiver.recv_timeout(Duration::from_secs(40)) {
            Ok(line) => line
                .trim()
                .strip_prefix("DBUS_SYSTEM_BUS_ADDRESS=")
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!(
                        "the emulator failed to start (see its stderr above); it printed {line:?}"
                    )
                }),
            Err(_) => Err("the emulator printed no address within 40 s".to_owned()),
        };
        match address {
            Ok(address) => Ok(Emulator { child, address }),
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(error)
            }
        }
    }
}

impl Emulator {
    /// Unplugs an adapter (`hci1`) while the emulator runs: its straps disconnect, then its
    /// devices and itself leave the bus, as when BlueZ loses a controller.
    pub fn remove_adapter(&self, name: &str) {
        self.control("RemoveAdapter", name);
    }

    /// Plugs an adapter (`hci2`) in while the emulator runs.
    pub fn add_adapter(&self, name: &str) {
        self.control("AddAdapter", name);
    }

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

impl Drop for Emulator {
    fn drop(&mut self) {
        // SIGTERM lets `start` stop the emulator and dbus-daemon and remove its temp dir; it
        // answers within a second. SIGKILL (Child::kill) is the fallback: its children still
        // get SIGTERM through their parent-death signal.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The beat sequence of emulated strap `strap_number` (tools/bluez-emulator/README.md,
/// "Notification pattern"), as the Heart Rate Service carries it: each RR in ms rounded to
/// 1/1024 s, then converted back to ms as the parser does.
pub fn emulated_rr_ms(strap_number: u32, beats: usize) -> Vec<f64> {
    let base_ms = match strap_number {
        1 => 1000.0,
        2 => 800.0,
        k => f64::max(600.0, 1000.0 - 50.0 * f64::from(k - 1)),
    };
    let mut beat_start_ms = 0.0_f64;
    (0..beats)
        .map(|_| {
            let t_secs = beat_start_ms / 1000.0;
            let rr_ms =
                (base_ms + 60.0 * (2.0 * std::f64::consts::PI * 0.1 * t_secs).sin() + 0.5).floor();
            beat_start_ms += rr_ms;
            let rr_1024 = ((2048.0 * rr_ms + 1000.0) / 2000.0).floor();
            rr_1024 * 1000.0 / 1024.0
        })
        .collect()
}
