//! `synchub serve`'s settings: command-line flags, `SYNCHUB_*` environment variables (clap's
//! `env`) and an optional TOML file (`--config`). A flag or variable beats the file; the file
//! beats the defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, bail};
// Switches set by environment variables accept 1/0, yes/no, on/off and true/false.
use clap::builder::BoolishValueParser;
use serde::Deserialize;
use synchub_ble::DEFAULT_LINKS_PER_ADAPTER;
use synchub_session::record::ScheduleMode;
use synchub_session::{PhaseDurations, ScheduleConfig};

use crate::central::{CentralSync, DEFAULT_SYNC_EVERY_SECS};
use crate::discovery::MdnsScope;
use crate::server::caps::CapsConfig;

/// The default participant limit: the largest room measured (docs/performance.md, 10 000
/// participants on one laptop).
pub const DEFAULT_MAX_PARTICIPANTS: u32 = 10_000;

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
    /// Digits of the random room code: 4, or 6 for large public events (a million codes
    /// instead of ten thousand against guessing) [default: 4].
    #[arg(long, env = "SYNCHUB_ROOM_CODE_LENGTH", value_parser = clap::value_parser!(u8).range(4..=8))]
    pub room_code_length: Option<u8>,
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
    /// Most participants in one session; 0 = no limit [default: 10000, the largest room
    /// measured in docs/performance.md].
    #[arg(long, env = "SYNCHUB_MAX_PARTICIPANTS")]
    pub max_participants: Option<u32>,
    /// Most participants joined from one network address (loopback is not capped); 0 = no
    /// limit [default: 4].
    #[arg(long, env = "SYNCHUB_MAX_PARTICIPANTS_PER_ADDRESS")]
    pub max_participants_per_address: Option<u32>,
    /// Most open connections from one network address (loopback is not capped); 0 = no
    /// limit [default: 16].
    #[arg(long, env = "SYNCHUB_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<u32>,
    /// Most display connections (projectors, console views) at once; 0 = no limit
    /// [default: 8].
    #[arg(long, env = "SYNCHUB_MAX_DISPLAYS")]
    pub max_displays: Option<u32>,
    /// Sync stored sessions to this central PostgreSQL in the background
    /// (`postgres://user@host/db`; TLS to another computer unless `?sslmode=disable`; add
    /// `?sslrootcert=/path/to/ca.pem` when an institution's own CA signed its certificate)
    /// [default: no sync].
    #[arg(long, env = "SYNCHUB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seconds between background syncs [default: 300].
    #[arg(long, env = "SYNCHUB_SYNC_EVERY_SECS")]
    pub sync_every_secs: Option<u64>,
    /// Seconds any one call to the central database may take (also its statement and
    /// idle-in-transaction timeouts) before the sync attempt fails and is retried
    /// [default: 60].
    #[arg(long, env = "SYNCHUB_SYNC_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_timeout_secs: Option<u64>,
    /// Read Bluetooth LE heart-rate straps (Polar H10, Garmin HRM, …) with this computer's
    /// Bluetooth; each strap the facilitator assigns joins as a participant.
    #[arg(long, env = "SYNCHUB_BLE", value_parser = BoolishValueParser::new())]
    pub ble: bool,
    /// How many straps to connect through one Bluetooth adapter at most: most Linux and
    /// Windows controllers hold 5 to 7 connections, a Mac's about 14. Straps beyond every
    /// adapter's budget are listed as waiting for a free connection [default: 7].
    #[arg(long, env = "SYNCHUB_BLE_LINKS_PER_ADAPTER", value_name = "K")]
    pub ble_links_per_adapter: Option<u32>,
    /// Let other computers on the network use the facilitator console and API (by default
    /// only this computer may). The admin token then crosses the network in clear text: use
    /// it on a network you trust, and rotate the token afterwards.
    #[arg(long, env = "SYNCHUB_ADMIN_REMOTE", value_parser = BoolishValueParser::new())]
    pub admin_remote: bool,
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
    room_code_length: Option<u8>,
    no_room_code: Option<bool>,
    schedule: Option<ScheduleArg>,
    phases: Option<String>,
    no_mdns: Option<bool>,
    max_participants: Option<u32>,
    max_participants_per_address: Option<u32>,
    max_connections_per_address: Option<u32>,
    max_displays: Option<u32>,
    database_url: Option<String>,
    sync_every_secs: Option<u64>,
    sync_timeout_secs: Option<u64>,
    ble: Option<bool>,
    ble_links_per_adapter: Option<u32>,
    admin_remote: Option<bool>,
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
    /// Per-address and display caps.
    pub caps: CapsConfig,
    /// `None`: sessions stay on the hub until `synchub sync` is run.
    pub central_sync: Option<CentralSync>,
    /// The deadline of each call to the central database, for a URL from any source (`None`:
    /// the one saved with a console-set URL, else 60 s).
    pub sync_timeout: Option<Duration>,
    /// Read Bluetooth LE straps.
    pub ble: bool,
    /// The most straps connected through one Bluetooth adapter (at least 1).
    pub ble_links_per_adapter: usize,
    /// Answer the facilitator console and API from other computers too (`--admin-remote`).
    pub admin_remote: bool,
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
                None => {
                    let digits = args
                        .room_code_length
                        .or(file.room_code_length)
                        .unwrap_or(DEFAULT_ROOM_CODE_DIGITS);
                    if !(4..=8).contains(&digits) {
                        bail!("room_code_length must be 4 to 8 digits (6 for large public events)");
                    }
                    Some(random_digits(usize::from(digits))?)
                }
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
            max_participants: match args
                .max_participants
                .or(file.max_participants)
                .unwrap_or(DEFAULT_MAX_PARTICIPANTS)
            {
                0 => None,
                limit => Some(limit),
            },
            caps: CapsConfig {
                participants_per_address: args
                    .max_participants_per_address
                    .or(file.max_participants_per_address)
                    .unwrap_or(CapsConfig::DEFAULT_PARTICIPANTS_PER_ADDRESS),
                connections_per_address: args
                    .max_connections_per_address
                    .or(file.max_connections_per_address)
                    .unwrap_or(CapsConfig::DEFAULT_CONNECTIONS_PER_ADDRESS),
                displays: args
                    .max_displays
                    .or(file.max_displays)
                    .unwrap_or(CapsConfig::DEFAULT_DISPLAYS),
            },
            central_sync: args
                .database_url
                .clone()
                .or(file.database_url)
                .map(|database_url| CentralSync {
                    database_url,
                    every: Duration::from_secs(
                        args.sync_every_secs
                            .or(file.sync_every_secs)
                            .unwrap_or(DEFAULT_SYNC_EVERY_SECS)
                            .max(1),
                    ),
                    timeout: None,
                }),
            sync_timeout: match args.sync_timeout_secs.or(file.sync_timeout_secs) {
                Some(0) => bail!("sync_timeout_secs must be at least 1"),
                secs => secs.map(Duration::from_secs),
            },
            ble: args.ble || file.ble.unwrap_or(false),
            ble_links_per_adapter: links_per_adapter(
                args.ble_links_per_adapter.or(file.ble_links_per_adapter),
            )?,
            admin_remote: args.admin_remote || file.admin_remote.unwrap_or(false),
            min_free_disk_bytes: args
                .min_free_disk_mb
                .or(file.min_free_disk_mb)
                .unwrap_or(DEFAULT_MIN_FREE_DISK_MB)
                .saturating_mul(1024 * 1024),
        })
    }
}

