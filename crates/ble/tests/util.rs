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
                    "no {what} within {within:?}; the probe printed:\n{}",
                    self.seen
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
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
