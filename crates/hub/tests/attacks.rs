//! The attack catalogue: what someone on the venue's network can try against a real
//! `synchub serve`, and what the hub does about it (docs/security.md lists each with its
//! result). Every test runs the hub as its own process on loopback and drives it with real
//! sockets: floods, idle and slow connections, foreign pages, oversized frames.
//!
//! Figures (ack latency with and without a flood, the hub's memory while connections announce
//! huge frames) are printed, not asserted: they depend on the machine. What is asserted is what
//! must hold anywhere: beats bounded by time, every honest batch acknowledged, connections
//! closed within the timeouts, refusals with their codes.

// The figures are this catalogue's output (`--no-capture`).
#![allow(clippy::print_stdout)]

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use synchub_sim::crowd::{Crowd, CrowdConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::util::{
    HubProcess, INSIDE_PRIVATE_NETNS, WsClient, count_rows, now_ms,
    rerun_in_private_network_namespace,
};

/// This process's open-file limits (soft, hard), from procfs.
fn open_file_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("procfs");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Raises this process's open-file limit to its hard limit (the hub, started after, inherits
/// it): the tests below hold over a thousand sockets. util-linux's `prlimit` does it, so the
/// tests need no unsafe code.
fn raise_open_file_limit() -> u64 {
    let (soft, hard) = open_file_limits();
    if soft < hard {
        let status = std::process::Command::new("prlimit")
            .arg("--pid")
            .arg(std::process::id().to_string())
            .arg(format!("--nofile={hard}:{hard}"))
            .status()
            .expect("prlimit runs (util-linux)");
        assert!(
            status.success(),
            "prlimit could not raise the open-file limit"
        );
    }
    open_file_limits().0
}

/// The resident memory of process `pid`, MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib / 1024.0
}

/// Polls `done` every 100 ms until it holds or `limit` has passed; how long it took.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done().then(|| start.elapsed())
}