/// The per-adapter connection budget: at least one, [`DEFAULT_LINKS_PER_ADAPTER`] when unset.
fn links_per_adapter(configured: Option<u32>) -> anyhow::Result<usize> {
    match configured {
        None => Ok(DEFAULT_LINKS_PER_ADAPTER),
        Some(0) => bail!(
            "ble_links_per_adapter (--ble-links-per-adapter, SYNCHUB_BLE_LINKS_PER_ADAPTER) must \
             be at least 1: it is how many straps one Bluetooth adapter connects at most \
             ({DEFAULT_LINKS_PER_ADAPTER} by default; most controllers hold 5 to 7, a Mac's \
             about 14)"
        ),
        Some(links) => Ok(usize::try_from(links).unwrap_or(usize::MAX)),
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

/// Digits of a room code nobody chose.
pub const DEFAULT_ROOM_CODE_DIGITS: u8 = 4;

/// Four random digits from the OS's secure source.
pub fn random_room_code() -> anyhow::Result<String> {
    random_digits(usize::from(DEFAULT_ROOM_CODE_DIGITS))
}

/// `count` random decimal digits from the OS's secure source, each uniform (a byte is redrawn
/// when it is 250 or more, so no digit is more likely than another).
pub fn random_digits(count: usize) -> anyhow::Result<String> {
    let mut code = String::with_capacity(count);
    while code.len() < count {
        let mut byte = [0_u8; 1];
        getrandom::fill(&mut byte).map_err(|error| anyhow::anyhow!("random source: {error}"))?;
        if byte[0] < 250 {
            code.push(char::from(b'0' + byte[0] % 10));
        }
    }
    Ok(code)
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
    fn a_longer_room_code_can_be_asked_for() {
        let config = HubConfig::resolve(&ServeArgs {
            room_code_length: Some(6),
            ..ServeArgs::default()
        })
        .unwrap();
        let code = config.room_code.unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|character| character.is_ascii_digit()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "room_code_length = 3\n").unwrap();
        let error = HubConfig::resolve(&ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("4 to 8"), "{error:#}");
    }

    #[test]
    fn the_connection_budget_per_adapter_comes_from_a_flag_or_the_file_and_is_at_least_one() {
        assert_eq!(
            HubConfig::resolve(&ServeArgs::default())
                .unwrap()
                .ble_links_per_adapter,
            7
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "ble = true\nble_links_per_adapter = 5\n").unwrap();
        let from_file = HubConfig::resolve(&ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(from_file.ble_links_per_adapter, 5);
        let flag_over_file = HubConfig::resolve(&ServeArgs {
            config: Some(path.clone()),
            ble_links_per_adapter: Some(14),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(flag_over_file.ble_links_per_adapter, 14);

        let refused = HubConfig::resolve(&ServeArgs {
            ble_links_per_adapter: Some(0),
            ..ServeArgs::default()
        })
        .unwrap_err();
        let message = format!("{refused:#}");
        assert!(message.contains("must be at least 1"), "{message}");
        assert!(message.contains("--ble-links-per-adapter"), "{message}");
        std::fs::write(&path, "ble_links_per_adapter = 0\n").unwrap();
        let refused_in_file = HubConfig::resolve(&ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{refused_in_file:#}").contains("ble_links_per_adapter"),
            "{refused_in_file:#}"
        );
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
