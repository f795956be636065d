//! `synchub research …` on the hub's own store: the research export of consented data, and a
//! participant's data rights (their own export, their erasure) for requests that reach the
//! facilitator outside the app. The work is done by `synchub-store`; this module resolves the
//! data directory, parses instants, and reports progress on stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use synchub_store::{DataDir, ExportFormat, ExportProgress, ExportReport, ExportRequest, Store};

#[derive(Debug, Subcommand)]
pub enum ResearchCommand {
    /// Export consented, pseudonymised data from the central database (`research.*` views).
    Export(CentralExportArgs),
    /// Export consented participants' data from this hub's store (everything when no range).
    ExportLocal(ExportLocalArgs),
    /// Export everything stored about one participant (a data-access request).
    ExportParticipant(ParticipantArgs),
    /// Erase one participant's data; a tombstone carries the erasure to the central database.
    EraseParticipant(EraseArgs),
}

#[derive(Debug, clap::Args)]
pub struct DataDirArg {
    /// Where the database and the hub's secrets live [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ExportLocalArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Sessions that started at or after this instant (RFC 3339 like 2026-11-26T10:00:00Z, a
    /// date like 2026-11-26 meaning its start in UTC, or milliseconds since the epoch).
    #[arg(long)]
    pub from: Option<String>,
    /// Sessions that started before this instant (same forms as --from).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CentralExportArgs {
    /// The central database, `postgres://user@host/db`.
    #[arg(long, env = "SYNCHUB_DATABASE_URL")]
    pub database_url: String,
    /// Sessions that started at or after this instant (same forms as for export-local).
    #[arg(long)]
    pub from: Option<String>,
    /// Sessions that started before this instant.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this hub's sessions (its UUID).
    #[arg(long)]
    pub hub: Option<uuid::Uuid>,
    /// Only this session (its UUID).
    #[arg(long)]
    pub session: Option<uuid::Uuid>,
    #[arg(long, value_enum)]
    pub format: CentralFormatArg,
    /// Folder to write into (created if missing); a manifest.json lists what was exported.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CentralFormatArg {
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, clap::Args)]
pub struct ParticipantArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// The participant's pseudonym (as shown in exports), never their raw id.
    #[arg(long)]
    pub pseudonym: String,
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// The participant's pseudonym.
    #[arg(long)]
    pub pseudonym: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
    Parquet,
}

impl From<FormatArg> for ExportFormat {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Csv => Self::Csv,
            FormatArg::Json => Self::Json,
            FormatArg::Parquet => Self::Parquet,
        }
    }
}

/// Runs one `research` subcommand.
pub fn run(command: ResearchCommand) -> anyhow::Result<()> {
    match command {
        ResearchCommand::Export(args) => export_central(args),
        ResearchCommand::ExportLocal(args) => {
            let request = ExportRequest {
                from_ms: args.from.as_deref().map(parse_instant_ms).transpose()?,
                to_ms: args.to.as_deref().map(parse_instant_ms).transpose()?,
                format: args.format.into(),
                out_dir: args.out.clone(),
            };
            let store = open_store(&args.data_dir)?;
            let report = store
                .export(&request, &mut print_progress)
                .with_context(|| format!("exporting into {}", args.out.display()))?;
            store.shutdown().context("closing the store")?;
            print_report(&report);
            Ok(())
        }
        ResearchCommand::ExportParticipant(args) => {
            let store = open_store(&args.data_dir)?;
            let report = store
                .export_participant(
                    &args.pseudonym,
                    args.format.into(),
                    &args.out,
                    &mut print_progress,
                )
                .with_context(|| format!("exporting participant {}", args.pseudonym))?;
            store.shutdown().context("closing the store")?;
            print_report(&report);
            Ok(())
        }
        ResearchCommand::EraseParticipant(args) => {
            let store = open_store(&args.data_dir)?;
            let report = store
                .erase_participant(&args.pseudonym)
                .with_context(|| format!("erasing participant {}", args.pseudonym))?;
            store.shutdown().context("closing the store")?;
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "synchub: erased participant {}: {} participation rows, {} beats, {} metric rows, {} synchrony pairs; \
                     a tombstone will carry the erasure to the central database at the next sync",
                    args.pseudonym,
                    report.participant_rows,
                    report.beat_rows,
                    report.metric_rows,
                    report.pair_rows
                );
            }
            Ok(())
        }
    }
}

