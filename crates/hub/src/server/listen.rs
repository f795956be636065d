//! Accepting connections: hyper's HTTP/1 server with a header-read deadline, the per-address
//! connection cap, and a graceful stop.
//!
//! `axum::serve` has no header-read timer: a client that opens a connection and never finishes
//! its request headers (slowloris), or never sends a byte, held a connection forever. hyper
//! has the timer built in (`header_read_timeout`, which also runs while a kept-alive
//! connection waits for its next request); it needs hyper's own connection builder, which is
//! what this module drives. Each accepted connection first takes a place in its address's
//! count ([`Caps::connect`]); the place is handed to the request (an extension) so a WebSocket
//! upgraded from it keeps it for as long as the socket lives.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::caps::{Caps, ConnectionPermit};
use crate::metrics::Metrics;

/// A client has this long to send a request's headers, counted from the connection's first
/// byte wait (or the end of its previous response). A phone on a slow Wi-Fi sends its few
/// hundred bytes of headers in well under a second.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an accept error (out of file descriptors) pauses accepting, so the loop does not
/// spin while connections close.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The place an HTTP request's connection holds in its address's count. WebSocket upgrades
/// take it along, so an upgraded connection still counts.
#[derive(Debug, Clone)]
pub struct HeldPermit(pub Arc<ConnectionPermit>);

/// Serves `router` on `listener` until `stop` changes; then stops accepting, asks every
/// connection to finish its request and close, and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    caps: Arc<Caps>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Some(permit) = caps.connect(peer.ip()) else {
            // Dropping the stream closes it: the address already holds its share.
            Metrics::increment(&metrics.connections_refused);
            continue;
        };
        // Small frames both ways (heartbeats, acks, 1 Hz broadcasts): no Nagle delay.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let permit = HeldPermit(Arc::new(permit));
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(permit.clone());
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(request).await;
                        Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                // Timeouts, resets and malformed requests: the client's business.
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Resolves once `stop` says so (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before anything else awaits.
    let _ = stop.wait_for(|stopped| *stopped).await;
}
