//! The command-line surface of `synchub` (clap derive). Each subcommand lives in its own module
//! with its own arguments; this one only parses and dispatches.

use clap::{Parser, Subcommand};

/// Sync Hub: live heart-rhythm coherence for groups in one room.
#[derive(Debug, Parser)]
#[command(name = "synchub", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an HRV and coherence report of one RR recording.
    ///
    /// Reads one RR interval per line (ms; `#` comments and blank lines allowed), or a CSV file
    /// whose header has an `rr` or `rr_ms` column (and optionally `time`/`timestamp`). Values that
    /// are all below 10 are taken as seconds.
    Analyze(super::analyze::AnalyzeArgs),
    /// Run the hub for a real room: HTTP, Socket.IO and WebSocket server, mDNS, local store.
    ///
    /// Prints `synchub ready on http://<addr>:<port>` once it accepts connections, then the
    /// room code and where the admin token is. Stops cleanly on Ctrl-C or SIGTERM.
    Serve(crate::config::ServeArgs),
    /// Run a demo: a hub on 127.0.0.1 with a fresh data directory and a simulated room of
    /// participants, printing a live summary. Ctrl-C stops it.
    #[cfg(feature = "demo")]
    Demo(super::demo::DemoArgs),
    /// Push this hub's stored sessions to the central PostgreSQL (consented data only).
    Sync(super::sync::SyncArgs),
    /// Research data: export consented data (central database or this hub), or serve one
    /// participant's data-access or erasure request.
    #[command(subcommand)]
    Research(super::research::ResearchCommand),
    /// Write one stored session's report: a self-contained HTML page or its JSON twin.
    ///
    /// Works offline from a data directory (also while a hub runs on it: the store is only
    /// read). `--session latest` is the newest session.
    Report(super::report::ReportArgs),
    /// Bluetooth LE heart-rate straps: decode a strap's bytes, or list the straps nearby.
    #[command(subcommand)]
    Ble(super::ble::BleCommand),
    /// Read straps on this computer and forward them to a hub: for the straps one computer
    /// cannot hold. Needs a relay token from the hub's console (Relays → Add a relay).
    ///
    /// Prints `synchub relay <name> connected to <hub>` each time the hub welcomes it, and its
    /// state (link, straps, queue) every `--status-secs`. Stops on Ctrl-C or SIGTERM.
    Relay(super::relay::RelayArgs),
    /// The facilitator's admin token: where it is kept, or `--rotate` to replace it (a running
    /// hub refuses the old one at once).
    AdminToken(super::admin_token::AdminTokenArgs),
    /// The hub's database: check it for damage, or recover what a damaged one holds.
    #[command(subcommand)]
    Store(super::store::StoreCommand),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(args) => super::analyze::run(&args),
        Command::Serve(args) => {
            init_logging();
            let config = crate::config::HubConfig::resolve(&args)?;
            runtime()?.block_on(super::serve::run(config))
        }
        Command::Relay(args) => {
            init_logging();
            runtime()?.block_on(super::relay::run(args))
        }
        Command::Research(command) => super::research::run(command),
        Command::Ble(command) => super::ble::run(command),
        Command::AdminToken(args) => super::admin_token::run(&args),
        Command::Report(args) => super::report::run(&args),
        Command::Store(command) => super::store::run(command),
        Command::Sync(args) => {
            init_logging();
            runtime()?.block_on(super::sync::run(args))
        }
        #[cfg(feature = "demo")]
        Command::Demo(args) => {
            init_logging();
            runtime()?.block_on(super::demo::run(args))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("starting the async runtime: {error}"))
}

/// Logs to stderr; `RUST_LOG` overrides the default level (`info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
