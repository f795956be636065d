//! A disk that fails under a healthy hub: the data directory is a folder on ext4 (mounted
//! `errors=remount-ro`, as distributions do) on a loop device, and while five phones send
//! batches the file system
//!
//! 1. detects an error and turns itself read-only at once, under the hub's open database (the
//!    kernel does this; nothing waits for the hub to close its files), and
//! 2. shuts down, as ext4 does when its disk stops answering: from then on every read and write
//!    fails with a real EIO.
//!
//! After each, the test repairs the disk as an administrator would — unmount, `e2fsck -fy`,
//! mount again — without touching the hub. The hub must say what is wrong meanwhile (503,
//! the fault's kind), refuse new beats with `store_unavailable`, and write again by itself
//! once the disk is back; every batch it acknowledged must be in the database exactly once.
//!
//! The machine this was written on has no device-mapper (no `dm-error` or `dm-flakey`), so
//! the I/O errors come from ext4's own shutdown rather than from a failing block device; to
//! the hub they are the same EIO.

use std::time::Duration;

use super::rig::{
    DataDisk, NamespacedHub, Phones, check_ledgers_against, ext4_on_loop_available, has_problem,
    store_fault_kind,
};
use crate::util::http_json;

/// One fault episode: inject, see the hub red with `kind`, let the phones hear refusals,
/// repair, see it green. Returns (time to red, time to green after the repair).
fn episode(
    hub: &NamespacedHub,
    kinds: &[&str],
    inject: fn(&NamespacedHub),
) -> (Duration, Duration) {
    inject(hub);
    let to_red = hub.wait_for("503 after the fault", "/health", |status, body| {
        status == 503 && has_problem(body, "store_cannot_write")
    });
    hub.wait_for("the fault named", "/api/hub", |_, body| {
        store_fault_kind(body).is_some_and(|kind| kinds.contains(&kind.as_str()))
    });
    // The phones keep sending and are refused meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    let (status, _) = hub.get("/health");
    assert_eq!(status, 503, "red until the disk is repaired");
    hub.ext4_repair();
    let to_green = hub.wait_for("200 after the repair", "/health", |status, _| status == 200);
    (to_red, to_green)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disk_that_turns_read_only_or_fails_with_io_errors_under_a_healthy_hub_loses_no_beat() {
    if !ext4_on_loop_available() {
        eprintln!(
            "SKIPPED: needs root with loop devices, `unshare -m`, mkfs.ext4, e2fsck and python3; \
             this test puts the hub's data directory on ext4 on a loop device in a private \
             mount namespace"
        );
        return;
    }
    let work = tempfile::tempdir().expect("a work directory");
    let hub = NamespacedHub::start(work.path(), DataDisk::Ext4("64m"));
    let (status, started) = http_json(hub.port, "POST", "/api/sessions", &hub.token, None);
    assert_eq!(status, 201, "{started}");
    hub.wait_for("healthy at start", "/health", |status, _| status == 200);

    let phones = Phones::start(hub.port, 5);
    let hub = std::sync::Arc::new(hub);
    phones.wait_for_more_acks(20, "at start").await;

    // 1. Read-only under the hub's open files, from a healthy state.
    let read_only = {
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || {
            episode(&hub, &["read_only"], NamespacedHub::ext4_error)
        })
        .await
        .expect("the read-only episode")
    };
    let refused_read_only = phones.refused();
    assert!(
        refused_read_only > 0,
        "phones heard store_unavailable while read-only"
    );
    phones
        .wait_for_more_acks(10, "after the read-only disk came back")
        .await;

    // 2. Every call fails with EIO. While the file system is unmounted for repair the data
    // directory is gone, which the hub reports as an I/O error too.
    let io_error = {
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || {
            episode(&hub, &["io_error"], NamespacedHub::ext4_shutdown)
        })
        .await
        .expect("the I/O error episode")
    };
    phones
        .wait_for_more_acks(10, "after the failed disk came back")
        .await;
    let ledgers = phones.drain_and_stop().await;

    let log = hub.log.lock().expect("log lock").clone();
    let hub = std::sync::Arc::try_unwrap(hub).unwrap_or_else(|_| panic!("the hub is still shared"));
    let exit = hub.stop();
    assert!(
        exit.success(),
        "serve exits 0 after SIGTERM: {exit:?}\n{log}"
    );
    assert!(log.contains("the store cannot write"), "{log}");
    assert!(log.contains("the store writes again"), "{log}");

    let (total_acked, total_refused) =
        check_ledgers_against(&work.path().join("copy/synchub.sqlite3"), &ledgers);
    assert!(
        total_refused > refused_read_only,
        "phones heard store_unavailable during the I/O errors too"
    );
    eprintln!(
        "ext4 turned read-only under the hub → 503 in {:.1} s; 200 {:.1} s after unmount, \
         e2fsck and mount; ext4 shut down (EIO) → 503 in {:.1} s; 200 {:.1} s after the repair; \
         {total_acked} batches acked = stored; {total_refused} refusals with store_unavailable, \
         all resent and stored",
        read_only.0.as_secs_f64(),
        read_only.1.as_secs_f64(),
        io_error.0.as_secs_f64(),
        io_error.1.as_secs_f64(),
    );
}
