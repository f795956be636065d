//! The report as data: every figure the page shows, serialisable as its JSON twin.
//!
//! The HTML page is rendered from a [`Report`] and from nothing else, so a program reading the
//! JSON (`docs/report.md` documents it field by field) reads exactly the numbers a person sees.
//! Times inside a report are seconds since the session started (`*_secs`), except the few
//! absolute instants (`*_ms`, ms since the Unix epoch). A change to a field's meaning is a new
//! [`SCHEMA`].

use serde::Serialize;
use synchub_protocol::CoherencePhase;

use crate::input::{Phase, PlannedPhases, ScheduleMode, ScoreSource, SourceKind};
use crate::stats::{ConfidenceInterval, PairedComparison};

/// The version of the report's JSON; stored in every report.
pub const SCHEMA: &str = "synchub-report/1";

/// One session's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The seed of the bootstrap draws: the same data and seed give the same report.
    pub seed: u64,
    pub overview: Overview,
    pub coherence: CoherenceFigures,
    pub synchrony: SynchronyFigures,
    pub change: ChangeFigures,
    pub breathing: BreathingFigures,
    /// One entry per participant slot.
    pub quality: Vec<SlotQuality>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub room_name: Option<String>,
    pub mode: ScheduleMode,
    pub started_at_ms: i64,
    /// `None`: the session had not ended when the report was made.
    pub ended_at_ms: Option<i64>,
    /// Where the report's time axis ends: the end, or the newest data of a running session.
    pub report_ends_at_ms: i64,
    pub closed_on_recovery: bool,
    pub planned: PlannedPhases,
    pub planned_secs: u32,
    pub real_secs: f64,
    pub phases: Vec<PhaseSpan>,
    pub participants: ParticipantCounts,
    /// Every algorithm that produced a score in this session, with its number of scores.
    pub algorithms: Vec<AlgorithmCount>,
}

/// A phase as it happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseSpan {
    pub phase: Phase,
    pub planned_secs: u32,
    pub start_secs: f64,
    pub end_secs: f64,
}

