//! The projector's link to the hub, off the UI thread.
//!
//! The window must stay smooth whatever the network does, so everything that waits — mDNS
//! discovery, connecting, reading `/ws`, backing off after a failure, or playing a recorded
//! stream — runs on one background thread with its own small tokio runtime and reports to the
//! UI through a channel of [`Update`]s. The UI never blocks on it: it drains the channel once
//! per frame.
//!
//! A display connects to `/ws?role=display&protocol=2` (plus the room code when the hub wants
//! one), receives the room's broadcasts and sends nothing but `time_sync`, whose replies give
//! the offset between this machine's clock and the hub's (needed to breathe in step with
//! phones). It reconnects forever, backing off from 0.5 s to 10 s.
//!
//! The wire side of all this — the handshake's query string, the mDNS service type and TXT
//! keys, the clock-offset estimate — is `synchub_protocol`'s; this module only does the waiting.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use mdns_sd::{ServiceDaemon, ServiceEvent};
use synchub_protocol::clock::ClockOffsetEstimate;
use synchub_protocol::discovery::{AdvertisedHub, SERVICE_TYPE};
use synchub_protocol::{ClientEvent, Handshake, HubEvent, PROTOCOL_VERSION, Role, TimeSyncRequest};
use tokio_tungstenite::tungstenite::Message;

/// Where the room's events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A hub at this base URL (`http://host:port`), or `None` to find one by mDNS.
    Hub {
        /// Base URL; `None` browses for `_synchub._tcp.local.`.
        url: Option<String>,
        /// Room code for the handshake, when the hub requires one.
        room_code: Option<String>,
    },
    /// A recorded stream: one `/ws` frame per line; each `room_snapshot` is one second.
    Replay(PathBuf),
}

/// What the link is doing, for the "waiting for the hub" screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Browsing mDNS for a hub.
    Discovering,
    /// Several hubs answered: the operator picks one (see [`Link::choose`]).
    Choose(Vec<AdvertisedHub>),
    /// Not connected; trying `url` again soon.
    Waiting {
        /// The hub being tried.
        url: String,
    },
    /// Receiving the room from `url`.
    Connected {
        /// The hub (or the replayed file).
        url: String,
    },
}

/// One report from the background thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The link changed state.
    Status(Status),
    /// An event from the hub.
    Event(HubEvent),
    /// Best estimate of `hub clock − local clock`, in ms.
    ClockOffsetMs(f64),
}

/// The UI's end of the link.
#[derive(Debug)]
pub struct Link {
    /// Reports, drained by the UI each frame.
    pub updates: Receiver<Update>,
    choices: Sender<usize>,
}

impl Link {
    /// Picks hub number `index` of a [`Status::Choose`] list.
    pub fn choose(&self, index: usize) {
        // The thread may be gone when the window closes; nothing to do then.
        let _ = self.choices.send(index);
    }
}

/// Starts the background thread for `source`.
pub fn start(source: Source) -> Link {
    let (updates_tx, updates) = channel();
    let (choices, choices_rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("hub-link".to_owned())
        .spawn(move || run(source, &updates_tx, &choices_rx));
    if let Err(error) = spawned {
        // The window still opens and shows that it is waiting; there is nothing else to do.
        tracing::error!(%error, "could not start the hub link thread");
    }
    Link { updates, choices }
}

/// The local clock in ms since the Unix epoch.
pub fn local_now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64() * 1000.0)
}

/// The `/ws` URL of a hub's base URL for a display: `http` becomes `ws`, `https` `wss`.
pub fn display_ws_url(base: &str, room_code: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_owned()
    } else {
        format!("ws://{base}")
    };
    let base = base.trim_end_matches("/ws");
    let handshake = Handshake {
        room_code: room_code.map(str::to_owned),
        role: Role::Display,
        protocol: Some(PROTOCOL_VERSION),
        ..Handshake::default()
    };
    format!("{base}/ws?{}", handshake.to_query())
}

fn run(source: Source, updates: &Sender<Update>, choices: &Receiver<usize>) {
    match source {
        Source::Replay(path) => replay(&path, updates),
        Source::Hub { url, room_code } => {
            let url = match url {
                Some(url) => url,
                None => match discover(updates, choices) {
                    Some(url) => url,
                    None => return,
                },
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "could not start the network runtime");
                    return;
                }
            };
            runtime.block_on(connect_forever(&url, room_code.as_deref(), updates));
        }
    }
}

/// Browses until at least one hub answers; one is used at once, several are offered to the
/// operator. `None` when the UI has gone away.
fn discover(updates: &Sender<Update>, choices: &Receiver<usize>) -> Option<String> {
    updates.send(Update::Status(Status::Discovering)).ok()?;
    let daemon = match ServiceDaemon::new() {
        Ok(daemon) => daemon,
        Err(error) => {
            tracing::warn!(%error, "mDNS is unavailable; start with --hub URL");
            return None;
        }
    };
    let events = daemon.browse(SERVICE_TYPE).ok()?;
    let mut hubs: Vec<AdvertisedHub> = Vec::new();
    let mut first_seen: Option<Instant> = None;
    loop {
        // Give other hubs two seconds to answer after the first, so the operator sees them all.
        if first_seen.is_some_and(|seen| seen.elapsed() > Duration::from_secs(2)) {
            break;
        }
        if let Ok(ServiceEvent::ServiceResolved(service)) =
            events.recv_timeout(Duration::from_millis(250))
            && let Some(hub) = AdvertisedHub::from_resolved(
                &service.fullname,
                service.port,
                service.addresses.iter().map(|ip| ip.to_ip_addr()),
                |key| service.get_property_val_str(key),
            )
            && hubs.iter().all(|known| known.url != hub.url)
        {
            hubs.push(hub);
            first_seen.get_or_insert_with(Instant::now);
        }
    }
    let _ = daemon.shutdown();
    if hubs.len() == 1 {
        return hubs.pop().map(|hub| hub.url);
    }
    updates
        .send(Update::Status(Status::Choose(hubs.clone())))
        .ok()?;
    loop {
        let index = choices.recv().ok()?;
        if let Some(hub) = hubs.get(index) {
            return Some(hub.url.clone());
        }
    }
}

