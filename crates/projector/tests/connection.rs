//! The link to the hub against a stand-in hub on a real socket: the display handshake, the
//! events passed on, `time_sync`, and reconnecting after the hub goes away.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use synchub_projector::connection::{self, Source, Status, Update};
use synchub_protocol::HubEvent;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// Waits up to `limit` for an update that `want` picks out.
fn wait_for<T>(
    updates: &Receiver<Update>,
    limit: Duration,
    mut want: impl FnMut(&Update) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("the expected update arrived in time");
        let update = updates.recv_timeout(left).expect("the link is alive");
        if let Some(found) = want(&update) {
            return found;
        }
    }
}

#[test]
#[allow(clippy::result_large_err)] // tungstenite's handshake callback signature
fn a_display_joins_with_its_role_hears_the_room_syncs_its_clock_and_reconnects() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (paths_tx, paths) = std::sync::mpsc::channel::<String>();
    let snapshot = std::fs::read_to_string(crate::util::data_path("room.jsonl"))
        .unwrap()
        .lines()
        .find(|line| line.contains("\"room_snapshot\""))
        .unwrap()
        .to_owned();
    // The stand-in hub: records the request path, sends one snapshot, answers one time_sync
    // (the hub's clock is 1 000 000 ms ahead), then hangs up; and again for the next client.
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let paths_tx = paths_tx.clone();
            let mut socket = tokio_tungstenite::accept_hdr_async(
                stream,
                |request: &Request, response: Response| {
                    let _ = paths_tx.send(request.uri().to_string());
                    Ok(response)
                },
            )
            .await
            .unwrap();
            socket
                .send(Message::Text(snapshot.clone().into()))
                .await
                .unwrap();
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    frame["event"], "time_sync",
                    "a display sends only time_sync"
                );
                let client_time = frame["data"]["clientTime"].as_f64().unwrap();
                let reply = serde_json::json!({
                    "event": "time_sync",
                    "data": {"clientTime": client_time, "hubTime": client_time as u64 + 1_000_000},
                });
                socket
                    .send(Message::Text(reply.to_string().into()))
                    .await
                    .unwrap();
            }
            let _ = socket.close(None).await;
        }
    });

    let link = connection::start(Source::Hub {
        url: Some(format!("http://127.0.0.1:{port}")),
        room_code: Some("K7Q2".to_owned()),
    });
    let limit = Duration::from_secs(10);
    wait_for(&link.updates, limit, |update| {
        matches!(update, Update::Status(Status::Connected { .. })).then_some(())
    });
    assert_eq!(
        paths.recv_timeout(limit).unwrap(),
        "/ws?role=display&protocol=2&roomCode=K7Q2"
    );
    let participants = wait_for(&link.updates, limit, |update| match update {
        Update::Event(HubEvent::RoomSnapshot(snapshot)) => Some(snapshot.participants.len()),
        _ => None,
    });
    assert_eq!(participants, 12);
    let offset_ms = wait_for(&link.updates, limit, |update| match update {
        Update::ClockOffsetMs(offset) => Some(*offset),
        _ => None,
    });
    assert!(
        (offset_ms - 1_000_000.0).abs() < 1_000.0,
        "offset {offset_ms}"
    );
    // The hub hung up: the link waits, then comes back by itself.
    wait_for(&link.updates, limit, |update| {
        matches!(update, Update::Status(Status::Waiting { .. })).then_some(())
    });
    wait_for(&link.updates, limit, |update| {
        matches!(update, Update::Status(Status::Connected { .. })).then_some(())
    });
    assert_eq!(
        paths.recv_timeout(limit).unwrap(),
        "/ws?role=display&protocol=2&roomCode=K7Q2"
    );
}