/// Whether the hub has closed `stream` (EOF or reset), without waiting for data.
fn closed_by_hub(stream: &mut TcpStream) -> bool {
    stream
        .set_nonblocking(true)
        .expect("the socket turns non-blocking");
    let mut byte = [0_u8; 1024];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return true,
            // Anything the hub sent before closing (a 408, a close frame) is read past.
            Ok(_) => continue,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

async fn run_crowd(port: u16, participants: usize, prefix: &str, measure: Duration) -> Value {
    let mut config = CrowdConfig::new(&format!("http://127.0.0.1:{port}"), participants);
    config.user_id_prefix = prefix.to_owned();
    config.ramp_per_sec = 400.0;
    let crowd = Crowd::start(config);
    assert!(
        crowd
            .wait_until_joined(participants as u64, Duration::from_secs(60))
            .await,
        "the crowd did not join: {:?}",
        crowd.snapshot()
    );
    // Past the joins' burst, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    crowd.stats().set_measuring(true);
    tokio::time::sleep(measure).await;
    crowd.stats().set_measuring(false);
    let report = crowd.stop(Duration::from_secs(10)).await;
    let stats = &report.stats;
    assert!(
        stats.errors.is_empty(),
        "{prefix}: errors {:?}",
        stats.errors
    );
    assert_eq!(
        stats.batches_acked, stats.batches_sent,
        "{prefix}: every honest batch acknowledged"
    );
    json!({
        "ack_p50_ms": stats.ack_ms.p50_ms,
        "ack_p99_ms": stats.ack_ms.p99_ms,
        "ack_max_ms": stats.ack_ms.max_ms,
        "acks": stats.ack_ms.count,
    })
}

/// One connection sends 20 messages a second (the per-connection rate limit) of 300 beats each,
/// alternating overlapping batches without `seq` and tiny RR values under fresh seqs, while 200
/// simulated phones keep sending their beats. The flooder's stored beats stay bounded by
/// time; the phones are all acknowledged. The ack p99 with and without the flood is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beat_flood_stores_no_more_than_time_allows_and_the_room_keeps_its_acks() {
    const PARTICIPANTS: usize = 200;
    const MEASURE: Duration = Duration::from_secs(10);
    let hub = HubProcess::start(&[], &[]);
    let port = hub.port;
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");

    let quiet = run_crowd(port, PARTICIPANTS, "quiet", MEASURE).await;

    let mut flooder = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=flooder")).await;
    flooder.join().await;
    let flood = tokio::spawn(async move {
        let started = Instant::now();
        let mut sent = 0_u64;
        // 16 messages a second: under the per-connection message limit, so every refusal
        // is the beat clock's.
        let mut tick = tokio::time::interval(Duration::from_millis(60));
        // The crowd's joins and its measured window.
        while started.elapsed() < MEASURE + Duration::from_secs(5) {
            tick.tick().await;
            sent += 1;
            let data = if sent.is_multiple_of(2) {
                json!({"rr": vec![1_000; 300], "endedAt": now_ms()})
            } else {
                json!({"rr": vec![1; 300], "endedAt": now_ms(), "seq": sent})
            };
            flooder.send("rr_intervals", data).await;
        }
        // What the hub answered meanwhile (read for 3 s: broadcasts keep coming).
        let mut codes = std::collections::BTreeMap::<String, u64>::new();
        let reading_until = tokio::time::Instant::now() + Duration::from_secs(3);
        while let Ok(Some((event, data))) =
            tokio::time::timeout_at(reading_until, flooder.next_event()).await
        {
            if event == "error" {
                *codes
                    .entry(data["code"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
            }
        }
        (sent, started.elapsed(), codes)
    });
    let flooded = run_crowd(port, PARTICIPANTS, "flooded", MEASURE).await;
    let (messages, flood_time, codes) = flood.await.expect("the flood ran");

    let stopped = hub.stop();
    let database = stopped.dir.path().join("synchub.sqlite3");
    // The flooder is the participant with by far the most beats.
    let flooder_beats = count_rows(
        &database,
        "SELECT max(beats) FROM (SELECT count(*) AS beats FROM rr_intervals GROUP BY participant_ref)",
    );
    let sent_beats = messages * 300;
    // 300 s of history at most with the first batch, then one beat per 200 ms of time passed,
    // plus the 10 s slack.
    let allowed = 300.0 + (flood_time.as_secs_f64() * 1000.0 + 10_000.0) / 200.0;
    println!(
        "beat flood: {messages} messages, {sent_beats} beats sent in {:.1} s, {flooder_beats} stored (bound {allowed:.0}); answers {codes:?}",
        flood_time.as_secs_f64()
    );
    println!("ack latency, {PARTICIPANTS} participants, no flood: {quiet}");
    println!("ack latency, {PARTICIPANTS} participants, one connection flooding: {flooded}");
    assert!(
        (flooder_beats as f64) <= allowed,
        "{flooder_beats} beats stored, {allowed:.0} allowed"
    );
    assert!(
        codes.get("rate_limited").copied().unwrap_or(0) > 0,
        "the flooder was told to slow down: {codes:?}"
    );
}

/// A phone (or a flooder) sends beats it already sent again under fresh seqs: a long batch of
/// history, then thirty batches of twenty beats each overlapping the one before by nineteen
/// (stamped 40 ms apart, as a moving clock offset would). Each beat is stored once, whatever
/// the seq, and every batch is acknowledged (a batch of repeats too), so a phone stops
/// resending. Before, each fresh seq stored its batch again until the beat clock refused it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_under_fresh_seqs_store_each_beat_once() {
    const HISTORY: usize = 120;
    const OVERLAPPING: u64 = 30;
    let hub = HubProcess::start(&[], &[]);
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");
    let mut phone =
        WsClient::connect(&format!("ws://127.0.0.1:{}/ws?userId=overlapper", hub.port)).await;
    phone.join().await;
    let history_ends_ms = now_ms() - 60_000;
    phone
        .send(
            "rr_intervals",
            json!({"rr": vec![1_000; HISTORY], "endedAt": history_ends_ms, "seq": 1}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    for batch in 1..=OVERLAPPING {
        // Twenty beats ending one beat later than the batch before: one new beat each. Every
        // other batch is stamped 40 ms late.
        let jitter_ms = if batch % 2 == 0 { 40 } else { 0 };
        let seq = batch + 1;
        phone
            .send(
                "rr_intervals",
                json!({
                    "rr": vec![1_000; 20],
                    "endedAt": history_ends_ms + batch * 1_000 + jitter_ms,
                    "seq": seq,
                }),
            )
            .await;
        assert_eq!(
            phone.expect("rr_ack").await["seq"],
            seq,
            "batch {seq} is acknowledged"
        );
    }
    // The whole history again, under one more fresh seq: all repeats, acknowledged.
    let last_seq = OVERLAPPING + 2;
    phone
        .send(
            "rr_intervals",
            json!({"rr": vec![1_000; HISTORY], "endedAt": history_ends_ms, "seq": last_seq}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], last_seq);
    phone.close().await;

    let stopped = hub.stop();
    let database = stopped.dir.path().join("synchub.sqlite3");
    let stored = count_rows(&database, "SELECT count(*) FROM rr_intervals");
    // Beats are whole seconds from the history's end (40 ms late at most): one per second.
    let distinct_seconds = count_rows(
        &database,
        &format!(
            "SELECT count(DISTINCT CAST(round((time_ms - {history_ends_ms}) / 1000.0) AS INTEGER)) FROM rr_intervals"
        ),
    );
    let sent = HISTORY as u64 * 2 + OVERLAPPING * 20;
    println!(
        "overlapping batches under fresh seqs: {sent} beats sent in {} batches, {stored} stored",
        OVERLAPPING + 2
    );
    assert_eq!(
        stored,
        HISTORY as i64 + OVERLAPPING as i64,
        "each beat once: the history and one new beat per overlapping batch"
    );
    assert_eq!(distinct_seconds, stored, "no beat stored twice");
}

/// The hub inside a private network namespace, two client addresses on the other end of a
/// veth pair: 10.77.0.1 is the hub's side, 10.77.0.2 and 10.77.0.3 two phones' (or an
/// attacker's and a neighbour's).
const HUB_SIDE: [u8; 4] = [10, 77, 0, 1];
const FIRST_ADDRESS: [u8; 4] = [10, 77, 0, 2];
const SECOND_ADDRESS: [u8; 4] = [10, 77, 0, 3];

/// Per-address caps, from real addresses: one address that fills its participants gets
/// `rate_limited` on the next join and has connections over its cap closed at accept, while a
/// second address still gets in; loopback (the hub's own computer) is not capped. Runs itself
/// again inside a private network namespace with a veth pair.
#[test]
fn per_address_caps_hold_for_each_address_from_real_addresses() {
    let name = "attacks::per_address_caps_hold_for_each_address_from_real_addresses";
    if std::env::var_os(INSIDE_PRIVATE_NETNS).is_none() {
        rerun_in_private_network_namespace(
            name,
            "ip link set lo up && ip link add lan0 type veth peer name lan1 && \
             ip addr add 10.77.0.1/24 dev lan0 && ip addr add 10.77.0.2/24 dev lan1 && \
             ip addr add 10.77.0.3/24 dev lan1 && ip link set lan0 up && ip link set lan1 up",
        );
        return;
    }
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(per_address_caps_inside_the_namespace());
}

/// Sends `join_session` and returns the first answer: `session_joined` or `error`.
async fn join_answer(client: &mut WsClient) -> (String, Value) {
    client
        .send(
            "join_session",
            json!({"intention": "grief", "device": {"kind": "sim"}}),
        )
        .await;
    loop {
        match client.next_event().await {
            Some((event, data)) if event == "session_joined" || event == "error" => {
                return (event, data);
            }
            Some(_) => {}
            None => panic!("the hub closed the connection instead of answering the join"),
        }
    }
}

async fn per_address_caps_inside_the_namespace() {
    const CONNECTIONS: u32 = 3;
    const PARTICIPANTS: u32 = 2;
    let hub = HubProcess::start_bound(
        tempfile::tempdir().expect("a directory"),
        "0.0.0.0",
        &[
            "--max-connections-per-address",
            &CONNECTIONS.to_string(),
            "--max-participants-per-address",
            &PARTICIPANTS.to_string(),
        ],
        &[],
    );
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");
    let on_lan = SocketAddr::new(IpAddr::from(HUB_SIDE), hub.port);
    let first = IpAddr::from(FIRST_ADDRESS);
    let second = IpAddr::from(SECOND_ADDRESS);
    let connect = |source: IpAddr, user: &str| {
        let query = format!("?userId={user}");
        async move { WsClient::connect_from(source, on_lan, &query).await }
    };

    // The first address: two participants join, the third is refused with `rate_limited`.
    let mut held = Vec::new();
    for index in 0..PARTICIPANTS {
        let mut phone = connect(first, &format!("first-{index}"))
            .await
            .expect("connects");
        let (event, data) = join_answer(&mut phone).await;
        assert_eq!(
            event, "session_joined",
            "participant {index} from {first}: {data}"
        );
        held.push(phone);
    }
    let mut third = connect(first, "first-extra")
        .await
        .expect("a third connection");
    let (event, refusal) = join_answer(&mut third).await;
    assert_eq!(event, "error", "{refusal}");
    assert_eq!(refusal["code"], "rate_limited", "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|message| message.contains("from this network address")),
        "{refusal}"
    );
    // Its connections are at their cap too: the next is closed before its upgrade.
    let over = connect(first, "first-over").await;
    assert!(
        over.is_err(),
        "a connection over the cap from {first} was upgraded"
    );

    // The second address is not affected by the first's caps.
    for index in 0..PARTICIPANTS {
        let mut phone = connect(second, &format!("second-{index}"))
            .await
            .expect("connects");
        let (event, data) = join_answer(&mut phone).await;
        assert_eq!(
            event, "session_joined",
            "participant {index} from {second}: {data}"
        );
        held.push(phone);
    }

    // A participant of the first address leaves: its place is free again.
    let mut leaving = held.remove(0);
    leaving.send("leave_session", json!({})).await;
    // `close` waits for the hub's close frame: a client that drops its socket with the hub's
    // broadcasts unread makes the kernel reset the connection, which can discard the leave
    // unread (once in three CI runs the place then stayed taken for the resume grace).
    leaving.close().await;
    let admitted = wait_for_join(|| connect(first, "first-again")).await;
    assert!(
        admitted,
        "a place from {first} frees when its participant leaves"
    );

    // Loopback, the hub's own computer, is never capped per address.
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let on_loopback = SocketAddr::new(loopback, hub.port);
    for index in 0..(PARTICIPANTS + 2) {
        let mut local =
            WsClient::connect_from(loopback, on_loopback, &format!("?userId=local-{index}"))
                .await
                .expect("loopback connects");
        let (event, data) = join_answer(&mut local).await;
        assert_eq!(
            event, "session_joined",
            "loopback participant {index}: {data}"
        );
        held.push(local);
    }
    let (status, metrics) = crate::util::http_text(hub.port, "GET", "/metrics", &hub.token, None);
    assert_eq!(status, 200);
    let refused: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("synchub_connections_refused_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no refusal counter in {metrics}"));
    assert!(
        refused >= 2.0,
        "the join and the connection refused are counted: {refused}"
    );
    println!(
        "per-address caps from {first} and {second}: {PARTICIPANTS} participants and {CONNECTIONS} connections per address held, the other address unaffected; refusals counted: {refused}"
    );
    for client in held {
        client.close().await;
    }
    drop(third);
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
}

/// Tries a join from a fresh connection (from `connect`) every 200 ms for up to 10 s (the
/// hub frees a leaving participant's connection place as it closes); whether one was admitted.
async fn wait_for_join<F, Fut>(connect: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<WsClient, tokio_tungstenite::tungstenite::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut phone) = connect().await {
            let (event, _) = join_answer(&mut phone).await;
            if event == "session_joined" {
                phone.close().await;
                return true;
            }
            phone.close().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A thousand TCP connections that never send a byte, and a slowloris client that sends one
/// header byte a second, are all closed within the header-read timeout (10 s); a WebSocket that
/// upgrades and never sends its `hello`, and one that never reads (so never answers a ping),
/// are closed within theirs; meanwhile a phone joins and has its beats acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_and_silent_connections_are_closed_within_the_timeouts() {
    const IDLE: usize = 1_000;
    let limit = raise_open_file_limit();
    assert!(
        limit > IDLE as u64 + 200,
        "the hard open-file limit ({limit}) is too low for {IDLE} connections"
    );
    let hub = HubProcess::start(&[], &[]);
    let port = hub.port;
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");

    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts"))
        .collect();
    let slowloris = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts");
        let request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let start = Instant::now();
        for byte in request {
            if stream.write_all(&[*byte]).is_err() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(500));
            if closed_by_hub(&mut stream) {
                return start.elapsed();
            }
            stream.set_nonblocking(false).expect("blocking again");
        }
        panic!("the slowloris request was never cut off");
    });
    // Upgrades, then never says hello.
    let (mut no_hello, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .expect("the upgrade succeeds");
    // Upgrades and joins, then never reads again: its pings go unanswered. A bare socket, so
    // no WebSocket library answers anything behind the test's back.
    let mut deaf = TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts");
    deaf.write_all(
        b"GET /ws?userId=deaf HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("the upgrade is sent");
    let join = br#"{"event":"join_session","data":{}}"#;
    let mask = [1_u8, 2, 3, 4];
    let mut frame = vec![
        0x81,
        0x80 | u8::try_from(join.len()).expect("a short frame"),
    ];
    frame.extend_from_slice(&mask);
    frame.extend(
        join.iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
    deaf.write_all(&frame).expect("the join is sent");

    // The room keeps working meanwhile: a phone sends its beats every 2 s and has each batch
    // acknowledged (reading as a phone does, so it answers the hub's pings too).
    let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=phone")).await;
    phone.join().await;
    let (stop_phone, mut phone_stopped) = tokio::sync::oneshot::channel::<()>();
    let phone_task = tokio::spawn(async move {
        let mut acked = 0_u64;
        for seq in 1_u64.. {
            phone
                .send(
                    "rr_intervals",
                    json!({"rr": [800, 810, 790], "endedAt": now_ms(), "seq": seq}),
                )
                .await;
            assert_eq!(phone.expect("rr_ack").await["seq"], seq);
            acked += 1;
            if tokio::time::timeout(Duration::from_secs(2), &mut phone_stopped)
                .await
                .is_ok()
            {
                break;
            }
        }
        acked
    });

    let idle_closed = tokio::task::spawn_blocking(move || {
        let closed = wait_until(Duration::from_secs(40), || {
            idle.iter_mut().all(closed_by_hub)
        });
        (
            closed,
            idle.iter_mut()
                .filter_map(|stream| closed_by_hub(stream).then_some(()))
                .count(),
        )
    })
    .await
    .expect("the idle check ran");
    let idle_after = started.elapsed();
    println!(
        "{IDLE} idle connections: all closed by the hub: {:?} (after {:.1} s; {} closed)",
        idle_closed.0.is_some(),
        idle_after.as_secs_f64(),
        idle_closed.1
    );
    assert!(
        idle_closed.0.is_some(),
        "only {} of {IDLE} idle connections closed",
        idle_closed.1
    );
    let slow = slowloris.join().expect("the slowloris thread");
    println!("slowloris cut off after {:.1} s", slow.as_secs_f64());
    assert!(slow < Duration::from_secs(20), "{slow:?}");

    let no_hello_closed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(message)) = no_hello.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    assert!(
        no_hello_closed.is_ok(),
        "a socket without hello stayed open"
    );
    println!(
        "socket without hello closed after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Two pings unanswered (25 s of silence): the hub closes the deaf client; reading now
    // goes past what the hub sent before to the end.
    let deaf_closed = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(45), || closed_by_hub(&mut deaf))
    })
    .await
    .expect("the deaf check ran");
    println!(
        "client that never reads closed after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        deaf_closed.is_some(),
        "a client that never reads stayed open"
    );

    // And the phone was served all along.
    let _ = stop_phone.send(());
    let acked = phone_task.await.expect("the phone ran");
    println!("the phone's batches acknowledged meanwhile: {acked}");
    assert!(acked >= 10, "only {acked} batches acknowledged");
    let log = hub.log();
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{log}");
}

