//! `synchub-sim`: simulated participants against a running hub (`run`), and the load
//! benchmark that measures what the hub holds (`bench`), printing one JSON summary as the last
//! line of stdout.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use synchub_sim::connection::Transport;
use synchub_sim::crowd::{Crowd, CrowdConfig, ProfileMix, TransportMix};
use synchub_sim::procfs::{CpuSampler, ProcessId};
use synchub_sim::rr::Profile;
use synchub_sim::stats::StatsSnapshot;
use tokio::time::{Instant, MissedTickBehavior, interval};

#[derive(Debug, Parser)]
#[command(
    name = "synchub-sim",
    version,
    about = "Simulated Sync Hub participants and load benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulated participants that stream beats until the duration ends or Ctrl-C.
    Run {
        #[command(flatten)]
        crowd: CrowdArgs,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration_secs: Option<u64>,
    },
    /// Ramp up, measure for a fixed time, print one JSON summary as the last line of stdout.
    Bench {
        #[command(flatten)]
        crowd: CrowdArgs,
        /// Measurement time after the ramp, seconds.
        #[arg(long)]
        duration_secs: u64,
        /// The hub's process id, to report its CPU and memory from /proc.
        #[arg(long)]
        hub_pid: Option<u32>,
        /// Longest wait for everyone to join before measuring anyway, seconds
        /// (default: ramp time + 30 s).
        #[arg(long)]
        join_timeout_secs: Option<u64>,
        /// Seconds between the last join and the start of the measurement: the hub first
        /// catches up with the joins and first batches of the ramp, which is not its steady
        /// state. 0 measures from the last join.
        #[arg(long, default_value_t = 10)]
        settle_secs: u64,
    },
}

