//! `synchub sync`: push this hub's stored sessions to the central PostgreSQL, once or on a
//! schedule, with per-table progress on stderr and the final count check. The work is
//! `synchub-cloud`'s; this module resolves the data directory, stores the consented report of
//! every ended session that has none yet (`session_reports`), and prints.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use synchub_cloud::{SyncOptions, SyncReport, TableProgress};
use synchub_store::{DataDir, Store, WriterConfig};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Where the hub's database lives [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The central database, `postgres://user@host/db` (TLS to another computer unless
    /// `?sslmode=disable`; add `?sslrootcert=/path/to/ca.pem` when an institution's own CA
    /// signed its certificate).
    #[arg(long, env = "SYNCHUB_DATABASE_URL")]
    pub database_url: String,
    /// Push once and exit (the default).
    #[arg(long, conflicts_with = "watch")]
    pub once: bool,
    /// Keep pushing every --every-secs, retrying with backoff while the database is unreachable.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: seconds between pushes.
    #[arg(long, default_value_t = 60)]
    pub every_secs: u64,
    /// Seconds any one call to the central database may take (also its statement and
    /// idle-in-transaction timeouts): a database that stops answering fails the push then.
    #[arg(long, env = "SYNCHUB_SYNC_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
}

/// Runs `synchub sync`.
pub async fn run(args: SyncArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::resolve(args.data_dir.clone())
        .context("finding the data directory; pass --data-dir")?;
    let database_path = data_dir.database_path();
    if !database_path.exists() {
        anyhow::bail!(
            "no Sync Hub database in {}; pass the --data-dir that `synchub serve` used",
            data_dir.root().display()
        );
    }
    store_missing_reports(&data_dir).await;
    let mut options = SyncOptions::new(args.database_url.clone(), database_path);
    options.timeout = Duration::from_secs(args.timeout_secs);
    let target = synchub_cloud::redacted_url(&args.database_url);
    if !args.watch {
        let report = synchub_cloud::push(&options, &mut print_progress)
            .await
            .with_context(|| format!("syncing to {target}"))?;
        print_report(&report);
        return Ok(());
    }
    let (status_sender, mut status) = tokio::sync::watch::channel(Default::default());
    let every = Duration::from_secs(args.every_secs.max(1));
    let watcher = tokio::spawn(synchub_cloud::watch(
        options,
        every,
        status_sender,
        std::sync::Arc::default(),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ));
    say(&format!(
        "syncing to {target} every {} s; Ctrl-C stops",
        every.as_secs()
    ));
    let mut reported = (None, 0);
    while status.changed().await.is_ok() {
        let current: synchub_cloud::SyncStatus = status.borrow_and_update().clone();
        // Progress updates arrive during a push; report each push's outcome once.
        let outcome = (current.last_sync_ms, current.consecutive_failures);
        if current.running || outcome == reported {
            continue;
        }
        reported = outcome;
        match &current.last_error {
            Some(error) => say(&format!(
                "sync failed ({} in a row), retrying: {error}",
                current.consecutive_failures
            )),
            None => say(&format!(
                "synced {} rows; {} rows wait for their session to end",
                current.last_rows, current.rows_pending
            )),
        }
    }
    watcher.await.context("the sync task")?;
    Ok(())
}

/// Sessions that ended before this version of the hub (or on a hub that has not run since)
/// have no stored report yet: build them now, so they travel with this push. A failure is
/// reported and the push goes on: the rows are synced and the reports follow next time.
async fn store_missing_reports(data_dir: &DataDir) {
    let data_dir = data_dir.clone();
    let stored = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = Store::open(&data_dir, WriterConfig::default())
            .with_context(|| format!("opening the store in {}", data_dir.root().display()))?;
        let stored = crate::session_reports::store_missing(&store)
            .context("building the reports of ended sessions")?;
        store.shutdown().context("closing the store")?;
        Ok(stored)
    })
    .await;
    match stored {
        Ok(Ok(stored)) if stored.stored > 0 => say(&format!(
            "stored the consented report of {} ended session{}",
            stored.stored,
            if stored.stored == 1 { "" } else { "s" }
        )),
        Ok(Ok(_)) => {}
        Ok(Err(error)) => say(&format!(
            "session reports not stored, the sessions are synced without them: {error:#}"
        )),
        Err(error) => say(&format!("session reports not stored: {error}")),
    }
}

fn say(line: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("synchub: {line}");
    }
}

fn print_progress(table: &TableProgress) {
    if table.done {
        say(&format!(
            "{:<28} {:>10} rows {:>12} bytes {:>10.0} rows/s",
            table.table,
            table.rows,
            table.bytes,
            table.rows_per_sec()
        ));
    }
}

fn print_report(report: &SyncReport) {
    let secs = report.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        report.rows() as f64 / secs
    } else {
        0.0
    };
    say(&format!(
        "pushed {} rows ({} bytes) in {secs:.1} s, {rate:.0} rows/s",
        report.rows(),
        report.bytes()
    ));
    let pending: u64 = report.counts.iter().map(|count| count.pending).sum();
    say(&format!(
        "verified: local and central counts agree for this hub in all {} tables{}",
        report.counts.len(),
        if pending > 0 {
            format!("; {pending} rows of a running session wait until it ends")
        } else {
            String::new()
        }
    ));
}
