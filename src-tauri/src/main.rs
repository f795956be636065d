//! `synchub-desktop`: the facilitator's desktop app. It runs the very same hub as `synchub
//! serve`, in this process on its own tokio runtime, and shows the very same console as the
//! browser (`ui/dist`) in a native window; the console talks to the hub over HTTP and WebSocket
//! like any browser, and asks this shell for four things only (see [`commands`]).
//!
//! The shell is deliberately thin (GitButler's pattern): starting, restarting and stopping the
//! hub ([`embedded_hub`], [`hub_keeper`]) and the projector windows ([`projector`]) is all it
//! does; every room rule lives in the hub.
//!
//! Lifecycle: start the hub, then open the window; if the hub's engine fails, restart the hub
//! (the session resumes) and tell the console; when the window closes (or SIGINT/SIGTERM
//! arrives) close the projectors, stop the hub — every record flushed to the store — and exit.
//! The exit code is 0 only if the hub stopped cleanly.

mod commands;
mod embedded_hub;
mod hub_keeper;
mod projector;

use std::time::Duration;

use anyhow::Context as _;
use tauri::Manager as _;

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let code = match run() {
        Ok(code) => code,
        Err(error) => {
            #[allow(clippy::print_stderr)] // The one place the error chain is reported.
            {
                eprintln!("synchub-desktop: {error:#}");
            }
            1
        }
    };
    std::process::exit(code);
}

fn run() -> anyhow::Result<i32> {
    let settings = embedded_hub::settings_from_env()?;
    // The hub's own runtime, independent of Tauri's: the hub outlives the event loop, which
    // must end before the hub can be stopped and flushed.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("synchub-hub")
        .build()
        .context("while starting the hub's async runtime")?;

    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::hub_connection,
            commands::list_monitors,
            commands::open_projector,
            commands::hub_restarts,
        ])
        .build(tauri::generate_context!())
        .context("while building the desktop app")?;

    // Windows from tauri.conf.json are created when the event loop starts, so the hub is
    // accepting connections before the console loads.
    let data_dir = match &settings.data_dir {
        Some(dir) => dir.clone(),
        None => app
            .path()
            .app_data_dir()
            .context("while finding the app's data folder")?,
    };
    let config = embedded_hub::hub_config(&settings, data_dir)?;
    let hub_config = config.hub.clone();
    let hub = runtime.block_on(embedded_hub::start(config))?;
    tracing::info!(url = %hub.base_url, data_dir = %hub.data_dir.display(), "hub running in the desktop app");
    let base_url = embedded_hub::console_base_url(hub.local_addr);
    let keeper = {
        let _runtime = runtime.enter();
        hub_keeper::HubKeeper::start(hub, hub_config)
    };
    app.manage(commands::Desktop {
        base_url,
        hub: keeper.current.clone(),
        restarts: keeper.restarts.clone(),
        projectors: projector::Projectors::next_to_current_exe()
            .context("while locating the app's own executable")?,
    });

    let handle = app.handle().clone();
    runtime.spawn(async move {
        synchub::serve::stop_signal().await;
        tracing::info!("stop signal: closing the app");
        handle.exit(0);
    });

    let code = app.run_return(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // Projectors first: they would only reconnect to a hub that is going away.
            app.state::<commands::Desktop>().projectors.close_all();
        }
    });

    tracing::info!("window closed: stopping the hub");
    runtime
        .block_on(keeper.stop())
        .context("while stopping the hub")?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(code)
}
