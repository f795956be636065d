//! One connection of the relay to the hub: `/ws?role=relay&protocol=2`, `relay_hello` with the
//! token, then the clock offset (`time_sync`, as phones estimate it), the straps' status every
//! few seconds, and the queue's batches, oldest first, a window at a time. A batch leaves the
//! queue only when the hub answers `relay_ack`; `relay_retry` holds sending for a moment and
//! sends it again; a batch unanswered for [`RESEND_AFTER`] is sent again (the hub stores it
//! once). Nothing heard from the hub for [`SILENCE_LIMIT`] (the hub pings every 10 s) means the
//! link is gone, even when the network says nothing (a Wi-Fi that drops without a reset).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use synchub_protocol::clock::ClockOffsetEstimate;
use synchub_protocol::relay::{
    HubToRelay, MAX_BATCHES_PER_FRAME, RelayBeats, RelayEvent, RelayHello, RelayStraps,
    RelayTimeSync,
};
use synchub_protocol::{ErrorCode, Handshake, PROTOCOL_VERSION, Role};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::queue::Queue;
use super::status::LinkStatus;
use crate::convert;

/// Most batches sent and not yet answered.
const WINDOW: usize = 1024;

/// A batch unanswered this long is sent again.
const RESEND_AFTER: Duration = Duration::from_secs(30);

/// Nothing from the hub for this long: the link is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(25);

/// How long connecting, and each write, may take.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// After `relay_retry`, sending pauses this long.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// How often the clock offset is measured again.
const TIME_SYNC_EVERY: Duration = Duration::from_secs(10);

/// How often the straps' status goes to the hub.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// How a connection ended.
#[derive(Debug)]
pub enum LinkEnd {
    /// The hub refused the token: running on would only be refused again.
    Refused(String),
    /// The connection failed or went quiet; try again.
    Lost(String),
}

/// What the link needs.
pub struct Link<'a> {
    /// `http://host:port` of the hub.
    pub hub_url: &'a str,
    pub token: &'a str,
    pub name: Option<&'a str>,
    pub queue: &'a Arc<Mutex<Queue>>,
    pub reader: &'a synchub_ble::StrapReader,
    pub status: &'a LinkStatus,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
fn wall_ms() -> f64 {
    synchub_ble::system_now_ms() as f64
}

/// The `/ws` URL of the hub at `hub_url` for a relay.
pub fn ws_url(hub_url: &str) -> String {
    let base = hub_url.trim_end_matches('/');
    let base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| format!("ws://{base}"));
    let handshake = Handshake {
        role: Role::Relay,
        protocol: Some(PROTOCOL_VERSION),
        ..Handshake::default()
    };
    format!("{base}/ws?{}", handshake.to_query())
}

