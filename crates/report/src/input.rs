//! What a report is computed from: one session as plain data.
//!
//! [`SessionData`] holds everything the figures need and nothing else — no pseudonyms, no
//! intentions, no ids beyond the session's own — so computing a report never touches a
//! database, and a participant can only ever appear as a slot number. `load.rs` fills it from
//! the hub's SQLite store; tests and benchmarks may build it directly. Times are milliseconds
//! since the Unix epoch in hub time, as everywhere in the store.

use serde::Serialize;

/// One session, ready to be reported on.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionData {
    pub session: SessionInfo,
    /// Everyone who joined, in slot order (slot 1 joined first).
    pub participants: Vec<ParticipantData>,
    /// The synchrony rounds (every 5 s while at least two participants sent beats).
    pub synchrony: Vec<SynchronyRound>,
    /// The breathing pacer's settings over the session, oldest first. The store does not record
    /// the pacer yet, so a loaded session has none and the report says "no pacer recorded".
    pub pacer: Vec<PacerSetting>,
}

/// The session itself: when and how it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The room's name when the caller knows it (the store does not keep it).
    pub room_name: Option<String>,
    pub mode: ScheduleMode,
    pub started_at_ms: i64,
    /// `None` while the session runs: the report then ends at the newest data.
    pub ended_at_ms: Option<i64>,
    /// True when the hub closed it at start-up after a crash.
    pub closed_on_recovery: bool,
    pub planned: PlannedPhases,
    /// The phase changes as they happened, oldest first (the first is normally preparation at
    /// `started_at_ms`; the last `Complete` at the end).
    pub phase_changes: Vec<PhaseChange>,
}

/// How a session's schedule is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleMode {
    Rolling,
    Manual,
}

/// The planned lengths of the three phases when the session opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedPhases {
    pub preparation_secs: u32,
    pub active_secs: u32,
    pub integration_secs: u32,
}

impl PlannedPhases {
    pub fn total_secs(&self) -> u32 {
        self.preparation_secs + self.active_secs + self.integration_secs
    }
}

/// The phases of a session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Preparation,
    Active,
    Integration,
    Complete,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Preparation => "Preparation",
            Phase::Active => "Active",
            Phase::Integration => "Integration",
            Phase::Complete => "Complete",
        }
    }
}

/// A phase began at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseChange {
    pub phase: Phase,
    pub at_ms: i64,
}

/// Where a participant's heart data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The phone app (iOS or Android).
    App,
    /// A Bluetooth chest strap read by the hub.
    Strap,
    /// The browser join page.
    Browser,
    /// A simulated participant.
    Sim,
    Unknown,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::App,
        SourceKind::Strap,
        SourceKind::Browser,
        SourceKind::Sim,
        SourceKind::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SourceKind::App => "app",
            SourceKind::Strap => "strap",
            SourceKind::Browser => "browser",
            SourceKind::Sim => "simulated",
            SourceKind::Unknown => "unknown",
        }
    }
}

/// One participant, known only by slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantData {
    /// 1-based, in joining order.
    pub slot: u32,
    pub source: SourceKind,
    pub research_consent: bool,
    pub joined_at_ms: i64,
    pub left_at_ms: Option<i64>,
    /// Their scores, oldest first.
    pub metrics: Vec<MetricRow>,
    /// Where their beats were and where they stopped (empty for score-only participants).
    pub beats: BeatCoverage,
    /// Their mean pairwise synchrony strength in each synchrony round they took part in,
    /// oldest first.
    pub synchrony_strength: Vec<StrengthPoint>,
}

/// One stored score of one participant (a 5-second hub result or a client's own score).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub at_ms: i64,
    /// 0–100.
    pub score: f64,
    pub source: ScoreSource,
    /// The hub's algorithm version (`synchub-coherence/1`); `None` for client scores.
    pub algorithm: Option<String>,
    pub breaths_per_min: Option<f64>,
    pub artifact_fraction: Option<f64>,
    pub quality: Quality,
}

/// Which side computed a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreSource {
    Hub,
    Client,
}

/// A score's quality flag (coherence.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Good,
    /// Too many corrections or too little coverage: left out of group figures, as live.
    Low,
    /// Computed over 32–64 s of beats; counts like a good score.
    WarmingUp,
}

