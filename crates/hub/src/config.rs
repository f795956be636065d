//! `synchub serve`'s settings: command-line flags, `SYNCHUB_*` environment variables (clap's
//! `env`) and an optional TOML file (`--config`). A flag or variable beats the file; the file
//! beats the defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, bail};
// Switches set by environment variables accept 1/0, yes/no, on/off and true/false.
use clap::builder::BoolishValueParser;
use serde::Deserialize;
use synchub_session::record::ScheduleMode;
use synchub_session::{PhaseDurations, ScheduleConfig};

use crate::central::{CentralSync, DEFAULT_SYNC_EVERY_SECS};
use crate::discovery::MdnsScope;

/// The default port (the first free one near the original's 3000-range that nothing common uses).
pub const DEFAULT_PORT: u16 = 7878;

/// `synchub serve` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys in snake_case, e.g. `room_name`).
    #[arg(long, env = "SYNCHUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "SYNCHUB_BIND")]
    pub bind: Option<IpAddr>,
    /// Port to listen on; 0 picks a free port [default: 7878].
    #[arg(long, env = "SYNCHUB_PORT")]
    pub port: Option<u16>,
    /// Where the database and the hub's secrets live [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The room's name, shown on the projector and advertised over mDNS [default: Sync Hub].
    #[arg(long, env = "SYNCHUB_ROOM_NAME")]
    pub room_name: Option<String>,
    /// The code participants must give [default: a random 4-digit code].
    #[arg(long, env = "SYNCHUB_ROOM_CODE", conflicts_with = "no_room_code")]
    pub room_code: Option<String>,
    /// Let anyone on the network join without a code.
    #[arg(long, env = "SYNCHUB_NO_ROOM_CODE", value_parser = BoolishValueParser::new())]
    pub no_room_code: bool,
    /// Rolling sessions back to back, or sessions the facilitator starts [default: rolling].
    #[arg(long, env = "SYNCHUB_SCHEDULE", value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Phase lengths in seconds: PREPARATION,ACTIVE,INTEGRATION [default: 30,750,120].
    #[arg(long, env = "SYNCHUB_PHASES")]
    pub phases: Option<Phases>,
    /// Do not advertise the hub over mDNS.
    #[arg(long, env = "SYNCHUB_NO_MDNS", value_parser = BoolishValueParser::new())]
    pub no_mdns: bool,
    /// Most participants in one session [default: no limit].
    #[arg(long, env = "SYNCHUB_MAX_PARTICIPANTS")]
    pub max_participants: Option<u32>,
    /// Sync stored sessions to this central PostgreSQL in the background
    /// (`postgres://user@host/db`, `?sslmode=require` for a remote one) [default: no sync].
    #[arg(long, env = "SYNCHUB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seconds between background syncs [default: 300].
    #[arg(long, env = "SYNCHUB_SYNC_EVERY_SECS")]
    pub sync_every_secs: Option<u64>,
    /// Read Bluetooth LE heart-rate straps (Polar H10, Garmin HRM, …) with this computer's
    /// Bluetooth; each strap the facilitator assigns joins as a participant.
    #[arg(long, env = "SYNCHUB_BLE", value_parser = BoolishValueParser::new())]
    pub ble: bool,
    /// `/health` turns red (503) when the data directory's disk has less free space than this,
    /// in MB, so the facilitator hears before writes fail [default: 200].
    #[arg(long, env = "SYNCHUB_MIN_FREE_DISK_MB")]
    pub min_free_disk_mb: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleArg {
    Rolling,
    Manual,
}

/// `PREPARATION,ACTIVE,INTEGRATION` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases(pub PhaseDurations);

impl FromStr for Phases {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [preparation, active, integration] = parts[..] else {
            return Err(
                "expected three numbers of seconds: PREPARATION,ACTIVE,INTEGRATION".to_owned(),
            );
        };
        let secs = |part: &str| {
            part.parse::<u32>()
                .map_err(|_| format!("`{part}` is not a whole number of seconds"))
        };
        let durations = PhaseDurations {
            preparation_secs: secs(preparation)?,
            active_secs: secs(active)?,
            integration_secs: secs(integration)?,
        };
        if durations.active_secs == 0 {
            return Err("the active phase must last at least one second".to_owned());
        }
        Ok(Phases(durations))
    }
}

/// The config file: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<IpAddr>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    room_name: Option<String>,
    room_code: Option<String>,
    no_room_code: Option<bool>,
    schedule: Option<ScheduleArg>,
    phases: Option<String>,
    no_mdns: Option<bool>,
    max_participants: Option<u32>,
    database_url: Option<String>,
    sync_every_secs: Option<u64>,
    ble: Option<bool>,
    min_free_disk_mb: Option<u64>,
}

/// Everything a hub needs to start, resolved.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub bind: IpAddr,
    pub port: u16,
    /// `None`: the platform's data directory.
    pub data_dir: Option<PathBuf>,
    pub room_name: String,
    pub room_code: Option<String>,
    pub schedule: ScheduleConfig,
    /// `None`: no mDNS advertisement.
    pub mdns: Option<MdnsScope>,
    pub max_participants: Option<u32>,
    /// `None`: sessions stay on the hub until `synchub sync` is run.
    pub central_sync: Option<CentralSync>,
    /// Read Bluetooth LE straps.
    pub ble: bool,
    /// Under this much free space on the data directory's disk `/health` is red.
    pub min_free_disk_bytes: u64,
}

