//! Who may reach what, tried as an attacker on the room's network would, against a real
//! `synchub serve`: a participant's data rights reach only the session their resume token was
//! issued for; the facilitator surface answers only on loopback unless `--admin-remote`, and a
//! rotated admin token is refused at once.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::util::{
    HubProcess, INSIDE_PRIVATE_NETNS, WsClient, count_rows, http_json, now_ms,
    rerun_in_private_network_namespace,
};

/// One HTTP/1.1 request from `source` (the client socket is bound to it before connecting, so
/// the hub sees that address) to `hub`. Returns the status and the body.
async fn http_from(
    source: IpAddr,
    hub: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let socket = match source {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .expect("a socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .unwrap_or_else(|error| panic!("binding the client to {source}: {error}"));
    let mut stream = tokio::time::timeout(Duration::from_secs(15), socket.connect(hub))
        .await
        .expect("the hub accepts within 15 s")
        .unwrap_or_else(|error| panic!("connecting from {source} to {hub}: {error}"));
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hub}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut response))
        .await
        .expect("the hub answers within 15 s")
        .expect("the response is read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

/// Joins the running session as `user_id` over `/ws`, sends `beats` RR intervals as one
/// acknowledged batch, and returns the participant's resume token.
async fn join_with_beats(hub: &HubProcess, user_id: &str, beats: usize) -> (WsClient, String) {
    let url = format!("ws://127.0.0.1:{}/ws?userId={user_id}", hub.port);
    let mut phone = WsClient::connect(&url).await;
    let joined = phone.join().await;
    let token = joined["resumeToken"]
        .as_str()
        .expect("session_joined carries a resume token")
        .to_owned();
    phone
        .send(
            "rr_intervals",
            json!({"rr": vec![800.0; beats], "endedAt": now_ms(), "seq": 1}),
        )
        .await;
    assert_eq!(phone.expect("rr_ack").await["seq"], 1);
    (phone, token)
}

fn start_session(hub: &HubProcess) -> String {
    let (status, body) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{body}");
    let (_, current) = hub.call("GET", "/api/sessions/current", None);
    current["sessionId"]
        .as_str()
        .expect("a current session")
        .to_owned()
}

fn rows(body: &Value, table: &str) -> usize {
    body["tables"][table]
        .as_array()
        .unwrap_or_else(|| panic!("the export has no {table}: {body}"))
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_participant_with_an_earlier_user_id_exports_and_erases_only_their_own_session() {
    let hub = HubProcess::start(&[], &[]);
    let earlier = start_session(&hub);
    let (first_phone, first_token) = join_with_beats(&hub, "shared-user-id", 40).await;
    let (status, _) = hub.call("POST", &format!("/api/sessions/{earlier}/end"), None);
    assert_eq!(status, 200);
    first_phone.close().await;

    let later = start_session(&hub);
    assert_ne!(earlier, later);
    // Someone else joins the later session with the same (not secret) user id.
    let (_second_phone, second_token) = join_with_beats(&hub, "shared-user-id", 12).await;

    let (status, export) = http_json(hub.port, "GET", "/api/me/export", &second_token, None);
    assert_eq!(status, 200, "{export}");
    assert_eq!(rows(&export, "sessions"), 1, "{export}");
    assert_eq!(export["tables"]["sessions"][0]["session_id"], later);
    assert_eq!(rows(&export, "session_participants"), 1);
    assert_eq!(
        rows(&export, "rr_intervals"),
        12,
        "the later session's beats only"
    );

    // The earlier token ended with its session: those rows are the facilitator's to export.
    let (status, _) = http_json(hub.port, "GET", "/api/me/export", &first_token, None);
    assert_eq!(status, 401);

    let (status, erased) = http_json(hub.port, "DELETE", "/api/me", &second_token, None);
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"]["participantRows"], 1);
    assert_eq!(erased["erased"]["beatRows"], 12);

    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
    let database = stopped.dir.path().join("synchub.sqlite3");
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM rr_intervals"),
        40,
        "the earlier session's beats are untouched"
    );
    assert_eq!(
        count_rows(
            &database,
            &format!(
                "SELECT count(*) FROM session_participants p JOIN sessions s \
                 ON s.id = p.session_ref WHERE s.session_id = '{earlier}'"
            )
        ),
        1
    );
    assert_eq!(
        count_rows(
            &database,
            "SELECT count(*) FROM erasures WHERE session_ref IS NOT NULL \
             AND participant_id IS NOT NULL"
        ),
        1,
        "the tombstone central sync carries is scoped to the later session"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_admin_token_is_refused_at_once_from_the_console_and_from_the_cli() {
    let hub = HubProcess::start(&[], &[]);
    let local: SocketAddr = ([127, 0, 0, 1], hub.port).into();
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let first = hub.token.clone();
    let (status, _) = http_from(loopback, local, "GET", "/api/hub", Some(&first)).await;
    assert_eq!(status, 200);

    // The console's button.
    let (status, body) = http_from(
        loopback,
        local,
        "POST",
        "/api/admin-token/rotate",
        Some(&first),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rotated: Value = serde_json::from_str(&body).expect("JSON");
    let second = rotated["adminToken"]
        .as_str()
        .expect("a new token")
        .to_owned();
    assert_eq!(second.len(), 64);
    assert_ne!(second, first);
    let (status, body) = http_from(loopback, local, "GET", "/api/hub", Some(&first)).await;
    assert_eq!(status, 401, "the old token is refused at once: {body}");
    let (status, _) = http_from(loopback, local, "GET", "/api/hub", Some(&second)).await;
    assert_eq!(status, 200);

    // `synchub admin-token --rotate` on the same data directory, while the hub runs.
    let data_dir = token_file_dir(&hub);
    let output = Command::new(env!("CARGO_BIN_EXE_synchub"))
        .args(["admin-token", "--rotate", "--show", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("synchub admin-token runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let third = stdout
        .lines()
        .last()
        .expect("the new token is printed")
        .trim()
        .to_owned();
    assert_eq!(third.len(), 64, "{stdout}");
    let (status, _) = http_from(loopback, local, "GET", "/api/hub", Some(&second)).await;
    assert_eq!(
        status, 401,
        "the token the console held is refused after a CLI rotation"
    );
    let (status, _) = http_from(loopback, local, "GET", "/api/hub", Some(&third)).await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("admin_token")).expect("the token file"),
        third
    );
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
}

/// The data directory of a hub process (where its `admin_token` is).
fn token_file_dir(hub: &HubProcess) -> std::path::PathBuf {
    hub.data_dir().to_path_buf()
}

/// The second address of the private namespace, on one end of a veth pair: "another computer
/// on the network" is an address that is not loopback, and nothing leaves the machine.
const LAN_ADDRESS: [u8; 4] = [10, 77, 0, 1];

/// Runs the named test again inside a private network namespace with loopback up and a veth
/// pair, one end holding [`LAN_ADDRESS`].
fn rerun_in_private_namespace(name: &str) {
    rerun_in_private_network_namespace(
        name,
        "ip link set lo up && ip link add lan0 type veth peer name lan1 && \
         ip addr add 10.77.0.1/24 dev lan0 && ip link set lan0 up && ip link set lan1 up",
    );
}

/// `synchub serve` bound to `bind` with `extra` flags (the room code is up to them); returns
/// the process, its port, the admin token and the room code it printed (if any).
fn serve(
    bind: &str,
    data_dir: &Path,
    extra: &[&str],
) -> (std::process::Child, u16, String, Option<String>) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_synchub"))
        .args([
            "serve",
            "--bind",
            bind,
            "--port",
            "0",
            "--no-mdns",
            "--schedule",
            "manual",
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SYNCHUB_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("synchub serve starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("a ready line");
    let port = ready
        .trim()
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {ready:?}"));
    let mut code_line = String::new();
    stdout
        .read_line(&mut code_line)
        .expect("the room code line");
    let room_code = code_line
        .trim()
        .strip_prefix("room code: ")
        .filter(|code| code.chars().all(|character| character.is_ascii_digit()))
        .map(str::to_owned);
    // Keep reading so the pipe never fills.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let token = std::fs::read_to_string(data_dir.join("admin_token"))
        .expect("the admin token")
        .trim()
        .to_owned();
    (child, port, token, room_code)
}

/// Reads the child's stderr until `needle` shows up (or 15 s pass); returns what was read.
fn stderr_until(child: &mut std::process::Child, needle: &str) -> String {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(line) = received.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                break;
            }
        }
    }
    seen
}

#[test]
fn the_facilitator_surface_answers_only_on_loopback_unless_admin_remote() {
    if std::env::var_os(INSIDE_PRIVATE_NETNS).is_none() {
        rerun_in_private_namespace(
            "access::the_facilitator_surface_answers_only_on_loopback_unless_admin_remote",
        );
        return;
    }
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(facilitator_surface_inside_the_namespace());
}

async fn facilitator_surface_inside_the_namespace() {
    let lan = IpAddr::from(LAN_ADDRESS);
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let dir = tempfile::tempdir().expect("a directory");
    let (mut child, port, token, _) = serve("0.0.0.0", dir.path(), &["--no-room-code"]);
    let on_lan = SocketAddr::new(lan, port);
    let on_loopback = SocketAddr::new(loopback, port);

    for path in ["/api/hub", "/api/participants", "/", "/index.html"] {
        let (status, body) = http_from(lan, on_lan, "GET", path, Some(&token)).await;
        assert_eq!(status, 403, "{path} from {lan}: {body}");
        assert!(
            body.contains("not_allowed") && body.contains("--admin-remote"),
            "{body}"
        );
    }
    let (status, body) =
        http_from(lan, on_lan, "POST", "/api/admin-token/rotate", Some(&token)).await;
    assert_eq!(status, 403, "{body}");
    // The room's own surface stays on the LAN.
    for path in [
        "/join",
        "/health",
        "/api/sessions/current",
        "/socket.io/?EIO=4&transport=polling",
    ] {
        let (status, body) = http_from(lan, on_lan, "GET", path, None).await;
        assert_ne!(status, 403, "{path} from {lan}: {body}");
    }
    for path in ["/join", "/health"] {
        let (status, body) = http_from(lan, on_lan, "GET", path, None).await;
        assert_eq!(status, 200, "{path} from {lan}: {body}");
    }
    // This computer keeps working, by loopback.
    let (status, body) = http_from(loopback, on_loopback, "GET", "/api/hub", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_from(loopback, on_loopback, "GET", "/", None).await;
    assert_eq!(status, 200);
    let _ = child.kill();
    let _ = child.wait();

    let dir = tempfile::tempdir().expect("a directory");
    let (mut child, port, token, _) =
        serve("0.0.0.0", dir.path(), &["--no-room-code", "--admin-remote"]);
    let warned = stderr_until(&mut child, "--admin-remote");
    assert!(
        warned.contains("clear text"),
        "the warning is printed: {warned}"
    );
    let (status, body) = http_from(
        lan,
        SocketAddr::new(lan, port),
        "GET",
        "/api/hub",
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_from(lan, SocketAddr::new(lan, port), "GET", "/api/hub", None).await;
    assert_eq!(status, 401, "remote still needs the token");
    let _ = child.kill();
    let _ = child.wait();
}

/// Opens `/ws` from `source` with `query` and returns the first event's `(event, data)`.
async fn ws_first_event_from(source: IpAddr, port: u16, query: &str) -> (String, Value) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .unwrap_or_else(|error| panic!("binding the client to {source}: {error}"));
    let stream = tokio::time::timeout(
        Duration::from_secs(15),
        socket.connect(([127, 0, 0, 1], port).into()),
    )
    .await
    .expect("the hub accepts within 15 s")
    .expect("connected");
    let url = format!("ws://127.0.0.1:{port}/ws{query}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("the WebSocket upgrade");
    use futures_util::StreamExt as _;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("an event within 15 s")
            .expect("the connection stays open until the first event")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).expect("a JSON frame");
            let event = frame["event"].as_str().unwrap_or_default().to_owned();
            return (event, frame["data"].clone());
        }
    }
}

/// A wrong code of the same length as `code`.
fn wrong_code(code: &str, attempt: u32) -> String {
    let width = code.len();
    let modulus = 10_u64.pow(u32::try_from(width).expect("short"));
    let right: u64 = code.parse().expect("digits");
    let guess = (right + 1 + u64::from(attempt)) % modulus;
    let guess = if guess == right {
        (guess + 1) % modulus
    } else {
        guess
    };
    format!("{guess:0width$}")
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::print_stdout)] // The measured figure (`--no-capture` shows it).
async fn room_code_guessing_from_many_loopback_addresses_hits_the_rooms_budget() {
    const ADDRESSES: u8 = 60;
    const RUN: Duration = Duration::from_secs(8);
    let dir = tempfile::tempdir().expect("a directory");
    let (mut child, port, _, code) = serve("127.0.0.1", dir.path(), &["--room-code-length", "6"]);
    let code = code.expect("the hub printed its room code");
    assert_eq!(
        code.len(),
        6,
        "--room-code-length 6 gives six digits: {code}"
    );

    let started = Instant::now();
    let (mut checked, mut room_locked, mut address_blocked, mut attempts) =
        (0_u32, 0_u32, 0_u32, 0_u32);
    let mut round = 0_u32;
    let mut right_code_refused = false;
    while started.elapsed() < RUN {
        for host in 2..2 + ADDRESSES {
            if started.elapsed() >= RUN {
                break;
            }
            let source = IpAddr::from([127, 0, 0, host]);
            let guess = wrong_code(&code, round * u32::from(ADDRESSES) + u32::from(host));
            let (event, data) =
                ws_first_event_from(source, port, &format!("?roomCode={guess}")).await;
            assert_eq!(event, "error", "{data}");
            attempts += 1;
            match data["code"].as_str() {
                Some("bad_room_code") => checked += 1,
                Some("rate_limited")
                    if data["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("this room")) =>
                {
                    room_locked += 1;
                    let wait_secs: u64 = data["message"]
                        .as_str()
                        .and_then(|message| message.rsplit(" in ").next())
                        .and_then(|rest| rest.trim_end_matches(" s").parse().ok())
                        .unwrap_or_else(|| panic!("the wait is said: {data}"));
                    if !right_code_refused && wait_secs >= 2 {
                        // With at least a second of the lock left, even the right code from a
                        // fresh address is not checked.
                        let fresh = IpAddr::from([127, 0, 0, 200]);
                        let (event, data) =
                            ws_first_event_from(fresh, port, &format!("?roomCode={code}")).await;
                        assert_eq!(event, "error", "{data}");
                        assert_eq!(data["code"], "rate_limited", "{data}");
                        right_code_refused = true;
                    }
                }
                Some("rate_limited") => address_blocked += 1,
                other => panic!("unexpected answer {other:?}: {data}"),
            }
        }
        round += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "room-code guessing from {ADDRESSES} loopback addresses for {elapsed:.1} s: {attempts} \
         attempts, {checked} codes checked, {room_locked} refused by the room's budget, \
         {address_blocked} by the per-address limit"
    );
    // 30 free failures, then 1 s, 2 s, 4 s, 8 s … between guesses: 34 in 8 s at most, plus
    // one of slack for the instant the run starts.
    let bound = 35;
    assert!(checked >= 30, "the free budget is usable: {checked}");
    assert!(
        checked <= bound,
        "{checked} codes were checked in {elapsed:.1} s (bound {bound})"
    );
    assert!(
        room_locked > checked,
        "most attempts never reached the comparison"
    );
    assert!(
        right_code_refused,
        "the room was locked for 2 s or more at some point"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads events until an `error` arrives; returns its data.
async fn next_error(client: &mut WsClient) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.next_event().await {
            Some((event, data)) if event == "error" => return data,
            Some(_) => {}
            None => panic!("the hub closed the connection before an error"),
        }
        assert!(Instant::now() < deadline, "no error event within 20 s");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn straps_are_claimed_only_by_participants_with_secret_codes_shown_revocable_and_told_to_the_wearer()
 {
    use crate::straps::{EmulatedBluez, strap_named, wait_for_straps};
    let bluez = EmulatedBluez::start(&["--straps", "2"]);
    let hub = HubProcess::start(
        &["--ble"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bluez.address.as_str())],
    );
    let straps = wait_for_straps(&hub, Duration::from_secs(30), "both straps", |straps| {
        straps.len() == 2
    });
    let polar = strap_named(&straps, "Polar H10").clone();
    let garmin = strap_named(&straps, "Garmin HRM-Dual").clone();
    let (id, code) = (
        polar["id"].as_str().expect("an id").to_owned(),
        polar["code"].as_str().expect("a code").to_owned(),
    );
    for strap in [&polar, &garmin] {
        let id = strap["id"].as_str().expect("an id");
        // What anyone who scans the strap's Bluetooth address can compute.
        assert_ne!(
            strap["code"].as_str(),
            Some(synchub_ble::strap_code(id).as_str()),
            "the shown code is keyed with the hub's secret"
        );
    }
    assert_ne!(
        polar["code"], garmin["code"],
        "codes are unique in the room"
    );

    let (status, _) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201);
    let (status, body) = hub.call(
        "POST",
        &format!("/api/straps/{id}/assign"),
        Some(&json!({"label": "Seat 1"})),
    );
    assert_eq!(status, 200, "{body}");

    // A connection that never joined may not claim, even with the right code.
    let url = format!("ws://127.0.0.1:{}/ws?userId=stranger", hub.port);
    let mut stranger = WsClient::connect(&url).await;
    stranger
        .send("claim_strap", json!({"strapCode": code}))
        .await;
    let refused = next_error(&mut stranger).await;
    assert_eq!(refused["code"], "not_joined", "{refused}");
    stranger.close().await;

    // The wearer's own phone claims the strap first: it is told the claim is its own.
    let url = format!("ws://127.0.0.1:{}/ws?userId=wearer", hub.port);
    let mut wearer = WsClient::connect(&url).await;
    wearer.join().await;
    wearer.send("claim_strap", json!({"strapCode": code})).await;
    let own = wearer.expect("strap_claim").await;
    assert_eq!(own["strapCode"], code.as_str(), "{own}");
    assert_eq!(own["change"], "claimed", "{own}");
    assert_eq!(own["yours"], true, "{own}");
    let wearer_slot = own["claimerSlot"].as_u64().expect("a slot");

    let url = format!("ws://127.0.0.1:{}/ws?userId=claimer", hub.port);
    let mut claimer = WsClient::connect(&url).await;
    claimer.join().await;
    for wrong in ["AAAA", "XXXX", "7777"] {
        claimer
            .send("claim_strap", json!({"strapCode": wrong}))
            .await;
        let refused = next_error(&mut claimer).await;
        assert_eq!(refused["code"], "unknown_strap", "{refused}");
    }
    claimer
        .send("claim_strap", json!({"strapCode": code.to_lowercase()}))
        .await;
    // The claimer is told its claim holds; the wearer is told who else now sees the strap.
    let claimed = claimer.expect("strap_claim").await;
    assert_eq!(claimed["change"], "claimed", "{claimed}");
    assert_eq!(claimed["yours"], true, "{claimed}");
    let slot = claimed["claimerSlot"].as_u64().expect("a slot");
    assert_ne!(slot, wearer_slot, "two participants, two slots");
    let told = wearer.expect("strap_claim").await;
    assert_eq!(
        told,
        json!({"strapCode": code, "claimerSlot": slot, "change": "claimed", "yours": false}),
        "the wearer learns of the claim"
    );
    // The console shows who claimed it (the claimer's slot in the room).
    let straps = wait_for_straps(&hub, Duration::from_secs(20), "the claim shown", |straps| {
        strap_named(straps, "Polar H10")["claimedBy"]
            .as_array()
            .is_some_and(|slots| slots.len() == 2)
    });
    let claimed_by = strap_named(&straps, "Polar H10")["claimedBy"].clone();
    assert!(
        claimed_by.as_array().is_some_and(
            |slots| slots.contains(&json!(slot)) && slots.contains(&json!(wearer_slot))
        ),
        "{claimed_by}"
    );
    let (_, participants) = hub.call("GET", "/api/participants", None);
    assert!(
        participants["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .any(|seen| seen["slot"] == slot && seen["source"] != "ble"),
        "the claimer's slot is a participant of the room: {participants}"
    );

    // The facilitator revokes it; the claimer and the wearer are told.
    let (status, body) = hub.call("DELETE", &format!("/api/straps/{id}/claims/{slot}"), None);
    assert_eq!(status, 204, "{body}");
    let ended = claimer.expect("strap_claim").await;
    assert_eq!(
        ended,
        json!({"strapCode": code, "claimerSlot": slot, "change": "revoked", "yours": true}),
    );
    let told = wearer.expect("strap_claim").await;
    assert_eq!(
        told,
        json!({"strapCode": code, "claimerSlot": slot, "change": "revoked", "yours": false}),
    );
    let (status, again) = hub.call("DELETE", &format!("/api/straps/{id}/claims/{slot}"), None);
    assert_eq!(status, 404, "{again}");
    wait_for_straps(&hub, Duration::from_secs(20), "the claim gone", |straps| {
        strap_named(straps, "Polar H10")["claimedBy"] == json!([wearer_slot])
    });
    wearer.close().await;

    // Wrong strap codes count toward the same per-address lockout as room codes: 3 so far,
    // 7 more make 10, and then even the right code is not checked.
    for attempt in 0..7 {
        claimer
            .send("claim_strap", json!({"strapCode": format!("W{attempt}WW")}))
            .await;
        let refused = next_error(&mut claimer).await;
        assert_eq!(refused["code"], "unknown_strap", "{refused}");
    }
    claimer
        .send("claim_strap", json!({"strapCode": code}))
        .await;
    let locked = next_error(&mut claimer).await;
    assert_eq!(locked["code"], "rate_limited", "{locked}");
    claimer.close().await;

    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
    drop(bluez);
}