impl PhaseSpan {
    pub fn length_secs(&self) -> f64 {
        self.end_secs - self.start_secs
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParticipantCounts {
    pub joined: u32,
    /// Participants with at least one score.
    pub with_data: u32,
    pub consented: u32,
    pub by_source: Vec<SourceCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SourceCount {
    pub source: SourceKind,
    pub joined: u32,
    pub with_data: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlgorithmCount {
    pub source: ScoreSource,
    /// `None` for client scores, which do not say how they were computed.
    pub algorithm: Option<String>,
    pub scores: u64,
}

/// The group's coherence on a regular grid, as the live engine would have computed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoherenceFigures {
    pub grid_secs: f64,
    /// A score counts at a grid point while it is at most this old (and not low quality).
    pub fresh_secs: f64,
    pub series: Vec<GroupPoint>,
    /// Mean of `series[].mean` over the points where anyone was counted.
    pub mean_of_group_means: Option<f64>,
    pub time_in_band: Vec<PhaseBands>,
    pub peak: Option<PeakMoment>,
}

/// The room at one grid point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupPoint {
    pub at_secs: f64,
    pub phase: Phase,
    /// Participants with a fresh, not-low-quality score.
    pub active: u32,
    /// `None` when nobody is active (also `median`, `q1`, `q3`).
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    pub low: u32,
    pub medium: u32,
    pub high: u32,
}

/// Time in each band during one phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseBands {
    pub phase: Phase,
    /// Seconds the group's mean spent in each band (one grid step per point).
    pub group_secs: BandSecs,
    /// Of all participant-time with a counting score in this phase, the share in each band.
    pub participant_share: Option<BandShares>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BandSecs {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    /// Nobody active.
    pub no_data: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BandShares {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

/// The grid point with the highest group mean among those where at least half of the
/// session's largest active count was active.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakMoment {
    pub at_secs: f64,
    pub phase: Phase,
    pub mean: f64,
    pub band: CoherencePhase,
    pub active: u32,
    pub min_active: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynchronyFigures {
    pub rounds: Vec<SynchronyPoint>,
    /// The 95th percentile (numpy linear) of every round's surrogate index in the session.
    pub surrogate_p95: Option<f64>,
    /// Rounds during the active phase.
    pub active_rounds: u32,
    /// Active-phase rounds whose index is strictly above `surrogate_p95`.
    pub active_rounds_above_surrogate_p95: u32,
    /// `active_rounds_above_surrogate_p95 / active_rounds`.
    pub active_share_above_surrogate_p95: Option<f64>,
    pub by_phase: Vec<PhaseSynchrony>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SynchronyPoint {
    pub at_secs: f64,
    pub phase: Phase,
    pub participants: u32,
    pub index: f64,
    pub surrogate_index: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseSynchrony {
    pub phase: Phase,
    pub rounds: u32,
    pub mean_index: Option<f64>,
    pub mean_surrogate_index: Option<f64>,
}

/// Change from baseline to the end of the active phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeFigures {
    /// `None` when the session has no active phase to compare (then the stats are empty).
    pub windows: Option<ChangeWindows>,
    /// A participant needs scores in at least this many seconds (distinct 5 s slots) of each
    /// window to be compared.
    pub min_covered_secs: f64,
    pub coherence: ChangeStats,
    /// Per participant: mean pairwise synchrony strength with the others.
    pub synchrony: ChangeStats,
    /// The room's synchrony index (not paired: described, not tested).
    pub group_synchrony: Option<GroupSynchronyChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChangeWindows {
    pub baseline: Window,
    pub end: Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub kind: WindowKind,
    pub start_secs: f64,
    pub end_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Baseline: the preparation phase (it lasted at least 2 minutes).
    Preparation,
    /// Baseline: the first 2 minutes of the active phase (preparation was shorter).
    FirstTwoMinutesOfActive,
    /// End: the last 5 minutes of the active phase.
    LastFiveMinutesOfActive,
    /// End: the whole active phase (it lasted less than 5 minutes).
    WholeActive,
    /// End: the active phase after the baseline (less than 5 minutes remained after it).
    ActiveAfterBaseline,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeStats {
    pub participants: Vec<ParticipantChange>,
    pub excluded: Vec<Excluded>,
    /// Median of `end − baseline` over the compared participants.
    pub median_change: Option<f64>,
    /// Percentile bootstrap interval of that median.
    pub median_change_ci: Option<ConfidenceInterval>,
    pub bootstrap_resamples: u32,
    /// Wilcoxon signed-rank test of end vs. baseline, with the rank-biserial effect size.
    pub test: Option<PairedComparison>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParticipantChange {
    pub slot: u32,
    pub baseline: f64,
    pub end: f64,
    pub change: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Excluded {
    pub slot: u32,
    pub reason: ExclusionReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    TooLittleBaselineData,
    TooLittleEndData,
    TooLittleDataInBoth,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupSynchronyChange {
    pub baseline_rounds: u32,
    pub end_rounds: u32,
    pub baseline_mean_index: Option<f64>,
    pub end_mean_index: Option<f64>,
    pub baseline_mean_surrogate_index: Option<f64>,
    pub end_mean_surrogate_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreathingFigures {
    /// Counting scores (not low quality) that carry a breathing rate.
    pub scores: u64,
    pub median_per_min: Option<f64>,
    pub q1_per_min: Option<f64>,
    pub q3_per_min: Option<f64>,
    pub histogram: Vec<BreathingBin>,
    /// Rates outside the histogram's range.
    pub outside_histogram: u64,
    pub by_phase: Vec<PhaseBreathing>,
    pub pacer: PacerFigures,
}

/// `[from_per_min, to_per_min)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreathingBin {
    pub from_per_min: f64,
    pub to_per_min: f64,
    pub scores: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseBreathing {
    pub phase: Phase,
    pub scores: u64,
    pub median_per_min: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacerFigures {
    /// Empty: no pacer was recorded.
    pub spans: Vec<PacerSpan>,
    /// Over every span.
    pub scores: u64,
    pub median_distance_per_min: Option<f64>,
    pub share_within_one_per_min: Option<f64>,
}

/// The pacer at one rate, and how close the room's breathing came to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PacerSpan {
    pub start_secs: f64,
    pub end_secs: f64,
    pub breaths_per_min: f64,
    /// Counting scores whose whole 64 s window lies inside the span.
    pub scores: u64,
    pub median_breaths_per_min: Option<f64>,
    /// Median of `|rate − pacer rate|`.
    pub median_distance_per_min: Option<f64>,
    /// Share of those scores within one breath per minute of the pacer.
    pub share_within_one_per_min: Option<f64>,
}

/// What one participant's figures stand on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotQuality {
    pub slot: u32,
    pub source: SourceKind,
    pub joined_secs: f64,
    pub left_secs: Option<f64>,
    pub beats: u64,
    pub scores: u64,
    pub hub_scores: u64,
    pub client_scores: u64,
    pub low_quality_scores: u64,
    /// Mean of the hub scores' artifact fractions.
    pub mean_artifact_fraction: Option<f64>,
    /// Time with data inside the session: first to last beat (score-only participants:
    /// score), less the gaps.
    pub data_secs: f64,
    /// Distinct 5 s slots of the session holding at least one score.
    pub scored_windows: u64,
    /// `floor(data_secs / 5)`.
    pub expected_windows: u64,
    pub gaps: Vec<GapSpan>,
}

/// More than 10 s without a beat (or a score, for score-only participants).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GapSpan {
    pub start_secs: f64,
    pub length_secs: f64,
}
