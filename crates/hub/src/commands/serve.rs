//! `synchub serve`: a hub for a real room, started with the resolved settings; prints where to
//! connect and runs until SIGINT or SIGTERM, then stops cleanly (`crate::serve`).

use crate::config::HubConfig;
use crate::serve::{ENGINE_FAILURE_LINGER, start, stop_signal};

/// What `--admin-remote` prints, on stderr so it shows whatever stdout is piped to.
const ADMIN_REMOTE_WARNING: &str = "warning: --admin-remote: the facilitator console and API \
    answer every computer on this network, and the admin token crosses it in clear text \
    (plain HTTP). Use it only on a network you trust, and run `synchub admin-token --rotate` \
    afterwards.";

/// `synchub serve`.
#[allow(clippy::print_stdout, clippy::print_stderr)] // The ready line, how to connect, warnings.
pub async fn run(config: HubConfig) -> anyhow::Result<()> {
    let admin_remote = config.admin_remote;
    let hub = start(config).await?;
    if admin_remote {
        eprintln!("{ADMIN_REMOTE_WARNING}");
        tracing::warn!("the facilitator API answers other computers (--admin-remote)");
    }
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