/// A browser page from a foreign origin cannot open the hub's sockets (`/ws` and Socket.IO);
/// native clients (no `Origin`) and the hub's own pages can. The pages' CSP names the hub's
/// socket origins only and forbids `<base>`.
#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_cannot_open_a_socket() {
    let hub = HubProcess::start(&[], &[]);
    let port = hub.port;
    let ws = |origin: Option<&str>| {
        let mut request = format!("ws://127.0.0.1:{port}/ws?userId=origin-test")
            .into_client_request()
            .expect("a request");
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().expect("a header value"));
        }
        tokio_tungstenite::connect_async(request)
    };
    match ws(Some("http://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON body");
            assert_eq!(body["error"]["code"], "not_allowed", "{body}");
        }
        Err(other) => panic!("refused the wrong way: {other}"),
        Ok(_) => panic!("a foreign page opened a socket"),
    }
    for allowed in [
        None,
        Some(format!("http://127.0.0.1:{port}")),
        Some("tauri://localhost".to_owned()),
    ] {
        let (mut socket, _) = ws(allowed.as_deref())
            .await
            .unwrap_or_else(|error| panic!("{allowed:?} refused: {error}"));
        socket.close(None).await.expect("closes");
    }
    // Socket.IO's first request (polling handshake) from the foreign page, and from the hub's.
    let socketio = |origin: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts");
        write!(
            stream,
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        )
        .expect("sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    };
    let foreign = socketio("http://evil.example");
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let own = socketio(&format!("http://127.0.0.1:{port}"));
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");

    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the hub accepts");
    write!(
        stream,
        "GET /join HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("sent");
    let mut page = String::new();
    stream.read_to_string(&mut page).expect("read");
    let csp = page
        .lines()
        .find_map(|line| line.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no CSP on the join page: {page}"));
    assert!(csp.contains("base-uri 'none'"), "{csp}");
    assert!(csp.contains(&format!("ws://127.0.0.1:{port}")), "{csp}");
    assert!(
        !csp.split(';').any(|directive| directive
            .split_whitespace()
            .any(|source| source == "ws:" || source == "wss:" || source == "http:")),
        "no whole scheme is allowed: {csp}"
    );
    hub.stop();
}

/// A client frame header: FIN + text, masked, 64-bit length `announced`.
fn frame_header(announced: u64) -> Vec<u8> {
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&announced.to_be_bytes());
    header.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    header
}

/// Many connections announce 64 MiB frames and start sending them: each is answered
/// `too_large` and closed from the header alone, and the hub's memory does not grow by the
/// frames (printed: its RSS before and after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_are_refused_from_their_header_without_being_buffered() {
    const CONNECTIONS: usize = 300;
    const ANNOUNCED: u64 = 64 * 1024 * 1024;
    raise_open_file_limit();
    let hub = HubProcess::start(&[], &[]);
    let port = hub.port;
    let pid = hub.pid();
    let rss_before = rss_mib(pid);
    let mut sockets = Vec::with_capacity(CONNECTIONS);
    for index in 0..CONNECTIONS {
        let (socket, _) = tokio_tungstenite::connect_async(format!(
            "ws://127.0.0.1:{port}/ws?userId=big-{index}"
        ))
        .await
        .expect("the upgrade succeeds");
        sockets.push(socket);
    }
    let mut peak_rss = rss_mib(pid);
    for socket in &mut sockets {
        // The header and the first 256 KiB of the payload, straight onto the TCP stream.
        let tcp = match socket.get_mut() {
            tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp,
            _ => unreachable!("plain ws://"),
        };
        use tokio::io::AsyncWriteExt as _;
        let _ = tcp.write_all(&frame_header(ANNOUNCED)).await;
        let _ = tokio::time::timeout(
            Duration::from_millis(50),
            tcp.write_all(&vec![b'x'; 256 * 1024]),
        )
        .await;
    }
    peak_rss = peak_rss.max(rss_mib(pid));
    let mut refused = 0;
    for socket in &mut sockets {
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            let mut code = None;
            while let Some(Ok(message)) = socket.next().await {
                match message {
                    Message::Text(text) => {
                        let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                        if frame["event"] == "error" {
                            code = frame["data"]["code"].as_str().map(str::to_owned);
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            code
        })
        .await
        .expect("the hub answers and closes in time");
        if answer.as_deref() == Some("too_large") {
            refused += 1;
        }
        peak_rss = peak_rss.max(rss_mib(pid));
    }
    println!(
        "{CONNECTIONS} connections announcing {} MiB frames: {refused} answered too_large; hub RSS {rss_before:.1} MiB before, {peak_rss:.1} MiB peak",
        ANNOUNCED / 1024 / 1024
    );
    // Most clients read the answer before the close; a client still writing when the hub
    // closes can see a reset instead.
    assert!(
        refused * 10 >= CONNECTIONS * 9,
        "only {refused} of {CONNECTIONS} got too_large"
    );
    // Had each connection buffered even what it sent (256 KiB), that is 75 MiB more.
    assert!(
        peak_rss - rss_before < 48.0,
        "the hub grew from {rss_before:.1} to {peak_rss:.1} MiB"
    );
    let stopped = hub.stop();
    assert!(stopped.exit.success());
}

/// Fake participants cannot grow the room without bound: at the participant limit a new phone
/// gets `session_full`, and the console's `GET /api/hub` says the room is full.
#[tokio::test(flavor = "multi_thread")]
async fn at_the_participant_limit_new_phones_are_refused_and_the_console_is_told() {
    let hub = HubProcess::start(&["--max-participants", "2"], &[]);
    let port = hub.port;
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");
    let (_, info) = hub.call("GET", "/api/hub", None);
    assert_eq!(
        info["capacity"],
        json!({"maxParticipants": 2, "participants": 0, "full": false})
    );
    let mut phones = Vec::new();
    for user in ["full-1", "full-2"] {
        let mut phone = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId={user}")).await;
        phone.join().await;
        phones.push(phone);
    }
    let mut late = WsClient::connect(&format!("ws://127.0.0.1:{port}/ws?userId=full-3")).await;
    late.send("join_session", json!({})).await;
    assert_eq!(late.expect("error").await["code"], "session_full");
    // The console polls this; the engine publishes its view at least once a second.
    let mut full = Value::Null;
    for _ in 0..50 {
        full = hub.call("GET", "/api/hub", None).1["capacity"].clone();
        if full["full"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        full,
        json!({"maxParticipants": 2, "participants": 2, "full": true})
    );
    hub.stop();
}
