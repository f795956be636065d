//! One participant's own view of a session, for their join page: their coherence curve, the
//! room's median curve, the phases, and their change from baseline beside the room's.
//!
//! It is cut from the session's [`Report`] (the same grid, windows and rules, so a participant
//! and the facilitator read the same numbers) plus the participant's own scores. It holds no
//! other participant's data: the room appears only as medians, and a median is withheld where
//! fewer than [`MIN_ROOM_PARTICIPANTS`] people make it up — with one other person, knowing your
//! own score and the median (then the mean of two) would give away theirs.

use crate::figures::{Timeline, counts};
use crate::input::SessionData;
use crate::report::{ChangeWindows, ExclusionReason, PhaseSpan, Report};

/// The room's median is shown only where at least this many participants make it up.
pub const MIN_ROOM_PARTICIPANTS: u32 = 3;

/// What one participant sees of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonalReport {
    pub started_at_ms: i64,
    /// `None` while the session runs.
    pub ended_at_ms: Option<i64>,
    pub phases: Vec<PhaseSpan>,
    /// False when the participant has no counting score in the session (a browser without a
    /// strap, say): they see the room's curve only.
    pub had_heart_data: bool,
    /// Their counting scores inside the session (low-quality ones never count), oldest first.
    pub own: Vec<OwnScore>,
    /// The room on the report's grid.
    pub room: Vec<RoomPoint>,
    pub change: PersonalChange,
}

/// One of the participant's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnScore {
    pub at_secs: f64,
    pub score: f64,
}

/// The room at one grid point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomPoint {
    pub at_secs: f64,
    /// Participants with a fresh, counting score at this point.
    pub active: u32,
    /// Their median; `None` when fewer than [`MIN_ROOM_PARTICIPANTS`] were active.
    pub median: Option<f64>,
}

/// The participant's change from baseline, beside the room's.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonalChange {
    /// The report's windows; `None` when the session had no active phase to compare.
    pub windows: Option<ChangeWindows>,
    /// Their mean coherence in each window and the difference, when they had enough data in
    /// both.
    pub own: Option<OwnChange>,
    /// Why they were not compared, when they had scores but not enough in a window.
    pub own_excluded: Option<ExclusionReason>,
    /// The median change across compared participants; `None` when fewer than
    /// [`MIN_ROOM_PARTICIPANTS`] were compared.
    pub room_median_change: Option<f64>,
    /// How many participants the room's change is over.
    pub room_compared: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnChange {
    pub baseline: f64,
    pub end: f64,
    pub change: f64,
}

impl Report {
    /// The view of participant `slot` (as in this report) of the session this report was
    /// built from. A slot that is not in `data` gets the room's figures only.
    pub fn personal(&self, data: &SessionData, slot: u32) -> PersonalReport {
        let timeline = Timeline::of(data);
        let participant = data.participants.iter().find(|p| p.slot == slot);
        let own: Vec<OwnScore> = participant
            .into_iter()
            .flat_map(|participant| participant.metrics.iter())
            .filter(|row| counts(row) && (timeline.start_ms..=timeline.end_ms).contains(&row.at_ms))
            .map(|row| OwnScore {
                at_secs: timeline.secs_of(row.at_ms),
                score: row.score,
            })
            .collect();
        let room = self
            .coherence
            .series
            .iter()
            .map(|point| RoomPoint {
                at_secs: point.at_secs,
                active: point.active,
                median: point
                    .median
                    .filter(|_| point.active >= MIN_ROOM_PARTICIPANTS),
            })
            .collect();
        let had_heart_data = !own.is_empty();
        let stats = &self.change.coherence;
        let room_compared = u32::try_from(stats.participants.len()).unwrap_or(u32::MAX);
        PersonalReport {
            started_at_ms: self.overview.started_at_ms,
            ended_at_ms: self.overview.ended_at_ms,
            phases: self.overview.phases.clone(),
            had_heart_data,
            own,
            room,
            change: PersonalChange {
                windows: self.change.windows,
                own: stats
                    .participants
                    .iter()
                    .find(|compared| compared.slot == slot)
                    .map(|compared| OwnChange {
                        baseline: compared.baseline,
                        end: compared.end,
                        change: compared.change,
                    }),
                own_excluded: stats
                    .excluded
                    .iter()
                    .find(|excluded| excluded.slot == slot)
                    .filter(|_| had_heart_data)
                    .map(|excluded| excluded.reason),
                room_median_change: stats
                    .median_change
                    .filter(|_| room_compared >= MIN_ROOM_PARTICIPANTS),
                room_compared,
            },
        }
    }
}
