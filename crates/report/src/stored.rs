//! A report as the store keeps it for central sync and the research export: the figures a
//! researcher cites as columns (`research.session_summary` centrally), and the whole JSON twin.
//!
//! Every column is read off the [`Report`] here, so a stored summary and the JSON it travels
//! with cannot disagree.

use serde::Serialize;
use synchub_session::ids::SessionId;
use synchub_store::{ChangeSummary, SessionReportRow};

use crate::input::ScoreSource;
use crate::report::{ChangeStats, Report};

impl Report {
    /// The row `session_reports` keeps of this report of `session_id`. Build the report from
    /// consented participants only ([`crate::SessionData::load_consented`]): the row leaves the
    /// hub.
    pub fn stored_row(&self, session_id: SessionId) -> SessionReportRow {
        let mut algorithms: Vec<&str> = self
            .overview
            .algorithms
            .iter()
            .filter(|count| count.source == ScoreSource::Hub)
            .filter_map(|count| count.algorithm.as_deref())
            .collect();
        algorithms.sort_unstable();
        algorithms.dedup();
        let windows = self.change.windows;
        SessionReportRow {
            session_id,
            report_schema: self.schema.to_owned(),
            algorithms: (!algorithms.is_empty()).then(|| algorithms.join(",")),
            participants: self.overview.participants.joined,
            participants_with_data: self.overview.participants.with_data,
            baseline_window: windows.map(|windows| snake_case(&windows.baseline.kind)),
            end_window: windows.map(|windows| snake_case(&windows.end.kind)),
            coherence: summary(&self.change.coherence),
            synchrony: summary(&self.change.synchrony),
            synchrony_active_share_above_surrogate: self.synchrony.active_share_above_surrogate_p95,
            report_json: self.to_json(),
        }
    }
}

fn summary(stats: &ChangeStats) -> ChangeSummary {
    ChangeSummary {
        n: u32::try_from(stats.participants.len()).unwrap_or(u32::MAX),
        median_change: stats.median_change,
        ci_low: stats.median_change_ci.map(|interval| interval.low),
        ci_high: stats.median_change_ci.map(|interval| interval.high),
        p_value: stats.test.as_ref().map(|test| test.p_value),
        effect_size: stats.test.as_ref().map(|test| test.rank_biserial),
    }
}

/// An enumeration's name as the JSON spells it.
fn snake_case(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}
