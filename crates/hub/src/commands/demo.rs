//! `synchub demo`: the whole product on one machine in one command. A hub bound to 127.0.0.1
//! (mDNS on the loopback interface only, so nothing is announced on the LAN; `--no-mdns` turns
//! it off), on a fresh data directory that is removed at the end, with a simulated room of
//! participants (`synchub-sim`) joining over the real Socket.IO and `/ws` paths — some sending
//! heartbeats, some only their own scores like the original clients.
//!
//! Sessions are manual and short by default (10 s preparation, 2 min active, 20 s
//! integration) and start back to back, so the first minute already shows scores arriving.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use synchub_session::record::ScheduleMode;
use synchub_session::{PhaseDurations, ScheduleConfig};
use synchub_sim::crowd::{Crowd, CrowdConfig};

use crate::config::{DEFAULT_PORT, HubConfig, Phases, random_room_code};
use crate::convert;
use crate::discovery::MdnsScope;
use crate::engine_task::{AdminCommand, RoomView};
use crate::serve::{self, RunningHub};

/// `synchub demo` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Port on 127.0.0.1; when it is taken, a free one is used.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Simulated participants.
    #[arg(long, default_value_t = 12)]
    pub participants: usize,
    /// Phase lengths in seconds: PREPARATION,ACTIVE,INTEGRATION.
    #[arg(long, default_value = "10,120,20")]
    pub phases: Phases,
    /// Seconds between two summary lines.
    #[arg(long, default_value_t = 5)]
    pub summary_every_secs: u64,
    /// Do not advertise the demo room over mDNS (on loopback) at all.
    #[arg(long)]
    pub no_mdns: bool,
    /// Stop by itself after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<u64>,
    /// Also open the projector's mandala (`synchub-projector`, built next to `synchub`) in a
    /// window, when a display is available.
    #[arg(long)]
    pub projector: bool,
}

/// Starts `synchub-projector` for the demo room, from the folder `synchub` runs from (where
/// `cargo build` puts both). The demo goes on without it when it cannot start.
fn start_projector(hub: &RunningHub) -> Option<std::process::Child> {
    let display = std::env::var_os("DISPLAY").or_else(|| std::env::var_os("WAYLAND_DISPLAY"));
    if display.is_none() {
        tracing::warn!("no display (DISPLAY is not set); the projector is not started");
        return None;
    }
    let path = std::env::current_exe()
        .ok()?
        .with_file_name(format!("synchub-projector{}", std::env::consts::EXE_SUFFIX));
    let room = hub.state.room();
    let mut command = std::process::Command::new(&path);
    command
        .arg("--hub")
        .arg(&hub.base_url)
        .arg("--join-url")
        .arg(hub.state.join_url())
        .arg("--windowed")
        .arg("--show-code");
    if let Some(code) = &room.code {
        command.arg("--room-code").arg(code);
    }
    match command.spawn() {
        Ok(child) => Some(child),
        Err(error) => {
            tracing::warn!(
                %error,
                path = %path.display(),
                "cannot start the projector; build it with `cargo build --release -p synchub-projector`"
            );
            None
        }
    }
}

fn demo_config(
    args: &DemoArgs,
    data_dir: &std::path::Path,
    port: u16,
) -> anyhow::Result<HubConfig> {
    Ok(HubConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        data_dir: Some(data_dir.to_path_buf()),
        room_name: "Sync Hub demo".to_owned(),
        room_code: Some(random_room_code()?),
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations { ..args.phases.0 },
        },
        mdns: (!args.no_mdns).then_some(MdnsScope::LoopbackOnly),
        max_participants: None,
        caps: crate::server::caps::CapsConfig::default(),
        central_sync: None,
        sync_timeout: None,
        ble: false,
        ble_links_per_adapter: synchub_ble::DEFAULT_LINKS_PER_ADAPTER,
        admin_remote: false,
        min_free_disk_bytes: crate::config::DEFAULT_MIN_FREE_DISK_MB * 1024 * 1024,
    })
}

