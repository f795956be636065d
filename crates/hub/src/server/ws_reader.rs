//! The reading side of a `/ws` connection and its outbox, shared by the connections of phones
//! and displays (`ws`) and of relays (`relay_link`): the next frame within a deadline (a frame
//! over the limit answered `too_large`), and errors sent straight from the edge.

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt as _;
use synchub_protocol::limits::MAX_FRAME_BYTES;
use synchub_protocol::{ErrorCode, ErrorEvent, HubEvent};
use tokio::sync::{mpsc, oneshot};

use super::AppState;
use crate::encoded::Encoded;
use crate::metrics::Metrics;
use crate::peer::ConnId;

/// What a `/ws` connection's writer task receives.
#[derive(Debug, Clone)]
pub enum WsOut {
    Text(Utf8Bytes),
    /// Send a close frame and end the connection (wrong room code, shutdown, slow client).
    Close,
}

/// Sends an error straight from the edge (not through the engine).
pub fn send_error(state: &AppState, outbox: &mpsc::Sender<WsOut>, error: ErrorEvent) {
    state.metrics.count_error(error.code);
    let encoded = Encoded::new(&HubEvent::Error(error));
    // A client too slow to take its error message loses it; the engine closes slow clients.
    let _ = outbox.try_send(WsOut::Text(encoded.frame.clone()));
}

/// A connection's reading side: the socket's stream, the outbox to answer through, and the
/// writer's end (a stuck write ends the reader as well).
pub struct Reader<'a> {
    pub state: &'a AppState,
    pub conn: ConnId,
    pub stream: &'a mut futures_util::stream::SplitStream<WebSocket>,
    pub outbox: &'a mpsc::Sender<WsOut>,
    pub writer_gone: oneshot::Receiver<()>,
}

impl Reader<'_> {
    /// The next message, waiting until `deadline`; `None` when the connection is over (closed,
    /// reset, silent past the deadline, its writer gone, or a frame over the limit — answered
    /// `too_large` and closed).
    pub async fn next(&mut self, deadline: tokio::time::Instant) -> Option<Message> {
        let received = tokio::select! {
            received = tokio::time::timeout_at(deadline, self.stream.next()) => received,
            _ = &mut self.writer_gone => return None,
            // The engine task is gone (a clean stop, or a panic): nothing this connection
            // sends can be handled any more, so it is closed and the client reconnects to
            // the hub that takes over, instead of waiting on a socket nobody serves.
            () = self.state.engine.inputs.closed() => {
                let _ = self.outbox.try_send(WsOut::Close);
                return None;
            }
        };
        match received {
            Err(_) => {
                Metrics::increment(&self.state.metrics.timeouts);
                let _ = self.outbox.try_send(WsOut::Close);
                None
            }
            Ok(None | Some(Ok(Message::Close(_)))) => None,
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(error))) => {
                if let Some(size) = announced_too_large(error) {
                    send_error(
                        self.state,
                        self.outbox,
                        ErrorEvent {
                            code: ErrorCode::TooLarge,
                            message: format!(
                                "a frame of {size} bytes is over the {MAX_FRAME_BYTES}-byte limit; the connection closes"
                            ),
                        },
                    );
                    let _ = self.outbox.try_send(WsOut::Close);
                }
                None
            }
        }
    }
}

/// The announced size of a frame the WebSocket library refused from its header as over the
/// limit; `None` for any other read error. axum's error wraps the library's (the version axum
/// uses, which `tungstenite` in Cargo.toml must match; the oversized-frame test catches a
/// mismatch).
fn announced_too_large(error: axum::Error) -> Option<usize> {
    match error.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            ..
        })) => Some(*size),
        _ => None,
    }
}
