//! `synchub report`: one stored session's report, made offline from a data directory (a
//! running hub's included: the store is only read) and written to a file — the page, or its
//! JSON twin. The work is `crate::report`'s; this module resolves the data directory, writes
//! the file whole or not at all, and says what it wrote.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use synchub_store::DataDir;

use crate::report::{ReportFormat, Which};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where the database and the hub's secrets live [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The session: its id (as the console's history shows it) or `latest`.
    #[arg(long, env = "SYNCHUB_REPORT_SESSION", default_value = "latest")]
    pub session: Which,
    /// The file to write; `-` writes to standard output.
    #[arg(long, env = "SYNCHUB_REPORT_OUT")]
    pub out: PathBuf,
    /// The page (html) or its JSON twin (json).
    #[arg(long, env = "SYNCHUB_REPORT_FORMAT", value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// The room's name on the page (the store does not keep it) [default: none shown].
    #[arg(long, env = "SYNCHUB_ROOM_NAME")]
    pub room_name: Option<String>,
}

/// Runs `synchub report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::resolve(args.data_dir.clone())
        .context("finding the data directory; pass --data-dir")?;
    let database = data_dir.database_path();
    let (session_id, report) =
        crate::report::build(&database, args.session, args.room_name.clone())?;
    let text = args.format.render(&report);
    if args.out.as_os_str() == "-" {
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing the report to standard output")?;
        return Ok(());
    }
    write_whole(&args.out, text.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    #[allow(clippy::print_stderr)]
    {
        let change = &report.change.coherence;
        let summary = match (&change.median_change, &change.test) {
            (Some(median), Some(test)) => format!(
                "; median change from baseline {median:+.1} (p = {:.3}, {} participants)",
                test.p_value, test.pairs
            ),
            _ => String::new(),
        };
        eprintln!(
            "synchub: wrote the report of session {session_id} ({} joined{summary}) to {}",
            report.overview.participants.joined,
            args.out.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half a
/// report and an existing file is replaced only by a complete one.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("creating a file in {}", folder.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)?;
    Ok(())
}
