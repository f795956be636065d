//! Another program takes the database's write lock (a backup tool, a researcher's `sqlite3`
//! left inside `BEGIN EXCLUSIVE`) and holds it for seconds while five phones send batches: a
//! real `python3` process with its own SQLite connection to the hub's database file.
//!
//! The hub must report it (`/health` 503 `store_cannot_write`, `GET /api/hub` fault kind
//! `locked` with the advice), refuse new beats with `store_unavailable` rather than queue them
//! without bound, lose nothing it acknowledged, and write again by itself once the lock is
//! released — no restart.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::rig::{Phones, check_ledgers_against, has_problem, store_fault_kind, wait_for};
use crate::util::HubProcess;

/// How long the other program holds the lock.
const HELD_FOR: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_locked_by_another_program_is_reported_and_loses_no_beat() {
    let python_sqlite = Command::new("python3")
        .args(["-c", "import sqlite3"])
        .status()
        .is_ok_and(|status| status.success());
    if !python_sqlite {
        eprintln!("SKIPPED: needs python3 with its sqlite3 module to hold the lock");
        return;
    }
    let hub = HubProcess::start(&["--min-free-disk-mb", "0"], &[("RUST_LOG", "info")]);
    let (status, started) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201, "{started}");
    let port = hub.port;
    let token = hub.token.clone();
    let log = Arc::new(Mutex::new(String::new()));
    let phones = Phones::start(port, 5);
    phones.wait_for_more_acks(20, "at start").await;

    // The other program: takes the write lock, says so, holds it, lets go.
    let database = hub.data_dir().join("synchub.sqlite3");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
             db.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(float(sys.argv[2]))\n\
             db.execute('ROLLBACK')\n",
        ])
        .arg(&database)
        .arg(HELD_FOR.as_secs_f64().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::BufRead as _;
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the holder's first line");
        assert_eq!(
            line.trim(),
            "locked",
            "the other program holds the write lock"
        );
    }
    let locked_at = Instant::now();
    let acked_when_locked = phones.acked();

    let (to_red, advice) = {
        let token = token.clone();
        let log = log.clone();
        tokio::task::spawn_blocking(move || {
            let to_red = wait_for(
                port,
                &token,
                &log,
                "503 while locked",
                "/health",
                |status, body| status == 503 && has_problem(body, "store_cannot_write"),
            );
            let mut advice = String::new();
            wait_for(
                port,
                &token,
                &log,
                "the lock named",
                "/api/hub",
                |_, body| {
                    advice = body["store"]["fault"]["advice"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    store_fault_kind(body).as_deref() == Some("locked")
                },
            );
            (to_red, advice)
        })
        .await
        .expect("the red phase")
    };
    assert!(
        advice.contains("another program"),
        "the facilitator is told what to do: {advice}"
    );
    let holder_exit = tokio::task::spawn_blocking(move || holder.wait())
        .await
        .expect("waiting for the holder")
        .expect("the holder's status");
    assert!(holder_exit.success(), "the other program released its lock");
    let released_at = Instant::now();
    let to_green = {
        let token = token.clone();
        let log = log.clone();
        tokio::task::spawn_blocking(move || {
            wait_for(
                port,
                &token,
                &log,
                "200 after the lock is released",
                "/health",
                |status, _| status == 200,
            )
        })
        .await
        .expect("the green phase")
    };
    let refused = phones.refused();
    assert!(
        refused > 0,
        "phones heard store_unavailable while the lock was held"
    );
    phones
        .wait_for_more_acks(10, "after the lock was released")
        .await;
    let ledgers = phones.drain_and_stop().await;

    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
    assert!(
        stopped.log.contains("the store cannot write"),
        "{}",
        stopped.log
    );
    assert!(
        stopped.log.contains("the store writes again"),
        "{}",
        stopped.log
    );
    let (total_acked, total_refused) =
        check_ledgers_against(&stopped.dir.path().join("synchub.sqlite3"), &ledgers);
    eprintln!(
        "database locked by another process for {HELD_FOR:?}: 503 `locked` {:.1} s after the \
         lock was taken (acknowledged before: {acked_when_locked}); 200 {:.1} s after it was \
         released ({:.1} s in all); {total_acked} batches acked = stored; {total_refused} \
         refusals with store_unavailable, all resent and stored",
        to_red.as_secs_f64(),
        to_green.as_secs_f64(),
        (released_at - locked_at + to_green).as_secs_f64(),
    );
}
