//! `synchub relay`: a second computer near more straps (another laptop, a Raspberry Pi) reads
//! them with its own Bluetooth adapters, exactly as the hub reads its own (`synchub-ble`'s
//! `StrapReader`), and forwards them to the hub.
//!
//! The pieces: `queue` (every beat batch on disk until the hub says it is durable), `link` (one
//! connection to the hub: token, clock offset, status, batches and their acks), `find` (the
//! hub over mDNS when no `--hub` is given), `status` (the line it prints). Nothing is lost: a
//! batch leaves the queue only on the hub's `relay_ack`, so a Wi-Fi drop, a hub restart or a
//! relay restart only delays it; each strap's batches carry a seq kept on disk, so nothing is
//! stored twice.

mod find;
mod link;
mod queue;
mod status;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use synchub_ble::{DEFAULT_LINKS_PER_ADAPTER, ReaderConfig, StrapEvent, StrapReader};

pub use link::ws_url;
pub use queue::{QUEUE_FILE, Queue, QueueBounds};

use link::{Link, LinkEnd};
use status::LinkStatus;

/// `synchub relay`'s flags; each has a `SYNCHUB_*` variable, like `serve`'s.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
    /// The hub, e.g. `http://192.168.1.20:3000`. Without it the relay finds the hub on the local
    /// network (mDNS), as phones do.
    #[arg(long, env = "SYNCHUB_HUB")]
    pub hub: Option<String>,
    /// The relay token the facilitator created (console: Relays → Add a relay).
    #[arg(long, env = "SYNCHUB_RELAY_TOKEN", hide_env_values = true)]
    pub token: String,
    /// What the relay calls itself in its output and the hub's log (the console shows the name
    /// the token was created with).
    #[arg(long, env = "SYNCHUB_RELAY_NAME")]
    pub name: Option<String>,
    /// Where the relay keeps its queue of beats (default: the platform's data directory's
    /// `relay` folder).
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// How many straps to connect through one Bluetooth adapter at most (every adapter is used).
    #[arg(long, env = "SYNCHUB_BLE_LINKS_PER_ADAPTER", default_value_t = DEFAULT_LINKS_PER_ADAPTER)]
    pub ble_links_per_adapter: usize,
    /// Most beat batches kept while the hub cannot be reached (about 1 per strap per second);
    /// beyond it the oldest are dropped with a warning.
    #[arg(
        long,
        env = "SYNCHUB_RELAY_QUEUE_MAX_BATCHES",
        default_value_t = 500_000
    )]
    pub queue_max_batches: u64,
    /// Oldest beats kept while the hub cannot be reached, minutes; older ones are dropped with
    /// a warning. (The hub stores beats up to 5 minutes old.)
    #[arg(long, env = "SYNCHUB_RELAY_QUEUE_MAX_AGE_MINS", default_value_t = 360)]
    pub queue_max_age_mins: u64,
    /// How often to print the relay's state (link, straps, queue), seconds.
    #[arg(long, env = "SYNCHUB_RELAY_STATUS_SECS", default_value_t = 10)]
    pub status_secs: u64,
}

/// Runs the relay until Ctrl-C or SIGTERM (or the hub refuses its token).
pub async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => synchub_store::DataDir::platform_default()
            .context("finding the platform's data directory; pass --data-dir")?
            .root()
            .join("relay"),
    };
    synchub_store::private_files::private_dir(&data_dir)
        .with_context(|| format!("creating the relay's data directory {}", data_dir.display()))?;
    let queue = Queue::open(
        &data_dir,
        QueueBounds {
            max_batches: args.queue_max_batches,
            max_age: Duration::from_secs(args.queue_max_age_mins.saturating_mul(60)),
        },
    )?;
    let queue = Arc::new(Mutex::new(queue));
    let config = ReaderConfig {
        links_per_adapter: args.ble_links_per_adapter,
        ..ReaderConfig::default()
    };
    let (reader, events) = StrapReader::start(config)
        .await
        .context("starting the Bluetooth reader (is Bluetooth on, and may this user use it?)")?;
    {
        let queue = queue.clone();
        // Ends with the reader's channel; each batch it wrote is whole (one transaction), so
        // the process may exit while it runs.
        std::thread::Builder::new()
            .name("relay-queue".to_owned())
            .spawn(move || take_in(events, &queue))
            .context("starting the queue's thread")?;
    }
    let status = LinkStatus::default();
    let result = tokio::select! {
        result = serve(&args, &queue, &reader, &status) => result,
        () = stop_signal() => Ok(()),
    };
    reader.shutdown().await;
    result
}

/// Every notification's beats into the queue, in its own thread: each is on disk (fsynced)
/// before the next is taken.
fn take_in(mut events: tokio::sync::mpsc::Receiver<StrapEvent>, queue: &Mutex<Queue>) {
    while let Some(event) = events.blocking_recv() {
        let StrapEvent::Beats { strap, batch } = event else {
            continue;
        };
        if batch.rr_ms.is_empty() {
            continue;
        }
        let pushed = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(
                strap.as_str(),
                &batch.rr_ms,
                batch.ended_at_ms,
                synchub_ble::system_now_ms(),
            );
        if let Err(error) = pushed {
            tracing::error!(%error, "a beat batch could not be queued");
        }
    }
}

/// Finds the hub, connects, and connects again whenever the link is lost; prints the relay's
/// state meanwhile.
async fn serve(
    args: &RelayArgs,
    queue: &Arc<Mutex<Queue>>,
    reader: &StrapReader,
    status: &LinkStatus,
) -> anyhow::Result<()> {
    let printer = async {
        let mut every = tokio::time::interval(Duration::from_secs(args.status_secs.max(1)));
        loop {
            every.tick().await;
            let state = queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .state(synchub_ble::system_now_ms())
                .unwrap_or_default();
            #[allow(clippy::print_stdout)] // The relay's state, for the person at its terminal.
            {
                println!("{}", status.line(&reader.straps(), &state));
            }
        }
    };
    let links = async {
        let mut backoff = Duration::from_secs(1);
        loop {
            let hub_url = match &args.hub {
                Some(url) => url.clone(),
                None => match find::hub(Duration::from_secs(10)).await {
                    Ok(url) => url,
                    Err(error) => {
                        tracing::warn!(%error, "no hub found on the local network yet; pass --hub URL if mDNS does not reach it");
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                },
            };
            let link = Link {
                hub_url: &hub_url,
                token: &args.token,
                name: args.name.as_deref(),
                queue,
                reader,
                status,
            };
            let started = tokio::time::Instant::now();
            match link.run().await {
                LinkEnd::Refused(message) => {
                    anyhow::bail!("the hub refused this relay: {message}");
                }
                LinkEnd::Lost(reason) => {
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff = Duration::from_secs(1);
                    }
                    tracing::warn!(%reason, retry_in_s = backoff.as_secs(), "the link to the hub is down; beats wait in the queue");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(8));
                }
            }
        }
    };
    tokio::select! {
        result = links => result,
        () = printer => Ok(()),
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
