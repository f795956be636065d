//! `synchub analyze FILE`: the HRV and coherence report of one recording, as a table for people
//! or as JSON for programs. The numbers come from `synchub-hrv`; this module reads the file,
//! turns analysis errors into messages that say what to do, and formats.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueEnum;
use serde_json::{Value, json};
use synchub_hrv::{AnalysisError, RecordingOptions, RecordingReport};

use super::recording::{Recording, parse_recording};

/// `synchub analyze` flags.
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

/// Runs the command: prints the report on stdout, notes on stderr.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let path = &args.file;
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}; check the path and that it is a text file",
            path.display()
        )
    })?;
    let recording = parse_recording(&text).with_context(|| path.display().to_string())?;
    if recording.converted_from_secs {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "synchub: note: every value in {} is below 10, so they were read as seconds and converted to ms",
                path.display()
            );
        }
    }
    let options = RecordingOptions {
        clean: !args.no_clean,
        window_secs: args.window_secs,
        step_secs: args.step_secs,
    };
    let report = analyze(&recording, &options).with_context(|| path.display().to_string())?;
    let output = match args.format {
        ReportFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report_json(&report))?;
            json.push('\n');
            json
        }
        ReportFormat::Table => report_table(&report),
    };
    #[allow(clippy::print_stdout)]
    {
        print!("{output}");
    }
    Ok(())
}

/// Analyses a parsed recording, with errors phrased for the person who gave the file.
pub fn analyze(
    recording: &Recording,
    options: &RecordingOptions,
) -> anyhow::Result<RecordingReport> {
    if !(options.window_secs >= 16.0 && options.window_secs <= 512.0) {
        bail!(
            "--window-secs {} is out of range; use a value from 16 to 512 (64 is the standard)",
            options.window_secs
        );
    }
    if !(options.step_secs > 0.0 && options.step_secs.is_finite()) {
        bail!(
            "--step-secs {} must be a positive number of seconds (5 is the standard)",
            options.step_secs
        );
    }
    synchub_hrv::analyze_beats(&recording.beats(), options).map_err(|error| match error {
        AnalysisError::InvalidRr { index, rr_ms, reason } => anyhow::anyhow!(
            "line {}: {rr_ms} is not a possible RR interval ({reason}); fix or remove that line",
            recording.lines.get(index).copied().unwrap_or(index + 1)
        ),
        AnalysisError::TooShort { duration_secs, needed_secs } => anyhow::anyhow!(
            "the recording covers {duration_secs:.1} s of beats, too few for one {needed_secs:.0} s coherence window; \
             analyse a longer recording (2 minutes or more is best) or pass a smaller --window-secs"
        ),
        other => anyhow::anyhow!("{other}"),
    })
}

/// The JSON report. The keys are a contract with scripts that read it: add, never rename.
pub fn report_json(report: &RecordingReport) -> Value {
    let time = &report.time;
    let frequency = report.frequency.map(|f| {
        json!({
            "vlf_ms2": f.vlf_ms2, "lf_ms2": f.lf_ms2, "hf_ms2": f.hf_ms2,
            "lf_hf": f.lf_hf, "lf_nu": f.lf_nu, "hf_nu": f.hf_nu,
        })
    });
    let windows: Vec<Value> = report
        .windows
        .iter()
        .map(|w| {
            json!({
                "end_secs": w.end_secs, "score": w.score, "ratio": w.ratio,
                "peak_hz": w.peak_hz, "breaths_per_min": w.breaths_per_min,
                "quality": w.quality.as_str(),
                "artifact_fraction": w.artifact_fraction, "coverage": w.coverage,
            })
        })
        .collect();
    json!({
        "algorithm": report.algorithm,
        "beats": report.beats,
        "duration_secs": report.duration_secs,
        "artifact_fraction": report.artifact_fraction,
        "time": {
            "mean_rr_ms": time.mean_rr_ms, "hr_bpm": time.hr_bpm, "sdnn_ms": time.sdnn_ms,
            "rmssd_ms": time.rmssd_ms, "pnn50_pct": time.pnn50_pct,
        },
        "frequency": frequency,
        "coherence": {
            "mean_score": report.mean_score,
            "mean_ratio": report.mean_ratio,
            "windows": windows,
        },
    })
}

/// The report for people: the summary first, then one row per window.
pub fn report_table(report: &RecordingReport) -> String {
    let mut out = String::new();
    let time = &report.time;
    let minutes = report.duration_secs / 60.0;
    let _ = writeln!(
        out,
        "Recording       {} beats over {minutes:.1} min ({})",
        report.beats, report.algorithm
    );
    let _ = writeln!(
        out,
        "Artifacts       {:.1} % corrected",
        report.artifact_fraction * 100.0
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Heart rate      {:.1} bpm (mean RR {:.1} ms)",
        time.hr_bpm, time.mean_rr_ms
    );
    let _ = writeln!(out, "SDNN            {:.1} ms", time.sdnn_ms);
    let _ = writeln!(out, "RMSSD           {:.1} ms", time.rmssd_ms);
    let _ = writeln!(out, "pNN50           {:.1} %", time.pnn50_pct);
    match report.frequency {
        Some(f) => {
            let _ = writeln!(
                out,
                "VLF / LF / HF   {:.0} / {:.0} / {:.0} ms²",
                f.vlf_ms2, f.lf_ms2, f.hf_ms2
            );
            let _ = writeln!(
                out,
                "LF/HF           {:.2} (LF {:.0} nu, HF {:.0} nu)",
                f.lf_hf, f.lf_nu, f.hf_nu
            );
        }
        None => {
            let _ = writeln!(out, "VLF / LF / HF   needs at least 2 minutes of beats");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Coherence       mean score {:.1} ({}), mean ratio {:.2}, {} windows",
        report.mean_score,
        synchub_hrv::CoherencePhase::from_score(report.mean_score).as_str(),
        report.mean_ratio,
        report.windows.len()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  end (s)   score   ratio   peak (Hz)   breaths/min   quality"
    );
    for w in &report.windows {
        let _ = writeln!(
            out,
            "  {:>7.1}   {:>5.1}   {:>5.2}   {:>9.4}   {:>11.1}   {}",
            w.end_secs,
            w.score,
            w.ratio,
            w.peak_hz,
            w.breaths_per_min,
            w.quality.as_str()
        );
    }
    out
}