async fn connect_forever(base: &str, room_code: Option<&str>, updates: &Sender<Update>) {
    let url = display_ws_url(base, room_code);
    let mut backoff = Duration::from_millis(500);
    loop {
        if updates
            .send(Update::Status(Status::Waiting {
                url: base.to_owned(),
            }))
            .is_err()
        {
            return;
        }
        match tokio_tungstenite::connect_async(&url).await {
            Ok((socket, _)) => {
                backoff = Duration::from_millis(500);
                tracing::info!(hub = base, "connected");
                if updates
                    .send(Update::Status(Status::Connected {
                        url: base.to_owned(),
                    }))
                    .is_err()
                {
                    return;
                }
                match receive(socket, updates).await {
                    Ok(()) => tracing::info!(hub = base, "the hub closed the connection"),
                    Err(error) => tracing::warn!(hub = base, %error, "connection lost"),
                }
            }
            Err(error) => tracing::debug!(hub = base, %error, "hub not reachable"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn receive(
    mut socket: Socket,
    updates: &Sender<Update>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    // A few quick round trips at first, then one every ten seconds to follow drift.
    let mut sync_timer = tokio::time::interval(Duration::from_secs(2));
    let mut syncs_sent = 0u32;
    let mut clock = ClockOffsetEstimate::new();
    let mut offset_sent: Option<f64> = None;
    loop {
        tokio::select! {
            _ = sync_timer.tick() => {
                syncs_sent += 1;
                if syncs_sent == 4 {
                    sync_timer = tokio::time::interval(Duration::from_secs(10));
                    sync_timer.tick().await;
                }
                let frame = ClientEvent::TimeSync(TimeSyncRequest { client_time: local_now_ms() })
                    .to_frame();
                socket.send(Message::Text(frame.into())).await?;
            }
            message = socket.next() => {
                let Some(message) = message else { return Ok(()) };
                let text = match message? {
                    Message::Text(text) => text,
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                let event = match HubEvent::from_frame(&text) {
                    Ok(event) => event,
                    Err(error) => {
                        tracing::debug!(%error, "ignored a frame this projector does not know");
                        continue;
                    }
                };
                if let HubEvent::TimeSync(reply) = &event {
                    let offset = clock.add_reply(reply, local_now_ms());
                    // The window is told only when the estimate moved.
                    if offset != offset_sent {
                        offset_sent = offset;
                        if let Some(offset) = offset
                            && updates.send(Update::ClockOffsetMs(offset)).is_err()
                        {
                            return Ok(());
                        }
                    }
                    continue;
                }
                if updates.send(Update::Event(event)).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads a recording: one `/ws` frame per line (blank lines and `#` comments skipped).
pub fn read_recording(text: &str) -> Result<Vec<HubEvent>, synchub_protocol::DecodeError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(HubEvent::from_frame)
        .collect()
}

/// Plays a recording in a loop, one second per `room_snapshot`, with the hub clock set so that
/// the first snapshot's timestamp is now.
fn replay(path: &PathBuf, updates: &Sender<Update>) {
    let events = match std::fs::read_to_string(path)
        .map_err(|error| error.to_string())
        .and_then(|text| read_recording(&text).map_err(|error| error.to_string()))
    {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(path = %path.display(), %error, "cannot read the recording");
            return;
        }
    };
    let first_timestamp = events.iter().find_map(|event| match event {
        HubEvent::RoomSnapshot(snapshot) => Some(snapshot.timestamp),
        _ => None,
    });
    #[allow(clippy::cast_precision_loss)]
    let offset = first_timestamp.map_or(0.0, |timestamp| timestamp as f64 - local_now_ms());
    let url = format!("replay of {}", path.display());
    if updates.send(Update::ClockOffsetMs(offset)).is_err()
        || updates
            .send(Update::Status(Status::Connected { url }))
            .is_err()
    {
        return;
    }
    loop {
        for event in &events {
            let is_snapshot = matches!(event, HubEvent::RoomSnapshot(_));
            if updates.send(Update::Event(event.clone())).is_err() {
                return;
            }
            if is_snapshot {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_urls_carry_the_role_and_the_room_code() {
        assert_eq!(
            display_ws_url("http://192.168.1.5:7878", Some("K7 Q2")),
            "ws://192.168.1.5:7878/ws?role=display&protocol=2&roomCode=K7%20Q2"
        );
        assert_eq!(
            display_ws_url("http://hub.local:7878/", None),
            "ws://hub.local:7878/ws?role=display&protocol=2"
        );
        assert_eq!(
            display_ws_url("127.0.0.1:7878", None),
            "ws://127.0.0.1:7878/ws?role=display&protocol=2"
        );
    }
}
