//! The command-line surface of `synchub` (clap derive). Each subcommand lives in its own module;
//! this one only parses and dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Sync Hub: live heart-rhythm coherence for groups in one room.
#[derive(Debug, Parser)]
#[command(name = "synchub", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an HRV and coherence report of one RR recording.
    ///
    /// Reads one RR interval per line (ms; `#` comments and blank lines allowed), or a CSV file
    /// whose header has an `rr` or `rr_ms` column (and optionally `time`/`timestamp`). Values that
    /// are all below 10 are taken as seconds.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The recording to analyse.
    pub file: PathBuf,
    /// Output format: a table for people, or JSON for programs.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Skip artifact correction (to compare with tools that do none).
    #[arg(long)]
    pub no_clean: bool,
    /// Length of each coherence window, in seconds.
    #[arg(long, default_value_t = 64.0)]
    pub window_secs: f64,
    /// Step between the starts of consecutive windows, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub step_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(args) => crate::analyze::run(&args),
    }
}
