//! The hub inside the desktop app: its settings, its port, and the address the console uses.
//!
//! Settings come from the same `SYNCHUB_*` environment variables (and optional `SYNCHUB_CONFIG`
//! file) as `synchub serve`, through the hub's own [`ServeArgs`] and [`HubConfig::resolve`], so
//! the desktop app has no settings code of its own. Three defaults differ, because a
//! facilitator never types a flag: the data folder is the app's own (Tauri's path resolver),
//! when the usual port is taken the hub takes a free one instead of failing, and the hub reads
//! Bluetooth straps unless `SYNCHUB_BLE=0` says not to (without Bluetooth the console says why).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser as _;
use synchub::config::{DEFAULT_PORT, HubConfig, ServeArgs};
use synchub::serve::RunningHub;

/// Where the desktop app's hub listens and how it is found.
#[derive(Debug, Clone)]
pub struct DesktopHubConfig {
    pub hub: HubConfig,
    /// `true` when the port is only the default, so another free port will do if it is taken;
    /// `false` when someone chose the port (`SYNCHUB_PORT`, the config file) and meant it.
    pub port_may_change: bool,
}

/// The command line of `synchub-desktop` is never parsed (desktop launchers add their own
/// arguments); only the environment is read, through the same clap definitions as `synchub
/// serve`.
#[derive(Debug, clap::Parser)]
#[command(name = "synchub-desktop")]
struct EnvironmentOnly {
    #[command(flatten)]
    serve: ServeArgs,
}

/// The `SYNCHUB_*` settings from the environment.
pub fn settings_from_env() -> anyhow::Result<ServeArgs> {
    EnvironmentOnly::try_parse_from(["synchub-desktop"])
        .map(|parsed| parsed.serve)
        .context("while reading the SYNCHUB_* environment variables")
}

/// The hub's configuration: `settings` over the file over the hub's defaults (0.0.0.0 so phones
/// can join, port 7878, mDNS on), with `data_dir` when nothing else names a data directory.
pub fn hub_config(settings: &ServeArgs, data_dir: PathBuf) -> anyhow::Result<DesktopHubConfig> {
    let mut hub = HubConfig::resolve(settings)?;
    hub.ble = hub.ble || std::env::var_os("SYNCHUB_BLE").is_none();
    let port_may_change = settings.port.is_none() && hub.port == DEFAULT_PORT;
    if hub.data_dir.is_none() {
        hub.data_dir = Some(data_dir);
    }
    Ok(DesktopHubConfig {
        hub,
        port_may_change,
    })
}

/// Starts the hub; if the default port is taken (another hub, another app), on a free port.
pub async fn start(config: DesktopHubConfig) -> anyhow::Result<RunningHub> {
    let DesktopHubConfig {
        hub,
        port_may_change,
    } = config;
    match synchub::serve::start(hub.clone()).await {
        Err(error) if port_may_change && is_address_in_use(&error) => {
            tracing::warn!(
                port = hub.port,
                "the usual port is taken; the hub takes a free one (phones find it over mDNS or the QR code)"
            );
            synchub::serve::start(HubConfig { port: 0, ..hub }).await
        }
        result => result,
    }
    .context("while starting the hub")
}

pub fn is_address_in_use(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// The URL the console in the window uses: loopback when the hub listens on every interface,
/// so the window keeps working when the laptop's Wi-Fi address changes mid-session.
pub fn console_base_url(local_addr: SocketAddr) -> String {
    let host = match local_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(host, local_addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback_settings(data_dir: &std::path::Path, port: Option<u16>) -> ServeArgs {
        ServeArgs {
            bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port,
            data_dir: Some(data_dir.to_path_buf()),
            no_mdns: true,
            ..ServeArgs::default()
        }
    }

    #[test]
    fn the_console_uses_loopback_when_the_hub_listens_everywhere() {
        let check = |addr: &str, expect: &str| {
            assert_eq!(console_base_url(addr.parse().unwrap()), expect);
        };
        check("0.0.0.0:7878", "http://127.0.0.1:7878");
        check("[::]:7878", "http://[::1]:7878");
        check("127.0.0.1:9000", "http://127.0.0.1:9000");
        check("192.168.1.20:7878", "http://192.168.1.20:7878");
    }

    #[test]
    fn defaults_are_the_hubs_with_the_apps_data_folder() {
        let app_folder = PathBuf::from("/app/data");
        let config = hub_config(&ServeArgs::default(), app_folder.clone()).unwrap();
        assert_eq!(config.hub.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(config.hub.port, DEFAULT_PORT);
        assert!(config.port_may_change);
        assert!(config.hub.mdns.is_some());
        assert_eq!(config.hub.data_dir, Some(app_folder));

        let chosen = hub_config(
            &loopback_settings(std::path::Path::new("/chosen"), Some(DEFAULT_PORT)),
            PathBuf::from("/app/data"),
        )
        .unwrap();
        assert!(!chosen.port_may_change, "a port someone chose is kept");
        assert!(chosen.hub.mdns.is_none());
        assert_eq!(chosen.hub.data_dir, Some(PathBuf::from("/chosen")));
    }

    #[tokio::test]
    async fn a_taken_default_port_gives_way_to_a_free_one() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let data = tempfile::tempdir().unwrap();
        let mut config = hub_config(&loopback_settings(data.path(), None), PathBuf::new()).unwrap();
        // Stands in for 7878, which another hub on this machine may really be using.
        config.hub.port = taken_port;
        config.port_may_change = true;

        let hub = start(config).await.unwrap();
        assert_ne!(hub.local_addr.port(), taken_port);
        assert_eq!(hub.data_dir, data.path());
        hub.stop().await.unwrap();
        assert!(
            data.path().join("synchub.sqlite3").is_file(),
            "the store is in the data folder"
        );
    }

    #[tokio::test]
    async fn a_chosen_port_that_is_taken_is_an_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let data = tempfile::tempdir().unwrap();
        let config = hub_config(
            &loopback_settings(data.path(), Some(taken_port)),
            PathBuf::new(),
        )
        .unwrap();

        let error = start(config).await.unwrap_err();
        assert!(is_address_in_use(&error), "{error:#}");
    }
}
