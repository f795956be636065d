//! `synchub-projector`: the mandala window. Parses the command line, starts the link to the
//! hub (or a replay, or a synthetic room) and opens the window.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use eframe::egui;
use synchub_projector::app::{Options, Projector};
use synchub_projector::connection::{self, Source};

/// Sync Hub's projector: the room's coherence as a mandala, full screen.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The hub's base URL, e.g. `http://192.168.1.20:7878`; found by mDNS when omitted.
    #[arg(long, env = "SYNCHUB_HUB")]
    hub: Option<String>,
    /// The room code (sent in the handshake and shown under the QR code).
    #[arg(long, env = "SYNCHUB_ROOM_CODE")]
    room_code: Option<String>,
    /// The URL the QR code points phones to; by default `<hub>/join?room=<code>`.
    #[arg(long)]
    join_url: Option<String>,
    /// Monitor index for full screen (0 is the first).
    #[arg(long)]
    monitor: Option<usize>,
    /// A window instead of full screen.
    #[arg(long)]
    windowed: bool,
    /// Window size in windowed mode, e.g. `1920x1080`.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (f32, f32),
    /// Start with the join code and QR shown (C toggles it).
    #[arg(long)]
    show_code: bool,
    /// Play a recording (one `/ws` frame per line) instead of connecting to a hub.
    #[arg(long, conflicts_with = "hub")]
    replay: Option<PathBuf>,
    /// Show a synthetic room of N participants instead of connecting to a hub.
    #[arg(long, conflicts_with_all = ["hub", "replay"])]
    synthetic: Option<u32>,
    /// Save a PNG of the window to PATH after `--after-secs`, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Seconds to wait before the screenshot.
    #[arg(long, default_value_t = 3.0)]
    after_secs: f32,
    /// Render N frames without vsync, print mean and p99 frame time, then exit.
    #[arg(long)]
    measure_frames: Option<usize>,
}

fn parse_size(text: &str) -> Result<(f32, f32), String> {
    let (width, height) = text
        .split_once('x')
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {text:?}"))?;
    let parse = |value: &str| {
        value
            .parse::<f32>()
            .map_err(|error| format!("{value:?}: {error}"))
    };
    Ok((parse(width)?, parse(height)?))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,winit=warn,eframe=warn,egui_glow=warn".into()),
        )
        .init();
    if let Err(error) = run(Cli::parse()) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("synchub-projector: {error:#}");
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let link = if cli.synthetic.is_some() {
        None
    } else if let Some(path) = &cli.replay {
        anyhow::ensure!(path.is_file(), "no recording at {}", path.display());
        Some(connection::start(Source::Replay(path.clone())))
    } else {
        Some(connection::start(Source::Hub {
            url: cli.hub.clone(),
            room_code: cli.room_code.clone(),
        }))
    };
    let join_url = cli.join_url.clone().or_else(|| {
        cli.hub.as_ref().map(|hub| {
            let hub = hub.trim_end_matches('/');
            match &cli.room_code {
                Some(code) => format!("{hub}/join?room={code}"),
                None => format!("{hub}/join"),
            }
        })
    });
    let fullscreen = !cli.windowed;
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Sync Hub")
        .with_inner_size(cli.size);
    if fullscreen {
        viewport = viewport.with_fullscreen(true).with_decorations(false);
        if let Some(monitor) = cli.monitor {
            viewport = viewport.with_monitor(monitor);
        }
    }
    let mut native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    // Frame-time measurement wants every frame the renderer can make, not the display's pace.
    native.glow_options.vsync = cli.measure_frames.is_none();
    let options = Options {
        room_code: cli.room_code,
        join_url,
        screenshot: cli.screenshot.map(|path| (path, cli.after_secs)),
        measure_frames: cli.measure_frames,
        fullscreen,
        show_code: cli.show_code,
    };
    let synthetic = cli.synthetic;
    eframe::run_native(
        "synchub-projector",
        native,
        Box::new(move |_| Ok(Box::new(Projector::new(link, synthetic, options)))),
    )
    .map_err(|error| anyhow::anyhow!("{error}"))
    .context("while running the projector window")
}
