//! Session reports kept for central sync and the research export (`session_reports`): the
//! figures a researcher cites as columns, and the whole report as JSON.
//!
//! The store does not compute reports (`synchub-report` does, from what this store holds); it
//! keeps what the hub hands it, through the writer like every other write. A report is made
//! from the participants who consented to research use, so a consented participant's erasure
//! deletes the reports of their sessions here (the hub builds them again without them), and a
//! report built from a roster that has changed since is refused as [`SavedReport::Outdated`].

use rusqlite::{Connection, OptionalExtension as _, params};
use synchub_session::ids::SessionId;

use crate::recovery::parse_uuid;
use crate::{Error, Reader};

/// One session's report as stored. `created_at_ms` is stamped by the writer when it stores the
/// row (on the same clock as erasures, which tells reports made before an erasure apart).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReportRow {
    pub session_id: SessionId,
    /// The report's schema (`synchub-report/1`).
    pub report_schema: String,
    /// The scoring algorithms behind its scores, comma-separated (`None`: only client scores).
    pub algorithms: Option<String>,
    /// Consented participants who joined (everyone the report is made from).
    pub participants: u32,
    pub participants_with_data: u32,
    /// Which baseline and end windows the change compares (`None`: no active phase).
    pub baseline_window: Option<String>,
    pub end_window: Option<String>,
    pub coherence: ChangeSummary,
    pub synchrony: ChangeSummary,
    /// Share of the active phase's synchrony rounds above the surrogates' 95th percentile.
    pub synchrony_active_share_above_surrogate: Option<f64>,
    /// The whole report (`docs/report.md`).
    pub report_json: String,
}

/// Baseline → end change across participants.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChangeSummary {
    /// Participants compared.
    pub n: u32,
    pub median_change: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Two-sided Wilcoxon signed-rank p-value.
    pub p_value: Option<f64>,
    /// Matched-pairs rank-biserial correlation.
    pub effect_size: Option<f64>,
}

/// What became of a report handed to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedReport {
    Saved,
    /// The session already has a report of this schema; it was kept.
    AlreadyStored,
    /// The session's consented participants changed since the report was built (an erasure,
    /// or the session had not ended): not stored; build it again.
    Outdated,
    /// No such session.
    UnknownSession,
}

impl Reader {
    /// The ended sessions without a stored report of `report_schema`, oldest first.
    pub fn sessions_without_report(&self, report_schema: &str) -> Result<Vec<SessionId>, Error> {
        let mut statement = self.connection().prepare(
            "SELECT s.session_id FROM sessions s WHERE s.ended_at_ms IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM session_reports r \
             WHERE r.session_ref = s.id AND r.report_schema = ?1) ORDER BY s.id",
        )?;
        let ids = statement
            .query_map([report_schema], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| parse_uuid(id).map(SessionId)).collect()
    }

    /// The stored report of a session (the newest, when there are several schemas).
    pub fn session_report(&self, session_id: SessionId) -> Result<Option<String>, Error> {
        Ok(self
            .connection()
            .query_row(
                "SELECT r.report_json FROM session_reports r \
                 JOIN sessions s ON s.id = r.session_ref WHERE s.session_id = ?1 \
                 ORDER BY r.id DESC LIMIT 1",
                [session_id.0.to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }
}

/// Stores `row` (in the writer's transaction) unless the session already has one of its schema
/// or its roster no longer matches.
pub(crate) fn insert(
    connection: &Connection,
    row: &SessionReportRow,
    created_at_ms: i64,
) -> Result<SavedReport, Error> {
    let session: Option<(i64, Option<i64>, i64)> = connection
        .query_row(
            "SELECT s.id, s.ended_at_ms, (SELECT count(*) FROM session_participants p \
             WHERE p.session_ref = s.id AND p.research_consent = 1) \
             FROM sessions s WHERE s.session_id = ?1",
            [row.session_id.0.to_string()],
            |found| Ok((found.get(0)?, found.get(1)?, found.get(2)?)),
        )
        .optional()?;
    let Some((session_ref, ended_at_ms, consented)) = session else {
        return Ok(SavedReport::UnknownSession);
    };
    if ended_at_ms.is_none() || consented != i64::from(row.participants) {
        return Ok(SavedReport::Outdated);
    }
    let (coherence, synchrony) = (&row.coherence, &row.synchrony);
    let inserted = connection
        .prepare_cached(
            "INSERT INTO session_reports (session_ref, report_schema, algorithms, \
             created_at_ms, participants, participants_with_data, baseline_window, end_window, \
             coherence_n, coherence_median_change, coherence_change_ci_low, \
             coherence_change_ci_high, coherence_p_value, coherence_effect_size, synchrony_n, \
             synchrony_median_change, synchrony_change_ci_low, synchrony_change_ci_high, \
             synchrony_p_value, synchrony_effect_size, synchrony_active_share_above_surrogate, \
             report_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
             ON CONFLICT (session_ref, report_schema) DO NOTHING",
        )?
        .execute(params![
            session_ref,
            row.report_schema,
            row.algorithms,
            created_at_ms,
            row.participants,
            row.participants_with_data,
            row.baseline_window,
            row.end_window,
            coherence.n,
            coherence.median_change,
            coherence.ci_low,
            coherence.ci_high,
            coherence.p_value,
            coherence.effect_size,
            synchrony.n,
            synchrony.median_change,
            synchrony.ci_low,
            synchrony.ci_high,
            synchrony.p_value,
            synchrony.effect_size,
            row.synchrony_active_share_above_surrogate,
            row.report_json,
        ])?;
    Ok(if inserted == 1 {
        SavedReport::Saved
    } else {
        SavedReport::AlreadyStored
    })
}

/// Deletes the reports made from the participant rows that `participants` (a `SELECT id` over
/// `session_participants`, with `parameters`) selects, where those participants consented (a
/// participant who did not is in no report). Run before those rows are erased.
pub(crate) fn delete_made_from(
    connection: &Connection,
    participants: &str,
    parameters: &[&dyn rusqlite::ToSql],
) -> Result<usize, Error> {
    Ok(connection.execute(
        &format!(
            "DELETE FROM session_reports WHERE session_ref IN \
             (SELECT p.session_ref FROM session_participants p \
              WHERE p.id IN ({participants}) AND p.research_consent = 1)"
        ),
        parameters,
    )?)
}
