//! A stand-in hub for the client tests: a real WebSocket server on 127.0.0.1:0 that plays the
//! hub's side of the protocol just far enough to check the participant's behaviour — join,
//! `session_joined` with a resume token, `rr_ack`, `time_sync`, 1 Hz-ish `group_metrics_update`,
//! and a dropped connection on request.
//!
//! Its Socket.IO framing is written out by hand (`42[…]`, `40{…}`), independently of the
//! crate's own encoder, so the two check each other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

pub const RESUME_TOKEN: &str = "resume-token-1";
pub const PARTICIPANT_ID: &str = "participant-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `/ws`, `{"event","data"}` frames.
    Ws,
    /// `/socket.io/`, Engine.IO + Socket.IO frames.
    SocketIo,
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub framing: Framing,
    /// The room code the hub requires.
    pub room_code: &'static str,
    /// Close the first connection right after receiving this many `rr_intervals` on it, without
    /// acknowledging the last one.
    pub drop_first_connection_after_batches: Option<usize>,
    /// Hub clock minus real clock, ms (what `time_sync` must discover).
    pub hub_clock_ahead_ms: f64,
    /// Socket.IO: how often the hub sends an Engine.IO ping.
    pub engine_ping_interval: Duration,
}

/// One event the hub received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub connection: usize,
    pub name: String,
    pub data: Value,
}

/// What the stand-in hub observed.
#[derive(Debug, Default)]
pub struct Observed {
    /// Handshake fields of each connection, in order (`auth`, `hello` or query string).
    pub handshakes: Vec<Value>,
    /// Every event received, in order.
    pub events: Vec<Seen>,
    /// RR batches stored, by seq (each stored once, like the hub's duplicate check).
    pub stored: BTreeMap<u64, Vec<f64>>,
    /// Engine.IO pongs received.
    pub pongs: usize,
}

pub struct FakeHub {
    pub url: String,
    pub observed: Arc<Mutex<Observed>>,
}

fn hub_now_ms(ahead_ms: f64) -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
        + ahead_ms
}

fn query_fields(query: &str) -> Value {
    let mut fields = serde_json::Map::new();
    for pair in query.split('&') {
        if let Some((key, value)) = pair.split_once('=')
            && matches!(key, "userId" | "roomCode" | "resumeToken" | "role")
        {
            fields.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    Value::Object(fields)
}

impl FakeHub {
    pub async fn start(behaviour: Behaviour) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let observed = Arc::new(Mutex::new(Observed::default()));
        let shared = Arc::clone(&observed);
        tokio::spawn(async move {
            let mut connection = 0;
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connection += 1;
                tokio::spawn(serve(
                    tcp,
                    connection,
                    behaviour.clone(),
                    Arc::clone(&shared),
                ));
            }
        });
        FakeHub { url, observed }
    }

    pub fn observed(&self) -> std::sync::MutexGuard<'_, Observed> {
        self.observed.lock().unwrap()
    }
}

fn encode(framing: Framing, name: &str, data: &Value) -> String {
    match framing {
        Framing::Ws => json!({"event": name, "data": data}).to_string(),
        Framing::SocketIo => format!("42{}", json!([name, data])),
    }
}

/// `(name, data)` of a client frame; `None` for Engine.IO control frames.
fn decode(framing: Framing, text: &str, observed: &Mutex<Observed>) -> Option<(String, Value)> {
    match framing {
        Framing::Ws => {
            let frame: Value = serde_json::from_str(text).unwrap();
            Some((
                frame["event"].as_str().unwrap().to_owned(),
                frame.get("data").cloned().unwrap_or(Value::Null),
            ))
        }
        Framing::SocketIo => {
            if text == "3" {
                observed.lock().unwrap().pongs += 1;
                return None;
            }
            let array = text.strip_prefix("42").expect("an event packet");
            let mut items: Vec<Value> = serde_json::from_str(array).unwrap();
            let name = items.remove(0).as_str().unwrap().to_owned();
            Some((name, items.into_iter().next().unwrap_or(Value::Null)))
        }
    }
}

fn session_joined() -> Value {
    json!({
        "sessionId": "session-1",
        "startedAt": 1_700_000_000_000u64,
        "duration": 900_000,
        "currentPhase": "active",
        "participantCount": 1,
        "groupMetrics": null,
        "audioTrack": null,
        "participantId": PARTICIPANT_ID,
        "resumeToken": RESUME_TOKEN,
        "phaseEndsAt": 1_700_000_900_000u64,
        "roomName": "Test room",
    })
}

