//! Sync Hub's session report: how the room moved, as one self-contained HTML page and its
//! JSON twin.
//!
//! # Roles
//!
//! - [`SessionData`] (`input.rs`): one session as plain data — phases, participants by slot,
//!   their scores, beat coverage, synchrony rounds, pacer settings. [`SessionData::load`]
//!   reads it from the hub's SQLite store (`load.rs`); tests and benchmarks may build it.
//! - [`Report::build`] (`figures/`): every figure of the report, computed without I/O — the
//!   group's coherence on a 5 s grid as the live engine counts it, time in band, the peak,
//!   synchrony against its surrogate level, change from baseline with statistics, breathing
//!   rates and the pacer, data quality per slot.
//! - [`SessionData::load_consented`] and [`Report::stored_row`] (`stored.rs`): the report that
//!   leaves the hub, made from consented participants only, as the store keeps it for central
//!   sync and the research export.
//! - [`stats`]: the Wilcoxon signed-rank test, rank-biserial correlation, percentile bootstrap
//!   and quantiles, each equal to scipy 1.16 / numpy 2.3 on committed fixtures.
//! - [`Report::personal`] (`personal.rs`): one participant's own view — their curve, the
//!   room's median, their change beside the room's — with no other participant's data.
//! - [`Report::to_json`] and [`Report::to_html`] (`html/`): the JSON twin (documented field by
//!   field in `docs/report.md`) and the page rendered from it alone: inline SVG and CSS, no
//!   script, no network, readable on a phone, printable to A4 or Letter.
//!
//! # Invariants
//!
//! - **Anonymous.** Participants are slots (1 = joined first); no pseudonym, id, intention or
//!   note enters [`SessionData`], so none can reach a report.
//! - **The page shows the JSON.** The HTML is a function of [`Report`]; every number on the
//!   page is a field of the JSON.
//! - **Reproducible.** The same data and seed give the same report, byte for byte: the
//!   bootstrap draws come from a generator written down in this crate.
//!
//! # Example
//!
//! ```
//! use synchub_report::{
//!     MetricRow, ParticipantData, Phase, PhaseChange, PlannedPhases, Quality, Report,
//!     ScheduleMode, ScoreSource, SessionData, SessionInfo, SourceKind,
//! };
//!
//! let start_ms = 1_780_000_000_000;
//! let metrics = (0..60)
//!     .map(|step| MetricRow {
//!         at_ms: start_ms + 35_000 + step * 5_000,
//!         score: 30.0 + step as f64,
//!         source: ScoreSource::Hub,
//!         algorithm: Some("synchub-coherence/1".into()),
//!         breaths_per_min: Some(6.0),
//!         artifact_fraction: Some(0.0),
//!         quality: Quality::Good,
//!     })
//!     .collect();
//! let data = SessionData {
//!     session: SessionInfo {
//!         room_name: Some("Studio".into()),
//!         mode: ScheduleMode::Manual,
//!         started_at_ms: start_ms,
//!         ended_at_ms: Some(start_ms + 330_000),
//!         closed_on_recovery: false,
//!         planned: PlannedPhases { preparation_secs: 30, active_secs: 270, integration_secs: 30 },
//!         phase_changes: vec![
//!             PhaseChange { phase: Phase::Preparation, at_ms: start_ms },
//!             PhaseChange { phase: Phase::Active, at_ms: start_ms + 30_000 },
//!             PhaseChange { phase: Phase::Integration, at_ms: start_ms + 300_000 },
//!         ],
//!     },
//!     participants: vec![ParticipantData {
//!         slot: 1,
//!         source: SourceKind::Strap,
//!         research_consent: true,
//!         joined_at_ms: start_ms,
//!         left_at_ms: None,
//!         metrics,
//!         beats: Default::default(),
//!         synchrony_strength: Vec::new(),
//!     }],
//!     synchrony: Vec::new(),
//!     pacer: Vec::new(),
//! };
//! let report = Report::build(&data, 7);
//! assert_eq!(report.overview.participants.with_data, 1);
//! assert!(report.to_html().contains("<svg"));
//! assert!(report.to_json().contains("\"schema\":\"synchub-report/1\""));
//! ```

mod bands;
mod figures;
mod html;
mod input;
mod load;
mod personal;
mod report;
pub mod stats;
mod stored;

pub use input::{
    BeatCoverage, GAP_MS, Gap, MetricRow, PacerSetting, ParticipantData, Phase, PhaseChange,
    PlannedPhases, Quality, ScheduleMode, ScoreSource, SessionData, SessionInfo, SourceKind,
    StrengthPoint, SynchronyRound, gaps_between,
};
pub use load::LoadError;
pub use personal::{
    MIN_ROOM_PARTICIPANTS, OwnChange, OwnScore, PersonalChange, PersonalReport, RoomPoint,
};
pub use report::*;

impl Report {
    /// Computes every figure of the session's report. `seed` seeds the bootstrap draws: the
    /// same data and seed give the same report.
    pub fn build(data: &SessionData, seed: u64) -> Report {
        figures::build(data, seed)
    }

    /// The JSON twin (compact; `docs/report.md` documents every field).
    pub fn to_json(&self) -> String {
        // Every field is a plain number, string, bool, list or struct: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON twin, indented for reading.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as one self-contained HTML page (inline SVG and CSS, no script).
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}