#[derive(Debug, Args)]
struct CrowdArgs {
    /// Hub base URL, e.g. http://127.0.0.1:7878; without it, the first hub found by mDNS
    /// (`_synchub._tcp.local.`) within 5 s.
    #[arg(long, env = "SYNCHUB_SIM_HUB")]
    hub: Option<String>,
    /// Number of simulated participants.
    #[arg(long, default_value_t = 12)]
    participants: usize,
    /// Socket endpoint(s).
    #[arg(long, value_enum, default_value_t = TransportArg::Ws)]
    transport: TransportArg,
    /// Heart-rhythm profile(s).
    #[arg(long, value_enum, default_value_t = ProfileArg::Mixed)]
    profile: ProfileArg,
    /// The room code shown on the projector.
    #[arg(long, env = "SYNCHUB_ROOM_CODE")]
    room_code: Option<String>,
    /// Connections started per second.
    #[arg(long, default_value_t = 500.0)]
    ramp_per_sec: f64,
    /// Every N-th participant only sends scores (update_coherence every 5 s), like the
    /// original clients; 0 = nobody.
    #[arg(long, default_value_t = 0)]
    score_only_every: usize,
    /// Every N-th participant behaves like the original platform's web client: it announces
    /// no protocol version and sends its score when 1 s passes without an event from the hub
    /// (1 = everyone, 0 = nobody).
    #[arg(long, default_value_t = 0)]
    original_every: usize,
    /// Seed of the participants' physiology and beats.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds of earlier beats each participant sends on joining (at most 240), as a phone
    /// does so the hub can score it at once.
    #[arg(long, default_value_t = 0)]
    backfill_secs: u64,
    /// Each participant drops its connection after about this many seconds (0.5–1.5×, drawn
    /// from its seed) and resumes with its token, again and again: flaky Wi-Fi for soak runs.
    /// 0 = stable connections.
    #[arg(long, default_value_t = 0)]
    churn_secs: u64,
    /// Of those churn events, the share (0–1) that are a proper leave: the participant waits
    /// for its acknowledgements, sends `leave_session`, stays away 2–10 s and joins again as a
    /// new participant. The rest are dropped connections resumed with the token.
    #[arg(long, default_value_t = 0.0)]
    leave_share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TransportArg {
    Ws,
    Socketio,
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProfileArg {
    Settling,
    Coherent,
    Restless,
    Irregular,
    Mixed,
}

impl CrowdArgs {
    /// Fills in `--hub` by mDNS browsing when it was not given.
    fn discover_hub(&mut self) -> anyhow::Result<()> {
        if self.hub.is_some() {
            return Ok(());
        }
        let hub = synchub_sim::discovery::find_hub(Duration::from_secs(5))
            .context("finding a hub by mDNS (pass --hub URL to skip)")?;
        eprintln!("sim: found hub {:?} at {}", hub.room_name, hub.url);
        if hub.room_code_required && self.room_code.is_none() {
            eprintln!("sim: this hub requires a room code; pass --room-code");
        }
        self.hub = Some(hub.url);
        Ok(())
    }

    fn config(&self) -> anyhow::Result<CrowdConfig> {
        let Some(hub) = &self.hub else {
            bail!("no hub: pass --hub URL");
        };
        if self.participants == 0 {
            bail!("--participants must be at least 1");
        }
        if !self.ramp_per_sec.is_finite() || self.ramp_per_sec <= 0.0 {
            bail!("--ramp-per-sec must be positive");
        }
        synchub_sim::connection::websocket_base_url(hub).context("reading --hub")?;
        let mut config = CrowdConfig::new(hub, self.participants);
        config.room_code = self.room_code.clone();
        config.transport = match self.transport {
            TransportArg::Ws => TransportMix::Only(Transport::Ws),
            TransportArg::Socketio => TransportMix::Only(Transport::SocketIo),
            TransportArg::Mixed => TransportMix::Mixed,
        };
        config.profile = match self.profile {
            ProfileArg::Settling => ProfileMix::Only(Profile::Settling),
            ProfileArg::Coherent => ProfileMix::Only(Profile::Coherent),
            ProfileArg::Restless => ProfileMix::Only(Profile::Restless),
            ProfileArg::Irregular => ProfileMix::Only(Profile::Irregular),
            ProfileArg::Mixed => ProfileMix::Mixed,
        };
        config.score_only_every = (self.score_only_every > 0).then_some(self.score_only_every);
        config.original_every = (self.original_every > 0).then_some(self.original_every);
        config.ramp_per_sec = self.ramp_per_sec;
        config.seed = self.seed;
        config.backfill = Duration::from_secs(self.backfill_secs);
        config.churn = (self.churn_secs > 0).then(|| Duration::from_secs(self.churn_secs));
        if !(0.0..=1.0).contains(&self.leave_share) {
            bail!("--leave-share must be between 0 and 1");
        }
        config.leave_share = self.leave_share;
        Ok(config)
    }
}

/// Rounds to two decimals for the summary.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn optional(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!(round2(v)))
}

/// Hub CPU and memory over the measurement, when its pid is known.
#[derive(Debug, Default)]
struct HubFigures {
    cpu_pct_avg: Option<f64>,
    cpu_pct_peak: Option<f64>,
    rss_mb_peak: Option<f64>,
}

/// The JSON summary: exactly the keys of the benchmark's contract.
fn summary(
    stats: &StatsSnapshot,
    messages_per_sec: f64,
    hub: &HubFigures,
    generator_cpu_pct: Option<f64>,
) -> Value {
    json!({
        "participants_requested": stats.requested,
        "participants_connected": stats.joined,
        "errors": stats.errors,
        "batches_sent": stats.batches_sent,
        "batches_acked": stats.batches_acked,
        "scores_sent": stats.scores_sent,
        "scores_answered": stats.scores_answered,
        "group_updates": stats.group_updates,
        "ack_ms": {
            "p50": round2(stats.ack_ms.p50_ms),
            "p95": round2(stats.ack_ms.p95_ms),
            "p99": round2(stats.ack_ms.p99_ms),
            "max": round2(stats.ack_ms.max_ms),
        },
        "broadcast_ms": {
            "p50": round2(stats.broadcast_ms.p50_ms),
            "p99": round2(stats.broadcast_ms.p99_ms),
            "max": round2(stats.broadcast_ms.max_ms),
        },
        "score_answer_ms": {
            "p50": round2(stats.score_answer_ms.p50_ms),
            "p99": round2(stats.score_answer_ms.p99_ms),
            "max": round2(stats.score_answer_ms.max_ms),
        },
        "messages_per_sec": round2(messages_per_sec),
        "hub_cpu_pct_avg": optional(hub.cpu_pct_avg),
        "hub_cpu_pct_peak": optional(hub.cpu_pct_peak),
        "hub_rss_mb_peak": optional(hub.rss_mb_peak),
        "generator_cpu_pct": optional(generator_cpu_pct),
    })
}

/// Runs until `deadline` (or Ctrl-C), printing progress every 2 s and sampling CPU every 1 s.
async fn watch_until(
    crowd: &Crowd,
    started: Instant,
    deadline: Option<Instant>,
    samplers: &mut [&mut CpuSampler],
) -> bool {
    let mut tick = interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seconds = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for sampler in samplers.iter_mut() {
                    sampler.sample();
                }
                seconds += 1;
                if seconds.is_multiple_of(2) {
                    eprintln!("{}", crowd.snapshot().progress_line(started.elapsed()));
                }
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return true;
                }
            }
            _ = &mut ctrl_c => return false,
        }
    }
}

