//! A Rust WebSocket client on `/ws` against a running hub: the handshake both ways, the
//! original events, `rr_ack` after the store, and the bad-input catalogue of quality.md.

use serde_json::{Value, json};

use crate::util::{TestHub, WsClient, count_rows, now_ms};

/// `count` plausible beats (~800 ms each) whose last one ended just now.
fn beats(count: usize, seq: u64) -> Value {
    let rr: Vec<f64> = (0..count)
        .map(|index| 780.0 + (index % 7) as f64 * 10.0)
        .collect();
    json!({"rr": rr, "endedAt": now_ms(), "seq": seq})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_joins_with_query_handshake_and_gets_the_original_events() {
    let hub = TestHub::start(Some("4711")).await;
    let mut client = WsClient::connect(&hub.ws_url("?roomCode=4711&userId=phone-a")).await;
    let joined = client.join().await;
    for key in [
        "sessionId",
        "startedAt",
        "duration",
        "currentPhase",
        "participantCount",
        "groupMetrics",
        "audioTrack",
    ] {
        assert!(
            joined.get(key).is_some(),
            "session_joined lacks the original `{key}`"
        );
    }
    for key in ["participantId", "resumeToken", "phaseEndsAt", "roomName"] {
        assert!(joined.get(key).is_some(), "session_joined lacks `{key}`");
    }
    assert_eq!(joined["roomName"], "Test room");
    assert_eq!(joined["resumeToken"].as_str().unwrap().len(), 32);
    let pacer = client.expect("pacer").await;
    assert_eq!(pacer["breathsPerMin"], 6.0);
    assert_eq!(
        client.expect("participant_update").await["participantCount"],
        1
    );

    client.send("rr_intervals", beats(60, 1)).await;
    assert_eq!(client.expect("rr_ack").await, json!({"seq": 1}));

    client
        .send("update_coherence", json!({"coherence": 64.5}))
        .await;
    let feedback = client.expect("personal_feedback").await;
    assert_eq!(feedback["yourCoherence"], 64.5);
    assert!(feedback["groupAverage"].is_number());
    assert!(
        ["helping_lift", "being_supported"].contains(&feedback["contribution"].as_str().unwrap())
    );

    let metrics = client.expect("group_metrics_update").await;
    let group = &metrics["groupMetrics"];
    assert_eq!(group["participantCount"], 1);
    for key in [
        "averageCoherence",
        "peakCoherence",
        "coherencePhase",
        "coherenceDistribution",
        "medianCoherence",
        "stdCoherence",
        "activeCount",
    ] {
        assert!(group.get(key).is_some(), "groupMetrics lacks `{key}`");
    }

    client
        .send("time_sync", json!({"clientTime": 12345.5}))
        .await;
    let reply = client.expect("time_sync").await;
    assert_eq!(reply["clientTime"], 12345.5);
    assert!(reply["hubTime"].as_u64().unwrap() >= now_ms() - 60_000);
    client.close().await;
    hub.hub.stop().await.unwrap();
    assert_eq!(
        count_rows(&hub.database.clone(), "SELECT count(*) FROM rr_intervals"),
        60
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hello_event_carries_the_handshake_and_displays_only_listen() {
    let hub = TestHub::start(Some("4711")).await;
    let mut phone = WsClient::connect(&hub.ws_url("")).await;
    phone
        .send("hello", json!({"roomCode": "4711", "userId": "phone-b"}))
        .await;
    phone.join().await;

    let mut display = WsClient::connect(&hub.ws_url("?roomCode=4711&role=display")).await;
    assert!(display.expect("pacer").await["epochHubTime"].is_u64());
    let snapshot = display.expect("room_snapshot").await;
    assert_eq!(snapshot["participants"].as_array().unwrap().len(), 1);
    display
        .send("update_coherence", json!({"coherence": 50}))
        .await;
    assert_eq!(display.expect("error").await["code"], "not_allowed");
    display.expect("group_metrics_update").await;
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_room_code_is_refused_and_disconnected() {
    let hub = TestHub::start(Some("4711")).await;
    for url in [
        hub.ws_url("?roomCode=0000&userId=x"),
        hub.ws_url("?userId=x"),
    ] {
        let mut client = WsClient::connect(&url).await;
        let (event, data) = client
            .next_event()
            .await
            .expect("an error before the close");
        assert_eq!(event, "error");
        assert_eq!(data["code"], "bad_room_code");
        assert!(
            client.next_event().await.is_none(),
            "the hub closes the connection"
        );
    }
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_room_codes_are_rate_limited_per_address() {
    let hub = TestHub::start(Some("4711")).await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let mut client = WsClient::connect(&hub.ws_url("?roomCode=9999")).await;
        let (_, data) = client.next_event().await.expect("an error");
        codes.push(data["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(codes[0], "bad_room_code");
    assert_eq!(codes.last().unwrap(), "rate_limited", "{codes:?}");
    // Even the right code is refused from that address for a while.
    let mut client = WsClient::connect(&hub.ws_url("?roomCode=4711")).await;
    assert_eq!(client.next_event().await.unwrap().1["code"], "rate_limited");
    hub.hub.stop().await.unwrap();
}

/// One line of the catalogue: what is sent and the code it must get.
enum Bad {
    Text(String),
    Binary(Vec<u8>),
}

fn catalogue() -> Vec<(&'static str, Bad, &'static str)> {
    let text = |value: Value| Bad::Text(value.to_string());
    let now = now_ms();
    vec![
        (
            "score as a string",
            text(json!({"event": "update_coherence", "data": {"coherence": "55"}})),
            "invalid_payload",
        ),
        (
            "score missing",
            text(json!({"event": "update_coherence", "data": {}})),
            "invalid_payload",
        ),
        (
            "score NaN",
            Bad::Text(r#"{"event":"update_coherence","data":{"coherence":"NaN"}}"#.into()),
            "invalid_payload",
        ),
        (
            "score Infinity",
            Bad::Text(r#"{"event":"update_coherence","data":{"coherence":1e400}}"#.into()),
            "invalid_payload",
        ),
        (
            "score negative",
            text(json!({"event": "update_coherence", "data": {"coherence": -1}})),
            "invalid_payload",
        ),
        (
            "score above 100",
            text(json!({"event": "update_coherence", "data": {"coherence": 100.5}})),
            "invalid_payload",
        ),
        (
            "data not an object",
            text(json!({"event": "update_coherence", "data": [55]})),
            "invalid_payload",
        ),
        (
            "rr empty",
            text(json!({"event": "rr_intervals", "data": {"rr": []}})),
            "invalid_payload",
        ),
        (
            "rr huge array",
            text(json!({"event": "rr_intervals", "data": {"rr": vec![800; 301]}})),
            "invalid_payload",
        ),
        (
            "rr negative",
            text(json!({"event": "rr_intervals", "data": {"rr": [800, -5]}})),
            "invalid_payload",
        ),
        (
            "rr zero",
            text(json!({"event": "rr_intervals", "data": {"rr": [0]}})),
            "invalid_payload",
        ),
        (
            "rr wrong type",
            text(json!({"event": "rr_intervals", "data": {"rr": "800,810"}})),
            "invalid_payload",
        ),
        (
            "rr string element",
            text(json!({"event": "rr_intervals", "data": {"rr": [800, "810"]}})),
            "invalid_payload",
        ),
        (
            "seq negative",
            text(json!({"event": "rr_intervals", "data": {"rr": [800], "seq": -1}})),
            "invalid_payload",
        ),
        (
            "beats ten minutes old",
            text(
                json!({"event": "rr_intervals", "data": {"rr": [800, 800], "endedAt": now - 600_000}}),
            ),
            "stale_beats",
        ),
        (
            "beats a minute ahead",
            text(json!({"event": "rr_intervals", "data": {"rr": [800], "endedAt": now + 60_000}})),
            "stale_beats",
        ),
        (
            "intention a number",
            text(json!({"event": "join_session", "data": {"intention": 42}})),
            "invalid_payload",
        ),
        (
            "note too long",
            text(
                json!({"event": "set_intention", "data": {"intention": {"category": "grief", "note": "x".repeat(600)}}}),
            ),
            "invalid_payload",
        ),
        (
            "unknown event",
            text(json!({"event": "drop_tables", "data": {}})),
            "unknown_event",
        ),
        (
            "event not a string",
            text(json!({"event": 7, "data": {}})),
            "invalid_payload",
        ),
        ("not JSON", Bad::Text("{nope".into()), "invalid_payload"),
        (
            "frame not an object",
            Bad::Text("[1, 2, 3]".into()),
            "invalid_payload",
        ),
        (
            "invalid UTF-8",
            Bad::Binary(vec![0x7b, 0xff, 0xfe, 0x7d]),
            "invalid_payload",
        ),
        (
            "unknown strap",
            text(json!({"event": "claim_strap", "data": {"strapCode": "ZZ9"}})),
            "unknown_strap",
        ),
        (
            "second hello",
            text(json!({"event": "hello", "data": {}})),
            "not_allowed",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_gets_its_code_and_the_room_carries_on() {
    let hub = TestHub::start(None).await;
    let mut bystander = WsClient::connect(&hub.ws_url("?userId=bystander")).await;
    bystander.join().await;
    let mut attacker = WsClient::connect(&hub.ws_url("?userId=attacker")).await;

    // Events before joining.
    attacker
        .send("update_coherence", json!({"coherence": 50}))
        .await;
    assert_eq!(attacker.expect("error").await["code"], "not_joined");
    attacker.send("rr_intervals", beats(3, 9)).await;
    assert_eq!(attacker.expect("error").await["code"], "not_joined");
    attacker.join().await;

    for (index, (name, bad, code)) in catalogue().into_iter().enumerate() {
        match bad {
            Bad::Text(text) => attacker.send_text(&text).await,
            Bad::Binary(bytes) => attacker.send_binary(bytes).await,
        }
        let error = attacker.expect("error").await;
        assert_eq!(error["code"], code, "{name}: {error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "{name}"
        );
        if index % 6 == 5 {
            // The rest of the room keeps getting its 1 Hz updates meanwhile.
            bystander.expect("group_metrics_update").await;
            // Stay under the rate limit: this test is about payloads.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    // The attacker's connection is still open and still served.
    // (A phone's clock: the offset it yields converts `endedAt` of the batch below.)
    let client_time = now_ms();
    attacker
        .send("time_sync", json!({"clientTime": client_time}))
        .await;
    assert_eq!(
        attacker.expect("time_sync").await["clientTime"],
        client_time as f64
    );
    attacker.send("rr_intervals", beats(10, 1)).await;
    assert_eq!(attacker.expect("rr_ack").await["seq"], 1);
    bystander.expect("group_metrics_update").await;

    // Last, a frame over the limit: refused from its header (announcing 1 MiB, of which the
    // first 64 KiB are sent), answered `too_large`, and the connection closes.
    attacker.send_frame_start(1024 * 1024, 64 * 1024).await;
    let error = attacker.expect("error").await;
    assert_eq!(error["code"], "too_large", "{error}");
    assert!(
        attacker.next_event().await.is_none(),
        "the hub closes the connection"
    );
    bystander.expect("group_metrics_update").await;

    hub.hub.stop().await.unwrap();
    let database = hub.database.clone();
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        10,
        "only the good batch is stored"
    );
    assert_eq!(
        count_rows(
            &database,
            "SELECT count(*) FROM rr_intervals WHERE rr_ms <= 0 OR rr_ms > 60000"
        ),
        0
    );
    assert_eq!(
        count_rows(
            &database,
            "SELECT count(*) FROM hrv_metrics WHERE score < 0 OR score > 100 OR score != score"
        ),
        0
    );
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM session_participants"),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_beyond_the_rate_limit_is_refused_but_not_disconnected() {
    let hub = TestHub::start(None).await;
    let mut client = WsClient::connect(&hub.ws_url("?userId=chatty")).await;
    client.join().await;
    for _ in 0..60 {
        client.send("time_sync", json!({"clientTime": 1.0})).await;
    }
    let mut limited = 0;
    let mut answered = 0;
    while answered + limited < 60 {
        match client
            .next_event()
            .await
            .expect("the connection stays open")
        {
            (event, _) if event == "time_sync" => answered += 1,
            (event, data) if event == "error" => {
                assert_eq!(data["code"], "rate_limited");
                limited += 1;
            }
            _ => {}
        }
    }
    // The join took one token of the burst of 40.
    assert!(answered >= 39, "the burst is allowed: {answered}");
    assert!(limited >= 1, "beyond the burst, messages are refused");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    client.send("time_sync", json!({"clientTime": 2.0})).await;
    assert_eq!(client.expect("time_sync").await["clientTime"], 2.0);
    hub.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_ios_client_joins_without_any_handshake_and_leaves() {
    // The original iOS client opens a bare WebSocket and writes `join_session` straight away,
    // with its intention as a bare string; that works when the room needs no code.
    let hub = TestHub::start(None).await;
    let mut phone = WsClient::connect(&hub.ws_url("")).await;
    phone
        .send_text(r#"{"event":"join_session","data":{"intention":"grief"}}"#)
        .await;
    let joined = phone.expect("session_joined").await;
    assert_eq!(joined["participantCount"], 1);
    phone
        .send_text(r#"{"event":"update_coherence","data":{"coherence":58}}"#)
        .await;
    assert_eq!(
        phone.expect("personal_feedback").await["yourCoherence"],
        58.0
    );
    phone.send_text(r#"{"event":"leave_session"}"#).await;
    let mut view = hub.hub.state.engine.view.clone();
    let left = tokio::time::timeout(
        crate::util::WAIT,
        view.wait_for(|room| room.participants.is_empty()),
    )
    .await;
    assert!(
        left.is_ok(),
        "leave_session without data closes the participant"
    );
    hub.hub.stop().await.unwrap();
}
