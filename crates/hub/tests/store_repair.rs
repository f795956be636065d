//! `synchub store check|recover` on a database damaged on disk: the check names the damage and
//! exits non-zero, recover keeps every readable row (the damaged page's rows are lost, nothing
//! else) and moves the damaged file aside, and a hub starts on the result. A file that is not a
//! database at all stops `synchub serve` with a message that points to these commands.

use std::path::Path;

use serde_json::json;

use crate::util::{HubProcess, WsClient, count_rows, now_ms, stderr, stdout, synchub};

/// Beats per batch and batches sent: enough rows for many pages of `rr_intervals`. Each beat
/// is stored once and beats cannot outrun time, so the rows come from several phones, each
/// sending the last minutes of its beats (200 ms apart) in consecutive batches.
const BEATS: usize = 240;
const BATCHES: u64 = 24;
const PHONES: u64 = 4;

/// Overwrites one leaf page of `rr_intervals` (a table leaf with many small cells: no other
/// table has rows that small) with bytes that are no b-tree page; the page's number.
fn damage_one_beat_page(database: &Path) -> usize {
    let mut bytes = std::fs::read(database).expect("the database file");
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        size => usize::from(size),
    };
    let pages = bytes.len() / page_size;
    let victim = (pages / 2..pages)
        .chain(1..pages / 2)
        .find(|&page| {
            let start = page * page_size;
            let cells = u16::from_be_bytes([bytes[start + 3], bytes[start + 4]]);
            bytes[start] == 0x0D && cells >= 60
        })
        .expect("a leaf page of rr_intervals");
    let start = victim * page_size;
    bytes[start..start + page_size].fill(0xFF);
    std::fs::write(database, bytes).expect("the damaged database is written");
    victim
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_database_is_reported_and_recover_keeps_every_readable_row() {
    let hub = HubProcess::start(&[], &[]);
    let (status, _) = hub.call("POST", "/api/sessions", None);
    assert_eq!(status, 201);
    let batches_per_phone = BATCHES / PHONES;
    for index in 0..PHONES {
        let mut phone = WsClient::connect(&format!(
            "ws://127.0.0.1:{}/ws?userId=phone-d{index}",
            hub.port
        ))
        .await;
        phone.join().await;
        // 48 s per batch, the last one ending two seconds ago.
        let first_end = now_ms() - 2_000 - (batches_per_phone - 1) * 48_000;
        for batch in 0..batches_per_phone {
            let seq = index * batches_per_phone + batch + 1;
            phone
                .send(
                    "rr_intervals",
                    json!({"rr": vec![200.0; BEATS], "endedAt": first_end + batch * 48_000, "seq": seq}),
                )
                .await;
            assert_eq!(phone.expect("rr_ack").await["seq"], seq);
        }
    }
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
    let dir = stopped.dir;
    let database = dir.path().join("synchub.sqlite3");
    let total = count_rows(&database, "SELECT count(*) FROM rr_intervals");
    assert_eq!(
        total,
        i64::try_from(BEATS).unwrap() * i64::try_from(BATCHES).unwrap()
    );
    let data_dir = dir.path().to_str().expect("a UTF-8 path");

    let healthy = synchub(&["store", "check", "--data-dir", data_dir]);
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    assert!(stdout(&healthy).contains(": ok"), "{}", stdout(&healthy));

    let page = damage_one_beat_page(&database);
    let check = synchub(&["store", "check", "--data-dir", data_dir]);
    assert!(
        !check.status.success(),
        "check fails on page {page}'s damage"
    );
    assert!(stdout(&check).contains("damaged"), "{}", stdout(&check));
    assert!(
        stderr(&check).contains("synchub store recover"),
        "says what to do: {}",
        stderr(&check)
    );

    let recover = synchub(&["store", "recover", "--data-dir", data_dir]);
    assert!(
        recover.status.success(),
        "{}\n{}",
        stdout(&recover),
        stderr(&recover)
    );
    let report = stdout(&recover);
    assert!(report.contains("damaged database moved to"), "{report}");
    let moved = std::fs::read_dir(dir.path())
        .expect("the data directory")
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().contains(".damaged-"));
    assert!(moved, "the damaged file is kept beside the new one");
    let kept = count_rows(&database, "SELECT count(*) FROM rr_intervals");
    // One page of small rows is lost (a few hundred at most), every other row is kept.
    assert!(kept < total, "the damaged page's rows are gone: {report}");
    assert!(
        kept >= total - 400,
        "only the damaged page's rows are lost: {kept} of {total}\n{report}"
    );
    assert_eq!(count_rows(&database, "SELECT count(*) FROM sessions"), 1);
    assert_eq!(
        count_rows(&database, "SELECT count(*) FROM session_participants"),
        i64::try_from(PHONES).expect("a handful of phones")
    );
    eprintln!("recover kept {kept} of {total} beats after one damaged page\n{report}");

    let again = synchub(&["store", "check", "--data-dir", data_dir]);
    assert!(again.status.success(), "{}", stdout(&again));

    // The hub starts on the recovered database and is healthy.
    let hub = HubProcess::start_in(dir, &[], &[]);
    let (status, body) = hub.call("GET", "/health", None);
    assert_eq!(status, 200, "{body}");
    let stopped = hub.stop();
    assert!(stopped.exit.success(), "{}", stopped.log);
}

#[test]
fn serve_on_a_file_that_is_no_database_points_to_store_check_and_recover() {
    let dir = tempfile::tempdir().expect("a data directory");
    std::fs::write(
        dir.path().join("synchub.sqlite3"),
        "this is not a database, only some text a broken copy left behind\n".repeat(100),
    )
    .expect("a broken database file");
    let data_dir = dir.path().to_str().expect("a UTF-8 path");
    let output = synchub(&[
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--no-mdns",
        "--data-dir",
        data_dir,
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("is damaged"), "{message}");
    assert!(
        message.contains("synchub store check --data-dir"),
        "{message}"
    );
    assert!(
        message.contains("synchub store recover --data-dir"),
        "{message}"
    );
}
