//! `synchub serve`: a hub for a real room, started with the resolved settings; prints where to
//! connect and runs until SIGINT or SIGTERM, then stops cleanly (`crate::serve`).

use crate::config::HubConfig;
use crate::serve::{ENGINE_FAILURE_LINGER, start, stop_signal};

/// `synchub serve`.
#[allow(clippy::print_stdout)] // The command's output: the ready line and how to connect.
pub async fn run(config: HubConfig) -> anyhow::Result<()> {
    let hub = start(config).await?;
    println!("synchub ready on {}", hub.base_url);
    let room = hub.state.room();
    match &room.code {
        Some(code) => println!("room code: {code}"),
        None => println!("room code: none (anyone on the network can join)"),
    }
    println!("admin token: {}", hub.admin_token_path.display());
    println!("join URL: {}", hub.state.join_url());
    tokio::select! {
        () = stop_signal() => {
            tracing::info!("stopping");
            hub.stop().await
        }
        message = hub.engine_failure() => {
            // `/health` is red meanwhile, with the reason.
            tokio::time::sleep(ENGINE_FAILURE_LINGER).await;
            let stopped = hub.stop().await;
            if let Err(error) = stopped {
                tracing::error!(error = %format!("{error:#}"), "stopping after the engine failed");
            }
            Err(anyhow::anyhow!(
                "the session engine failed ({message}); everything acknowledged is stored: restart the hub and the session resumes"
            ))
        }
    }
}