/// A session of 100 phones writes about 30 MB an hour; 200 MB leaves hours of warning.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 200;

impl HubConfig {
    /// Flags and variables over the file over the defaults.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<HubConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let phases = match (args.phases, &file.phases) {
            (Some(phases), _) => phases.0,
            (None, Some(text)) => {
                text.parse::<Phases>()
                    .map_err(|error| anyhow::anyhow!("config file: phases: {error}"))?
                    .0
            }
            (None, None) => PhaseDurations::default(),
        };
        let mode = match args.schedule.or(file.schedule) {
            Some(ScheduleArg::Manual) => ScheduleMode::Manual,
            Some(ScheduleArg::Rolling) | None => ScheduleMode::Rolling,
        };
        let no_room_code = args.no_room_code || file.no_room_code.unwrap_or(false);
        let room_code = if no_room_code {
            None
        } else {
            match args.room_code.clone().or(file.room_code) {
                Some(code) => Some(validate_room_code(&code)?),
                None => Some(random_room_code()?),
            }
        };
        let room_name = args
            .room_name
            .clone()
            .or(file.room_name)
            .unwrap_or_else(|| "Sync Hub".to_owned());
        if room_name.trim().is_empty() || room_name.len() > 63 {
            bail!("the room name must be 1 to 63 bytes (it is also the mDNS instance name)");
        }
        let no_mdns = args.no_mdns || file.no_mdns.unwrap_or(false);
        Ok(HubConfig {
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            data_dir: args.data_dir.clone().or(file.data_dir),
            room_name,
            room_code,
            schedule: ScheduleConfig { mode, phases },
            mdns: (!no_mdns).then_some(MdnsScope::AllInterfaces),
            max_participants: args.max_participants.or(file.max_participants),
            central_sync: args
                .database_url
                .clone()
                .or(file.database_url)
                .map(|database_url| CentralSync {
                    database_url,
                    every: std::time::Duration::from_secs(
                        args.sync_every_secs
                            .or(file.sync_every_secs)
                            .unwrap_or(DEFAULT_SYNC_EVERY_SECS)
                            .max(1),
                    ),
                }),
            ble: args.ble || file.ble.unwrap_or(false),
            min_free_disk_bytes: args
                .min_free_disk_mb
                .or(file.min_free_disk_mb)
                .unwrap_or(DEFAULT_MIN_FREE_DISK_MB)
                .saturating_mul(1024 * 1024),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing the config file {}", path.display()))
}

fn validate_room_code(code: &str) -> anyhow::Result<String> {
    let code = code.trim();
    if code.is_empty()
        || code.len() > synchub_protocol::limits::MAX_ROOM_CODE_BYTES
        || !code
            .chars()
            .all(|character| character.is_ascii_alphanumeric())
    {
        bail!("the room code must be 1 to 16 letters or digits");
    }
    Ok(code.to_owned())
}

/// Four random digits from the OS's secure source.
pub fn random_room_code() -> anyhow::Result<String> {
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("random source: {error}"))?;
    let number = u32::from_le_bytes(bytes) % 10_000;
    Ok(format!("{number:04}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse_three_second_counts() {
        let phases: Phases = "10,120,20".parse().unwrap();
        assert_eq!(phases.0.preparation_secs, 10);
        assert_eq!(phases.0.active_secs, 120);
        assert_eq!(phases.0.integration_secs, 20);
        assert!("10,120".parse::<Phases>().is_err());
        assert!("10,0,20".parse::<Phases>().is_err());
        assert!("a,1,2".parse::<Phases>().is_err());
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "room_name = \"Studio\"\nport = 9000\nphases = \"5,60,5\"\nschedule = \"manual\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            port: Some(9100),
            room_code: Some("4321".to_owned()),
            ..ServeArgs::default()
        };
        let config = HubConfig::resolve(&args).unwrap();
        assert_eq!(config.room_name, "Studio");
        assert_eq!(config.port, 9100);
        assert_eq!(config.room_code.as_deref(), Some("4321"));
        assert_eq!(config.schedule.mode, ScheduleMode::Manual);
        assert_eq!(config.schedule.phases.active_secs, 60);
        assert_eq!(config.mdns, Some(MdnsScope::AllInterfaces));
    }

    #[test]
    fn the_default_room_code_is_four_digits() {
        let config = HubConfig::resolve(&ServeArgs::default()).unwrap();
        let code = config.room_code.unwrap();
        assert_eq!(code.len(), 4);
        assert!(code.chars().all(|character| character.is_ascii_digit()));
        let open = HubConfig::resolve(&ServeArgs {
            no_room_code: true,
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(open.room_code, None);
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "room_nme = \"typo\"\n").unwrap();
        let error = HubConfig::resolve(&ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("room_nme"));
    }
}