fn export_central(args: CentralExportArgs) -> anyhow::Result<()> {
    let request = synchub_cloud::ResearchExportRequest {
        database_url: args.database_url.clone(),
        from_ms: args.from.as_deref().map(parse_instant_ms).transpose()?,
        to_ms: args.to.as_deref().map(parse_instant_ms).transpose()?,
        hub_id: args.hub,
        session_id: args.session,
        format: match args.format {
            CentralFormatArg::Csv => synchub_cloud::ResearchFormat::Csv,
            CentralFormatArg::Json => synchub_cloud::ResearchFormat::Json,
            CentralFormatArg::Parquet => synchub_cloud::ResearchFormat::Parquet,
        },
        out_dir: args.out.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime
        .block_on(synchub_cloud::research_export(&request))
        .with_context(|| {
            format!(
                "exporting from {} into {}",
                synchub_cloud::redacted_url(&args.database_url),
                args.out.display()
            )
        })?;
    for file in &report.files {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "synchub: {:<36} {:>10} rows  {}",
                file.view, file.rows, file.file
            );
        }
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "synchub: exported {} files to {} (manifest.json lists counts and checksums)",
            report.files.len(),
            args.out.display()
        );
    }
    Ok(())
}

fn open_store(arg: &DataDirArg) -> anyhow::Result<Store> {
    let data_dir = DataDir::resolve(arg.data_dir.clone())
        .context("finding the data directory; pass --data-dir")?;
    if !data_dir.database_path().exists() {
        anyhow::bail!(
            "no Sync Hub database in {}; pass the --data-dir that `synchub serve` used",
            data_dir.root().display()
        );
    }
    Store::open(&data_dir, Default::default())
        .with_context(|| format!("opening the store in {}", data_dir.root().display()))
}

fn print_progress(progress: &ExportProgress) {
    if progress.table_done {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("synchub: {:<28} {:>10} rows", progress.table, progress.rows);
        }
    }
}

fn print_report(report: &ExportReport) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "synchub: exported {} sessions, {} participants, {} beats ({} rows in {} files) to {}",
            report.sessions,
            report.participants,
            report.beat_rows,
            report.total_rows(),
            report.files.len(),
            report.out_dir.display()
        );
    }
}

/// Parses an instant given on the command line into milliseconds since the epoch.
pub fn parse_instant_ms(text: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(instant) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok((instant.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let date_format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]")
        .expect("the date format description is valid");
    if let Ok(date) = time::Date::parse(text, &date_format) {
        return Ok(date.midnight().assume_utc().unix_timestamp() * 1000);
    }
    anyhow::bail!(
        "{text:?} is not an instant; use RFC 3339 (2026-11-26T10:00:00Z), a date (2026-11-26) or ms since the epoch"
    )
}

#[cfg(test)]
mod tests {
    use super::parse_instant_ms;

    #[test]
    fn instants_in_three_forms() {
        assert_eq!(
            parse_instant_ms("1764151200000").unwrap(),
            1_764_151_200_000
        );
        assert_eq!(
            parse_instant_ms("2025-11-26T10:00:00Z").unwrap(),
            1_764_151_200_000
        );
        assert_eq!(
            parse_instant_ms("2025-11-26T11:00:00+01:00").unwrap(),
            1_764_151_200_000
        );
        assert_eq!(parse_instant_ms("2025-11-26").unwrap(), 1_764_115_200_000);
        let error = parse_instant_ms("yesterday").unwrap_err().to_string();
        assert!(error.contains("RFC 3339"), "{error}");
    }
}