/// `phase · participants · group coherence` from the hub's live view at `now_ms`.
fn summary_line(view: &RoomView, now_ms: i64, crowd: &Crowd, elapsed: Duration) -> String {
    let stats = crowd.snapshot();
    let room = match (&view.session, &view.group) {
        (Some(session), Some(group)) if group.session_id == session.session_id => {
            let phase = convert::phase(session.phase);
            let left_secs = (session.phase_ends_at_ms - now_ms).max(0) / 1000;
            format!(
                "phase {} ({left_secs} s left) · participants {} ({} active) · group coherence {:.1} (peak {:.1})",
                serde_json::to_value(phase)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                session.participant_count,
                group.active_count,
                group.average_coherence,
                group.peak_coherence,
            )
        }
        (Some(session), _) => format!(
            "phase starting · participants {}",
            session.participant_count
        ),
        (None, _) => "between sessions".to_owned(),
    };
    format!(
        "[{:>4} s] {room} · beats batches acked {}/{}",
        elapsed.as_secs(),
        stats.batches_acked,
        stats.batches_sent
    )
}

async fn start_hub(args: &DemoArgs, data_dir: &std::path::Path) -> anyhow::Result<RunningHub> {
    match serve::start(demo_config(args, data_dir, args.port)?).await {
        Ok(hub) => Ok(hub),
        Err(error) if args.port != 0 => {
            tracing::info!("port {} is taken ({error:#}); using a free one", args.port);
            serve::start(demo_config(args, data_dir, 0)?).await
        }
        Err(error) => Err(error),
    }
}

/// Starts the next session whenever none is running, so sessions follow one another.
async fn keep_a_session_running(hub: &RunningHub) {
    let running = hub.state.engine.view.borrow().session.is_some();
    if !running {
        // Refusal means one started meanwhile: fine.
        let _ = hub.state.engine.admin(AdminCommand::StartSession).await;
    }
}

#[allow(clippy::print_stdout)] // The demo's output is for the person who started it.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("synchub-demo-").tempdir()?;
    let hub = start_hub(&args, data_dir.path()).await?;
    keep_a_session_running(&hub).await;
    let room = hub.state.room();
    println!("synchub ready on {}", hub.base_url);
    // A demo's data is throwaway and local, so its token is printed rather than pointed at.
    let token = std::fs::read_to_string(&hub.admin_token_path)
        .context("reading the demo hub's admin token")?;
    println!("console: {}/ (admin token: {})", hub.base_url, token.trim());
    println!("join URL: {}", hub.state.join_url());
    println!(
        "room: {} · code {}",
        room.name,
        room.code.as_deref().unwrap_or("none")
    );
    println!("data (removed at exit): {}", data_dir.path().display());
    println!(
        "{} simulated participants joining over Socket.IO and /ws; Ctrl-C stops",
        args.participants
    );

    let mut crowd_config = CrowdConfig::demo_room(&hub.base_url, room.code.clone());
    crowd_config.participants = args.participants;
    let crowd = Crowd::start(crowd_config);
    let mut projector = if args.projector {
        start_projector(&hub)
    } else {
        None
    };

    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(args.summary_every_secs.max(1)));
    ticker.tick().await;
    let deadline = args.duration_secs.map(Duration::from_secs);
    let stop = serve::stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                keep_a_session_running(&hub).await;
                let view = hub.state.engine.view.borrow().clone();
                let now_ms = hub.state.engine.clock.hub_ms();
                println!("{}", summary_line(&view, now_ms, &crowd, started.elapsed()));
                if deadline.is_some_and(|deadline| started.elapsed() >= deadline) {
                    break;
                }
            }
            () = &mut stop => break,
        }
    }
    println!("stopping: participants leave, the session pauses, everything is stored");
    let report = crowd.stop(Duration::from_secs(3)).await;
    tracing::info!(
        joined = report.stats.joined,
        acked = report.stats.batches_acked,
        "simulated room stopped"
    );
    if let Some(projector) = projector.as_mut() {
        let _ = projector.kill();
        let _ = projector.wait();
    }
    hub.stop().await?;
    Ok(())
}