/// Where a participant's beats were.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeatCoverage {
    pub beats: u64,
    pub first_ms: Option<f64>,
    pub last_ms: Option<f64>,
    /// Stretches longer than [`GAP_MS`] without a beat, oldest first.
    pub gaps: Vec<Gap>,
}

/// A pause between two consecutive beats (or scores) longer than this is a gap.
pub const GAP_MS: f64 = 10_000.0;

impl BeatCoverage {
    /// Coverage of beats given by their times (any order).
    pub fn from_beat_times(times_ms: &[f64]) -> Self {
        let mut sorted = times_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            beats: sorted.len() as u64,
            first_ms: sorted.first().copied(),
            last_ms: sorted.last().copied(),
            gaps: gaps_between(&sorted),
        }
    }

    /// Milliseconds between the first and the last beat, less the gaps.
    pub fn data_ms(&self) -> f64 {
        self.data_ms_within(f64::NEG_INFINITY, f64::INFINITY)
    }

    /// [`BeatCoverage::data_ms`] counting only the time inside `[from_ms, to_ms]` (beats a
    /// phone sent from before the session, for instance, are not the session's data).
    pub fn data_ms_within(&self, from_ms: f64, to_ms: f64) -> f64 {
        let (Some(first), Some(last)) = (self.first_ms, self.last_ms) else {
            return 0.0;
        };
        let (first, last) = (first.max(from_ms), last.min(to_ms));
        if last <= first {
            return 0.0;
        }
        let gaps: f64 = self
            .gaps
            .iter()
            .map(|gap| (gap.end_ms.min(last) - gap.start_ms.max(first)).max(0.0))
            .sum();
        (last - first - gaps).max(0.0)
    }
}

/// The gaps longer than [`GAP_MS`] between consecutive sorted times.
pub fn gaps_between(sorted_ms: &[f64]) -> Vec<Gap> {
    sorted_ms
        .windows(2)
        .filter(|pair| pair[1] - pair[0] > GAP_MS)
        .map(|pair| Gap {
            start_ms: pair[0],
            end_ms: pair[1],
        })
        .collect()
}

/// A stretch without data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    pub start_ms: f64,
    pub end_ms: f64,
}

impl Gap {
    pub fn length_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

/// One participant's mean pairwise synchrony strength in one round (coherence.md §6:
/// `strength = (max(correlation, 0) + plv) / 2`, averaged over their pairs in that round).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrengthPoint {
    pub at_ms: i64,
    pub mean_strength: f64,
}

/// One synchrony round of the room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynchronyRound {
    pub at_ms: i64,
    /// Participants whose beats covered the round's window.
    pub participants: u32,
    /// Kuramoto group index, 0–1.
    pub index: f64,
    /// The same index on circularly shifted (surrogate) series: the chance level.
    pub surrogate_index: f64,
}

/// The pacer from `at_ms` on: a rate, or switched off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerSetting {
    pub at_ms: i64,
    /// `None`: the pacer was switched off.
    pub breaths_per_min: Option<f64>,
}

impl SessionData {
    /// The same session restricted to participants who consented to research use, for copies
    /// that leave the hub. Room-level figures that cannot be split by person (the synchrony
    /// index of a round) stay as they are.
    pub fn consented_only(&self) -> SessionData {
        SessionData {
            participants: self
                .participants
                .iter()
                .filter(|participant| participant.research_consent)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_with_data_leaves_out_gaps_and_what_lies_outside_the_range() {
        // Beats every second from 0 to 100 s, none from 40 to 60 s.
        let times: Vec<f64> = (0..=100)
            .filter(|s| !(41..60).contains(s))
            .map(|s| f64::from(s) * 1000.0)
            .collect();
        let coverage = BeatCoverage::from_beat_times(&times);
        assert_eq!(
            coverage.gaps,
            [Gap {
                start_ms: 40_000.0,
                end_ms: 60_000.0
            }]
        );
        assert_eq!(coverage.data_ms(), 80_000.0);
        assert_eq!(coverage.data_ms_within(10_000.0, 50_000.0), 30_000.0);
        assert_eq!(coverage.data_ms_within(200_000.0, 300_000.0), 0.0);
        assert_eq!(BeatCoverage::default().data_ms(), 0.0);
    }
}
