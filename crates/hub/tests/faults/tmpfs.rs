//! A full disk and a read-only disk: the data directory is a 24 MiB tmpfs that the test fills,
//! frees, remounts read-only and read-write again while five phones send batches.
//!
//! The kernel refuses to remount a tmpfs read-only while a process has a file on it open for
//! writing, so a read-only remount of a tmpfs under a healthy hub is impossible; the hub closes
//! its database while the store cannot write, so this test remounts it read-only while the disk
//! is full, which is also the order in which a full disk then turns read-only in real life.
//! A disk that turns read-only under a healthy hub is `ext4.rs`'s.

use std::time::{Duration, Instant};

use super::rig::{
    DataDisk, NamespacedHub, PATIENCE, Phones, check_ledgers_against, has_problem, metric,
    mount_namespaces_available, store_fault_kind,
};
use crate::util::http_json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_and_read_only_lose_no_beat_and_the_hub_recovers_by_itself() {
    if !mount_namespaces_available() {
        eprintln!(
            "SKIPPED: `unshare -m` is not available (needs root or user namespaces); \
             this test puts the hub's data directory on a tmpfs in a private mount namespace"
        );
        return;
    }
    let work = tempfile::tempdir().expect("a work directory");
    let hub = NamespacedHub::start(work.path(), DataDisk::Tmpfs("24m"));
    let (status, started) = http_json(hub.port, "POST", "/api/sessions", &hub.token, None);
    assert_eq!(status, 201, "{started}");
    hub.wait_for("healthy at start", "/health", |status, _| status == 200);

    let phones = Phones::start(hub.port, 5);
    let hub = std::sync::Arc::new(hub);
    let blocking = |job: Box<dyn FnOnce(&NamespacedHub) -> Duration + Send>| {
        let hub = hub.clone();
        async move {
            tokio::task::spawn_blocking(move || job(&hub))
                .await
                .expect("a blocking step")
        }
    };
    // Steady state first: acknowledgements flow.
    let deadline = Instant::now() + PATIENCE;
    while phones.acked() < 20 {
        assert!(Instant::now() < deadline, "no acknowledgements at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Fault 1: the disk fills up.
    let to_red = blocking(Box::new(|hub| {
        hub.fill_disk();
        let to_red = hub.wait_for("503 while the disk is full", "/health", |status, body| {
            status == 503 && has_problem(body, "store_cannot_write")
        });
        hub.wait_for("the fault named", "/api/hub", |_, body| {
            store_fault_kind(body).as_deref() == Some("disk_full")
        });
        to_red
    }))
    .await;
    // Phones are refused meanwhile: give them a few batches' time to hear it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recovery_full = blocking(Box::new(|hub| {
        hub.free_disk();
        hub.wait_for("200 after space returns", "/health", |status, _| {
            status == 200
        })
    }))
    .await;

    // Fault 2: full again, then read-only, then read-write and freed.
    let kinds = blocking(Box::new(|hub| {
        hub.fill_disk();
        hub.wait_for("503 on the second fill", "/health", |status, body| {
            status == 503 && has_problem(body, "store_cannot_write")
        });
        hub.remount("ro");
        hub.wait_for("the read-only disk named", "/api/hub", |_, body| {
            store_fault_kind(body).as_deref() == Some("read_only")
        });
        let (status, _) = hub.get("/health");
        assert_eq!(status, 503, "red while read-only");
        hub.remount("rw");
        hub.free_disk();
        hub.wait_for(
            "200 after read-write and space return",
            "/health",
            |status, _| status == 200,
        )
    }))
    .await;

    // Let the phones send a little more, then wait for every batch they hold to be
    // acknowledged.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ledgers = phones.drain_and_stop().await;

    let metrics = hub.metrics();
    assert!(metric(&metrics, "synchub_store_write_errors_total") >= 2.0);
    assert!((metric(&metrics, "synchub_store_writable") - 1.0).abs() < f64::EPSILON);
    assert!(metric(&metrics, "synchub_free_disk_bytes") > 1_000_000.0);
    let log = hub.log.lock().expect("log lock").clone();
    let hub = std::sync::Arc::try_unwrap(hub).unwrap_or_else(|_| panic!("the hub is still shared"));
    let exit = hub.stop();
    assert!(
        exit.success(),
        "serve exits 0 after SIGTERM: {exit:?}\n{log}"
    );
    assert!(log.contains("the store cannot write"), "{log}");
    assert!(log.contains("the store writes again"), "{log}");

    // The database: whole, and every acknowledged batch in it exactly once.
    let (total_acked, total_refused) =
        check_ledgers_against(&work.path().join("copy/synchub.sqlite3"), &ledgers);
    assert!(
        total_refused > 0,
        "phones heard store_unavailable while the disk was full"
    );
    eprintln!(
        "disk full → 503 in {:.1} s; recovered {:.1} s after space returned; read-only episode \
         recovered {:.1} s after read-write and space returned; {total_acked} batches acked = \
         stored; {total_refused} refusals with store_unavailable, all resent and stored",
        to_red.as_secs_f64(),
        recovery_full.as_secs_f64(),
        kinds.as_secs_f64()
    );
}
