//! `synchub store check` and `synchub store recover`: the integrity check of the hub's
//! database, and a new database from what a damaged one still holds (the work is
//! `synchub_store::repair`'s; this module resolves the data directory and prints).

use std::path::PathBuf;

use anyhow::Context as _;
use synchub_store::DataDir;
use synchub_store::repair;

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Check the database for damage (`PRAGMA integrity_check`), changing nothing. Exits
    /// non-zero when it is damaged.
    Check(StoreArgs),
    /// Move a damaged database aside (kept, never deleted) and build a new one from every row
    /// that can still be read. Run it with the hub stopped.
    Recover(StoreArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Where the hub's database lives [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs `synchub store …`.
#[allow(clippy::print_stdout)] // The command's output.
pub fn run(command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Check(args) => {
            let data_dir = resolve(args)?;
            let report = repair::check(&data_dir).context("checking the database")?;
            if report.ok {
                println!("{}: ok", report.database.display());
                return Ok(());
            }
            println!("{}: damaged", report.database.display());
            for problem in &report.problems {
                println!("  {problem}");
            }
            anyhow::bail!(
                "the database is damaged: stop the hub and run `synchub store recover --data-dir {}` \
                 (it keeps every readable row and moves the damaged file aside)",
                data_dir.root().display()
            )
        }
        StoreCommand::Recover(args) => {
            let data_dir = resolve(args)?;
            let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
            let report = repair::recover(&data_dir, now_ms).context("recovering the database")?;
            println!("damaged database moved to {}", report.moved_to.display());
            println!("{:<28} {:>10} {:>8}", "table", "kept", "lost");
            for table in &report.tables {
                println!(
                    "{:<28} {:>10} {:>8}",
                    table.table, table.rows_kept, table.rows_lost
                );
            }
            let check = repair::check(&data_dir).context("checking the new database")?;
            anyhow::ensure!(
                check.ok,
                "the new database is not sound: {:?}",
                check.problems
            );
            println!("new database: ok; `synchub serve` can start on it");
            Ok(())
        }
    }
}

fn resolve(args: StoreArgs) -> anyhow::Result<DataDir> {
    DataDir::resolve(args.data_dir).context("finding the data directory; pass --data-dir")
}