async fn send(socket: &mut Socket, event: &RelayEvent) -> Result<(), LinkEnd> {
    match tokio::time::timeout(NETWORK_TIMEOUT, socket.send(Message::text(event.encode()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(LinkEnd::Lost(format!("sending to the hub: {error}"))),
        Err(_) => Err(LinkEnd::Lost(
            "the hub has not taken a frame for 10 s".to_owned(),
        )),
    }
}

impl Link<'_> {
    /// Connects, is welcomed, and serves the link until it ends.
    #[allow(clippy::print_stdout)] // The welcome line, which tests and scripts wait for.
    pub async fn run(&self) -> LinkEnd {
        let url = ws_url(self.hub_url);
        let mut socket =
            match tokio::time::timeout(NETWORK_TIMEOUT, tokio_tungstenite::connect_async(&url))
                .await
            {
                Ok(Ok((socket, _))) => socket,
                Ok(Err(error)) => {
                    return LinkEnd::Lost(format!("connecting to {}: {error}", self.hub_url));
                }
                Err(_) => {
                    return LinkEnd::Lost(format!(
                        "connecting to {}: no answer within 10 s",
                        self.hub_url
                    ));
                }
            };
        let hello = RelayEvent::RelayHello(RelayHello {
            token: self.token.to_owned(),
            name: self.name.map(str::to_owned),
        });
        if let Err(end) = send(&mut socket, &hello).await {
            return end;
        }
        let welcomed = match self.welcome(&mut socket).await {
            Ok(name) => name,
            Err(end) => return end,
        };
        self.status.connected(self.hub_url, &welcomed);
        println!("synchub relay {welcomed} connected to {}", self.hub_url);
        let end = self.serve(&mut socket).await;
        self.status.disconnected();
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        end
    }

    /// Waits for `relay_welcome`; a refusal of the token ends the relay.
    async fn welcome(&self, socket: &mut Socket) -> Result<String, LinkEnd> {
        let deadline = Instant::now() + NETWORK_TIMEOUT;
        loop {
            let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => {
                    return Err(LinkEnd::Lost(
                        "the hub did not welcome the relay within 10 s".to_owned(),
                    ));
                }
                Ok(None) => return Err(LinkEnd::Lost("the hub closed the connection".to_owned())),
                Ok(Some(Err(error))) => {
                    return Err(LinkEnd::Lost(format!("reading from the hub: {error}")));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Message::Text(text) = frame else {
                continue;
            };
            match HubToRelay::decode(text.as_str()) {
                Ok(HubToRelay::RelayWelcome(welcome)) => return Ok(welcome.name),
                Ok(HubToRelay::Error(error)) if error.code == ErrorCode::Unauthorized => {
                    return Err(LinkEnd::Refused(error.message));
                }
                Ok(HubToRelay::Error(error)) => {
                    return Err(LinkEnd::Lost(format!(
                        "the hub refused the relay: {}",
                        error.message
                    )));
                }
                _ => {}
            }
        }
    }

    /// The welcomed link: clock, status, batches and their answers.
    async fn serve(&self, socket: &mut Socket) -> LinkEnd {
        let mut clock = ClockOffsetEstimate::new();
        // Queue position of the last batch sent; batches sent and not answered, by strap and
        // seq, with their position and when they were sent.
        let mut cursor: i64 = 0;
        let mut in_flight: HashMap<(String, u64), (i64, Instant)> = HashMap::new();
        let mut done: Vec<(String, u64)> = Vec::new();
        let mut hold_until = Instant::now();
        let mut last_heard = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut time_sync = tokio::time::interval(TIME_SYNC_EVERY);
        time_sync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut status = tokio::time::interval(STATUS_EVERY);
        status.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Three quick samples to start with: the shortest round trip is the one believed.
        for _ in 0..3 {
            let sync = RelayEvent::TimeSync(RelayTimeSync {
                client_time: wall_ms(),
            });
            if let Err(end) = send(socket, &sync).await {
                return end;
            }
        }
        loop {
            tokio::select! {
                frame = socket.next() => {
                    let frame = match frame {
                        None | Some(Ok(Message::Close(_))) => {
                            return LinkEnd::Lost("the hub closed the connection".to_owned());
                        }
                        Some(Err(error)) => {
                            return LinkEnd::Lost(format!("reading from the hub: {error}"));
                        }
                        Some(Ok(frame)) => frame,
                    };
                    last_heard = Instant::now();
                    let Message::Text(text) = frame else {
                        continue;
                    };
                    match HubToRelay::decode(text.as_str()) {
                        Ok(HubToRelay::RelayAck(ack)) => {
                            if !ack.stored {
                                tracing::debug!(strap = %ack.strap, seq = ack.seq, reason = ?ack.reason, "the hub does not keep a batch");
                            }
                            let key = (ack.strap, ack.seq);
                            in_flight.remove(&key);
                            done.push(key);
                        }
                        Ok(HubToRelay::RelayRetry(retry)) => {
                            tracing::info!(code = ?retry.error.code, "the hub cannot take beats right now; they stay queued and go again shortly");
                            if let Some((position, _)) = in_flight.remove(&(retry.strap, retry.seq)) {
                                cursor = cursor.min(position - 1);
                            }
                            hold_until = Instant::now() + RETRY_PAUSE;
                        }
                        Ok(HubToRelay::TimeSync(reply)) => {
                            let _ = clock.add_reply(&reply, wall_ms());
                        }
                        Ok(HubToRelay::Error(error)) => {
                            tracing::warn!(code = ?error.code, message = %error.message, "the hub refused a frame");
                        }
                        Ok(HubToRelay::RelayWelcome(_)) => {}
                        Err(error) => tracing::warn!(%error, "a frame from the hub was not understood"),
                    }
                }
                _ = tick.tick() => {
                    if last_heard.elapsed() > SILENCE_LIMIT {
                        return LinkEnd::Lost(format!(
                            "nothing from the hub for {} s",
                            SILENCE_LIMIT.as_secs()
                        ));
                    }
                    if let Err(error) = lock(self.queue).remove(&done) {
                        tracing::error!(%error, "the relay's queue cannot forget acknowledged batches");
                    }
                    done.clear();
                    // Unanswered for too long: send again from the oldest of them.
                    let now = Instant::now();
                    let stale: Vec<(String, u64)> = in_flight
                        .iter()
                        .filter(|(_, (_, sent))| now.duration_since(*sent) > RESEND_AFTER)
                        .map(|(key, _)| key.clone())
                        .collect();
                    for key in stale {
                        if let Some((position, _)) = in_flight.remove(&key) {
                            cursor = cursor.min(position - 1);
                        }
                    }
                    let Some(offset) = clock.offset_ms() else {
                        continue;
                    };
                    if now < hold_until {
                        continue;
                    }
                    if let Err(end) = self.send_batches(socket, offset, &mut cursor, &mut in_flight).await {
                        return end;
                    }
                }
                _ = time_sync.tick() => {
                    let sync = RelayEvent::TimeSync(RelayTimeSync { client_time: wall_ms() });
                    if let Err(end) = send(socket, &sync).await {
                        return end;
                    }
                }
                _ = status.tick() => {
                    let report = self.report();
                    if let Err(end) = send(socket, &report).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Sends queued batches after `cursor` while the window has room.
    async fn send_batches(
        &self,
        socket: &mut Socket,
        offset_ms: f64,
        cursor: &mut i64,
        in_flight: &mut HashMap<(String, u64), (i64, Instant)>,
    ) -> Result<(), LinkEnd> {
        while in_flight.len() < WINDOW {
            let room = (WINDOW - in_flight.len()).min(MAX_BATCHES_PER_FRAME);
            let waiting = match lock(self.queue).after(*cursor, room) {
                Ok(waiting) => waiting,
                Err(error) => {
                    tracing::error!(%error, "the relay's queue cannot be read");
                    return Ok(());
                }
            };
            let Some(last) = waiting.last() else {
                return Ok(());
            };
            *cursor = last.id;
            let now = Instant::now();
            let batches = waiting
                .into_iter()
                .filter(|batch| {
                    in_flight
                        .insert((batch.strap.clone(), batch.seq), (batch.id, now))
                        .is_none()
                })
                .map(|batch| batch.to_wire(Some(offset_ms)))
                .collect::<Vec<_>>();
            if !batches.is_empty() {
                send(socket, &RelayEvent::RelayBeats(RelayBeats { batches })).await?;
            }
        }
        Ok(())
    }

    /// `relay_straps`: every strap the reader sees, and the queue.
    fn report(&self) -> RelayEvent {
        let straps = self
            .reader
            .straps()
            .iter()
            .map(convert::relay_strap)
            .collect();
        #[allow(clippy::cast_possible_truncation)]
        let queue = lock(self.queue).state(wall_ms() as i64).unwrap_or_default();
        RelayEvent::RelayStraps(RelayStraps { straps, queue })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_connects_to_ws_with_its_role_and_protocol() {
        assert_eq!(
            ws_url("http://192.168.1.20:3000/"),
            "ws://192.168.1.20:3000/ws?role=relay&protocol=2"
        );
    }
}