fn exit_code(stats: &StatsSnapshot) -> ExitCode {
    if stats.joined < stats.requested || stats.error_count() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run(crowd_args: CrowdArgs, duration_secs: Option<u64>) -> anyhow::Result<ExitCode> {
    let config = crowd_args.config()?;
    let started = Instant::now();
    let mut generator = CpuSampler::start(ProcessId::Current);
    let crowd = Crowd::start(config);
    crowd.stats().set_measuring(true);
    let deadline = duration_secs.map(|secs| started + Duration::from_secs(secs));
    watch_until(&crowd, started, deadline, &mut [&mut generator]).await;
    let elapsed_secs = started.elapsed().as_secs_f64();
    let report = crowd.stop(Duration::from_secs(10)).await;
    // The final counts (the drain and the last leaves included) as the last progress line.
    eprintln!("{}", report.stats.progress_line(started.elapsed()));
    let messages = report.stats.messages_in + report.stats.messages_out;
    let line = summary(
        &report.stats,
        messages as f64 / elapsed_secs.max(1e-3),
        &HubFigures::default(),
        generator.average_pct(),
    );
    println!("{line}");
    Ok(exit_code(&report.stats))
}

async fn bench(
    crowd_args: CrowdArgs,
    duration_secs: u64,
    hub_pid: Option<u32>,
    join_timeout_secs: Option<u64>,
    settle_secs: u64,
) -> anyhow::Result<ExitCode> {
    let config = crowd_args.config()?;
    if duration_secs == 0 {
        bail!("--duration-secs must be at least 1");
    }
    if let Some(pid) = hub_pid {
        synchub_sim::procfs::cpu_secs(ProcessId::Pid(pid))
            .with_context(|| format!("reading /proc/{pid}/stat for --hub-pid"))?;
    }
    let participants = config.participants as u64;
    let ramp_secs = config.participants as f64 / config.ramp_per_sec;
    let join_limit = Duration::from_secs(join_timeout_secs.unwrap_or(ramp_secs.ceil() as u64 + 30));
    let started = Instant::now();
    let crowd = Crowd::start(config);

    // Ramp: wait for everyone (or the limit), with progress lines.
    let ramp_done = {
        let wait = crowd.wait_until_joined(participants, join_limit);
        tokio::pin!(wait);
        let mut progress = interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                done = &mut wait => break done,
                _ = progress.tick() => {
                    eprintln!("{}", crowd.snapshot().progress_line(started.elapsed()));
                }
            }
        }
    };
    if !ramp_done {
        eprintln!(
            "sim: only {}/{participants} joined within {} s; measuring anyway",
            crowd.snapshot().joined,
            join_limit.as_secs()
        );
    }

    // Settle: the backlog of the ramp drains before the measurement starts.
    let mut interrupted = false;
    if settle_secs > 0 {
        eprintln!("sim: settling for {settle_secs} s before measuring");
        let settled = Some(Instant::now() + Duration::from_secs(settle_secs));
        let mut nothing: [&mut CpuSampler; 0] = [];
        interrupted = !watch_until(&crowd, started, settled, &mut nothing).await;
    }

    // Measure.
    let before = crowd.snapshot();
    let mut generator = CpuSampler::start(ProcessId::Current);
    let mut hub = hub_pid.map(|pid| CpuSampler::start(ProcessId::Pid(pid)));
    crowd.stats().set_measuring(true);
    let measure_started = Instant::now();
    // Ctrl-C while settling: measure nothing, report what there is.
    let measured_for = if interrupted {
        Duration::ZERO
    } else {
        Duration::from_secs(duration_secs)
    };
    let deadline = Some(measure_started + measured_for);
    let completed = match hub.as_mut() {
        Some(hub) => watch_until(&crowd, started, deadline, &mut [&mut generator, hub]).await,
        None => watch_until(&crowd, started, deadline, &mut [&mut generator]).await,
    };
    crowd.stats().set_measuring(false);
    let measured_secs = measure_started.elapsed().as_secs_f64();
    let after = crowd.snapshot();
    let generator_cpu_pct = generator.average_pct();
    let hub_figures = hub
        .as_ref()
        .map_or_else(HubFigures::default, |hub| HubFigures {
            cpu_pct_avg: hub.average_pct(),
            cpu_pct_peak: Some(hub.peak_pct()),
            rss_mb_peak: Some(hub.peak_rss_mib()),
        });
    if !completed {
        eprintln!("sim: interrupted after {measured_secs:.1} s of measurement");
    }

    let report = crowd.stop(Duration::from_secs(10)).await;
    let messages = (after.messages_in + after.messages_out)
        .saturating_sub(before.messages_in + before.messages_out);
    let line = summary(
        &report.stats,
        messages as f64 / measured_secs.max(1e-3),
        &hub_figures,
        generator_cpu_pct,
    );
    eprintln!("{}", report.stats.progress_line(started.elapsed()));
    println!("{line}");
    Ok(exit_code(&report.stats))
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let (Command::Run { crowd, .. } | Command::Bench { crowd, .. }) = &mut cli.command;
    if let Err(error) = crowd.discover_hub() {
        eprintln!("synchub-sim: {error:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("synchub-sim: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run {
                crowd,
                duration_secs,
            } => run(crowd, duration_secs).await,
            Command::Bench {
                crowd,
                duration_secs,
                hub_pid,
                join_timeout_secs,
                settle_secs,
            } => {
                bench(
                    crowd,
                    duration_secs,
                    hub_pid,
                    join_timeout_secs,
                    settle_secs,
                )
                .await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("synchub-sim: {error:#}");
            ExitCode::from(2)
        }
    }
}
