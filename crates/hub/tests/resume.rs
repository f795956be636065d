//! Resume: a participant whose connection drops comes back with its token inside the grace
//! period as the same participant, and batches it resends are stored once.

use serde_json::{Value, json};

use crate::util::{TestHub, WsClient, count_rows, now_ms};

fn batch(seq: u64, count: usize) -> Value {
    let rr: Vec<f64> = (0..count)
        .map(|index| 820.0 + (index % 5) as f64 * 15.0)
        .collect();
    // Consecutive batches, as a phone sends them: batch `seq` covers its own 40 s of the last
    // few minutes (the hub stores a beat once, so batches that overlapped would lose beats).
    let ended_at = now_ms() - 200_000 + seq * 40_000;
    json!({"rr": rr, "endedAt": ended_at, "seq": seq})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_participant_resumes_with_its_token_and_resends_are_stored_once() {
    let hub = TestHub::start(Some("2468")).await;
    let mut phone = WsClient::connect(&hub.ws_url("?roomCode=2468&userId=phone-r")).await;
    let joined = phone.join().await;
    let participant_id = joined["participantId"].clone();
    let token = joined["resumeToken"].as_str().unwrap().to_owned();

    phone.send("rr_intervals", batch(1, 30)).await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    // Batch 2 goes out and the connection drops before the phone saw its ack.
    phone.send("rr_intervals", batch(2, 30)).await;
    phone.close().await;

    let mut again = WsClient::connect(&hub.ws_url(&format!(
        "?roomCode=2468&userId=phone-r&resumeToken={token}"
    )))
    .await;
    let resumed = again.expect("session_joined").await;
    assert_eq!(
        resumed["participantId"], participant_id,
        "same participant after the resume"
    );
    // The phone resends what it has no ack for, and (being cautious) batch 1 too.
    again.send("rr_intervals", batch(2, 30)).await;
    again.send("rr_intervals", batch(1, 30)).await;
    let mut acked = Vec::new();
    while acked.len() < 2 {
        let ack = again.expect("rr_ack").await;
        acked.push(ack["seq"].as_u64().unwrap());
    }
    acked.sort_unstable();
    assert_eq!(acked, [1, 2]);
    // A join on the resumed connection is idempotent: same participant.
    again
        .send("join_session", json!({"intention": "energy"}))
        .await;
    assert_eq!(
        again.expect("session_joined").await["participantId"],
        participant_id
    );

    // A forged token is not an error: that client simply joins as someone new.
    let forged = "0123456789abcdef0123456789abcdef";
    let mut stranger =
        WsClient::connect(&hub.ws_url(&format!("?roomCode=2468&resumeToken={forged}"))).await;
    let joined = stranger.join().await;
    assert_ne!(joined["participantId"], participant_id);

    hub.hub.stop().await.unwrap();
    let database = hub.database.clone();
    assert_eq!(
        count_rows(
            &database,
            "SELECT count(*) FROM rr_intervals WHERE batch_seq = 1"
        ),
        30
    );
    assert_eq!(
        count_rows(
            &database,
            "SELECT count(*) FROM rr_intervals WHERE batch_seq = 2"
        ),
        30
    );
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM session_participants"),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_the_session_resumes_and_phones_rejoin_with_their_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::util::test_config(dir.path(), None);
    let hub = synchub::serve::start(config.clone()).await.unwrap();
    hub.state
        .engine
        .admin(synchub::engine_task::AdminCommand::StartSession)
        .await
        .unwrap()
        .unwrap();
    let port = hub.local_addr.port();
    let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=phone-k")).await;
    let joined = phone.join().await;
    phone.send("rr_intervals", batch(1, 40)).await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    hub.stop().await.unwrap();

    let hub = synchub::serve::start(config).await.unwrap();
    let port = hub.local_addr.port();
    let token = joined["resumeToken"].as_str().unwrap();
    let mut phone = WsClient::connect(&format!(
        "ws://127.0.0.1:{port}/ws?userId=phone-k&resumeToken={token}"
    ))
    .await;
    let resumed = phone.expect("session_joined").await;
    assert_eq!(
        resumed["sessionId"], joined["sessionId"],
        "the same session continues"
    );
    assert_eq!(
        resumed["participantId"], joined["participantId"],
        "the same participant"
    );
    // A batch stored before the restart is acknowledged again, not stored twice.
    phone.send("rr_intervals", batch(1, 40)).await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    hub.stop().await.unwrap();
    let database = dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        40
    );
    assert_eq!(count_rows(&database, "SELECT count(*) FROM sessions"), 1);
}