async fn serve(
    tcp: tokio::net::TcpStream,
    connection: usize,
    behaviour: Behaviour,
    observed: Arc<Mutex<Observed>>,
) {
    // As a real server would: small frames must not wait for delayed ACKs.
    let _ = tcp.set_nodelay(true);
    let uri = Arc::new(Mutex::new(String::new()));
    let uri_seen = Arc::clone(&uri);
    // The callback's error type is tungstenite's, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, response: Response| {
        *uri_seen.lock().unwrap() = request.uri().to_string();
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let uri = uri.lock().unwrap().clone();
    let framing = behaviour.framing;
    let send = |name: &str, data: Value| Message::text(encode(framing, name, &data));

    // Handshake.
    let handshake = match framing {
        Framing::Ws => {
            assert!(uri.starts_with("/ws"), "{uri}");
            let query = uri.split_once('?').map_or("", |(_, query)| query);
            let fields = query_fields(query);
            if fields.get("userId").is_some() {
                fields
            } else {
                let Some(Ok(Message::Text(first))) = socket.next().await else {
                    return;
                };
                let (name, data) = decode(framing, first.as_str(), &observed).unwrap();
                assert_eq!(name, "hello");
                data
            }
        }
        Framing::SocketIo => {
            assert!(
                uri.starts_with("/socket.io/?EIO=4&transport=websocket"),
                "{uri}"
            );
            let open = r#"0{"sid":"engine-1","upgrades":[],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}"#;
            socket.send(Message::text(open)).await.unwrap();
            let Some(Ok(Message::Text(connect))) = socket.next().await else {
                return;
            };
            let auth = connect
                .as_str()
                .strip_prefix("40")
                .expect("a namespace connect");
            let auth: Value = serde_json::from_str(auth).unwrap();
            if auth["roomCode"] != behaviour.room_code {
                let refusal = r#"44{"message":"wrong room code","data":{"code":"bad_room_code"}}"#;
                socket.send(Message::text(refusal)).await.unwrap();
                observed.lock().unwrap().handshakes.push(auth);
                return;
            }
            socket
                .send(Message::text(r#"40{"sid":"socket-1"}"#))
                .await
                .unwrap();
            auth
        }
    };
    observed.lock().unwrap().handshakes.push(handshake.clone());
    if handshake["roomCode"] != behaviour.room_code {
        let error = json!({"code": "bad_room_code", "message": "wrong room code"});
        let _ = socket.send(send("error", error)).await;
        let _ = socket.close(None).await;
        return;
    }
    if handshake["resumeToken"] == RESUME_TOKEN {
        socket
            .send(send("session_joined", session_joined()))
            .await
            .unwrap();
    }

    let mut batches_on_this_connection = 0;
    let mut synced = false;
    let mut metrics = tokio::time::interval(Duration::from_millis(300));
    let mut pings = tokio::time::interval(behaviour.engine_ping_interval);
    pings.tick().await;
    loop {
        tokio::select! {
            _ = metrics.tick() => {
                if synced {
                    let group = json!({"groupMetrics": {
                        "sessionId": "session-1",
                        "timestamp": hub_now_ms(behaviour.hub_clock_ahead_ms) as u64,
                        "participantCount": 1,
                        "averageCoherence": 50.0,
                    }});
                    if socket.send(send("group_metrics_update", group)).await.is_err() {
                        return;
                    }
                }
            }
            _ = pings.tick(), if framing == Framing::SocketIo => {
                if socket.send(Message::text("2")).await.is_err() {
                    return;
                }
            }
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return,
                };
                let Some((name, data)) = decode(framing, text.as_str(), &observed) else { continue };
                observed.lock().unwrap().events.push(Seen { connection, name: name.clone(), data: data.clone() });
                let reply = match name.as_str() {
                    "join_session" => Some(send("session_joined", session_joined())),
                    "time_sync" => {
                        synced = true;
                        let client_time = data["clientTime"].clone();
                        let hub_time = hub_now_ms(behaviour.hub_clock_ahead_ms) as u64;
                        Some(send("time_sync", json!({"clientTime": client_time, "hubTime": hub_time})))
                    }
                    "rr_intervals" => {
                        let seq = data["seq"].as_u64().unwrap();
                        let rr = data["rr"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                        observed.lock().unwrap().stored.entry(seq).or_insert(rr);
                        batches_on_this_connection += 1;
                        if connection == 1
                            && Some(batches_on_this_connection) == behaviour.drop_first_connection_after_batches
                        {
                            // A Wi-Fi blip: the socket vanishes before the ack goes out.
                            return;
                        }
                        Some(send("rr_ack", json!({"seq": seq})))
                    }
                    _ => None,
                };
                if let Some(reply) = reply
                    && socket.send(reply).await.is_err()
                {
                    return;
                }
            }
        }
    }
}
