//! The projector windows: the `synchub-projector` program, started on a monitor the facilitator
//! picks and stopped when the app exits.
//!
//! The projector is its own program, not a window of this one, because its egui/winit event loop
//! and Tauri's cannot share one process on macOS (each wants the main thread). In a release
//! bundle it is a Tauri sidecar (`externalBin`), which the bundler installs next to this app's
//! executable; in a cargo build it is `target/<profile>/synchub-projector`, also next to it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// What a projector needs to know about the room it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTarget {
    /// The hub as this machine reaches it (loopback when the hub listens everywhere).
    pub hub_url: String,
    /// The URL the QR code sends phones to: the hub's LAN address, never loopback.
    pub join_url: String,
    pub room_code: Option<String>,
}

/// Why a projector did not open, as one sentence for the facilitator.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("The projector program is missing: Sync Hub looked for it at {0}.")]
    ProgramMissing(PathBuf),
    #[error(
        "There is no monitor {requested}: this computer has {available} (counted from 0), so pick another one."
    )]
    NoSuchMonitor { requested: usize, available: usize },
    #[error("The projector could not be started: {0}.")]
    Start(std::io::Error),
}

/// The running projector processes, one per monitor at most.
#[derive(Debug)]
pub struct Projectors {
    program: PathBuf,
    running: Mutex<Vec<(usize, Child)>>,
}

impl Projectors {
    /// Projectors started from `synchub-projector` next to this app's own executable.
    pub fn next_to_current_exe() -> std::io::Result<Self> {
        let program = std::env::current_exe()?
            .with_file_name(format!("synchub-projector{}", std::env::consts::EXE_SUFFIX));
        Ok(Self::new(program))
    }

    pub fn new(program: PathBuf) -> Self {
        Self {
            program,
            running: Mutex::new(Vec::new()),
        }
    }

    /// Opens the projector full screen on `monitor` (of `monitor_count`). A second click for a
    /// monitor whose projector is still running leaves that one be.
    pub fn open(
        &self,
        monitor: usize,
        monitor_count: usize,
        room: &RoomTarget,
    ) -> Result<(), ProjectorError> {
        if monitor >= monitor_count {
            return Err(ProjectorError::NoSuchMonitor {
                requested: monitor,
                available: monitor_count,
            });
        }
        if !self.program.is_file() {
            return Err(ProjectorError::ProgramMissing(self.program.clone()));
        }
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget projectors the facilitator has closed.
        running.retain_mut(|(_, child)| matches!(child.try_wait(), Ok(None)));
        if running.iter().any(|(on, _)| *on == monitor) {
            return Ok(());
        }
        let child = Command::new(&self.program)
            .args(arguments(monitor, room))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(ProjectorError::Start)?;
        tracing::info!(monitor, pid = child.id(), "projector opened");
        running.push((monitor, child));
        Ok(())
    }

    /// How many projectors are still running.
    #[cfg(test)]
    fn running_count(&self) -> usize {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        running.retain_mut(|(_, child)| matches!(child.try_wait(), Ok(None)));
        running.len()
    }

    /// Stops every projector (they keep no state, so killing them loses nothing).
    pub fn close_all(&self) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (monitor, mut child) in running.drain(..) {
            if let Err(error) = child.kill().and_then(|()| child.wait().map(drop)) {
                tracing::warn!(monitor, %error, "could not stop a projector");
            }
        }
    }
}

impl Drop for Projectors {
    fn drop(&mut self) {
        self.close_all();
    }
}

/// The projector's command line: full screen on `monitor`, connected to the room's hub.
fn arguments(monitor: usize, room: &RoomTarget) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = vec![
        "--hub".into(),
        room.hub_url.clone().into(),
        "--monitor".into(),
        monitor.to_string().into(),
        "--join-url".into(),
        room.join_url.clone().into(),
    ];
    if let Some(code) = &room.room_code {
        arguments.push("--room-code".into());
        arguments.push(code.clone().into());
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(code: Option<&str>) -> RoomTarget {
        RoomTarget {
            hub_url: "http://127.0.0.1:7878".to_owned(),
            join_url: "http://192.168.1.20:7878/join?room=1234".to_owned(),
            room_code: code.map(str::to_owned),
        }
    }

    #[test]
    fn the_projector_gets_the_hub_the_monitor_and_the_phones_join_url() {
        let check = |code: Option<&str>, expect: &[&str]| {
            let got: Vec<String> = arguments(1, &room(code))
                .into_iter()
                .map(|argument| argument.into_string().unwrap())
                .collect();
            assert_eq!(got, expect);
        };
        check(
            Some("1234"),
            &[
                "--hub",
                "http://127.0.0.1:7878",
                "--monitor",
                "1",
                "--join-url",
                "http://192.168.1.20:7878/join?room=1234",
                "--room-code",
                "1234",
            ],
        );
        check(
            None,
            &[
                "--hub",
                "http://127.0.0.1:7878",
                "--monitor",
                "1",
                "--join-url",
                "http://192.168.1.20:7878/join?room=1234",
            ],
        );
    }

    #[test]
    fn errors_are_one_sentence_for_the_facilitator() {
        let projectors = Projectors::new(PathBuf::from("/nonexistent/synchub-projector"));
        let error = projectors.open(2, 2, &room(None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "There is no monitor 2: this computer has 2 (counted from 0), so pick another one."
        );
        let error = projectors.open(0, 1, &room(None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The projector program is missing: Sync Hub looked for it at /nonexistent/synchub-projector."
        );
        assert_eq!(projectors.running_count(), 0);
    }
}
