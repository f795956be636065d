//! The writer thread's maintenance writes, each in a transaction of its own: erasing a
//! participant (with the tombstone central sync carries, and without the session reports made
//! from their data), closing a session a stop of the hub interrupted, storing a session's
//! report, and logging an export. They travel through the same queue as the records, so
//! they are ordered with them (see the parent module).

use rusqlite::{OptionalExtension as _, params};
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::SessionSummary;

use super::rows::RowWriter;
use crate::Error;

/// The result of erasing one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureReport {
    pub participant_rows: u64,
    pub beat_rows: u64,
    pub metric_rows: u64,
    pub pair_rows: u64,
}

/// The one session row a participant's own erasure reaches.
struct TombstoneScope {
    /// The local (and central) id of the session row.
    session_ref: i64,
    participant_id: ParticipantId,
}

/// One line of `research_exports`.
#[derive(Debug, Clone)]
pub(crate) struct ExportLogEntry {
    pub export_id: uuid::Uuid,
    pub created_at_ms: i64,
    pub scope: &'static str,
    pub format: &'static str,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub out_dir: String,
    pub sessions: u64,
    pub participants: u64,
    pub beat_rows: u64,
    pub total_rows: u64,
}

impl RowWriter {
    /// Deletes every row of `pseudonym` and records the tombstone central sync carries.
    pub(super) fn erase(&mut self, pseudonym: &str, at_ms: i64) -> Result<ErasureReport, Error> {
        const MINE: &str = "SELECT id FROM session_participants WHERE pseudonym = ?1";
        let report = self.count_erased(MINE, params![pseudonym])?;
        crate::session_reports::delete_made_from(&self.connection, MINE, params![pseudonym])?;
        // ON DELETE CASCADE removes the beats, metrics and pairs with the participant rows.
        self.connection.execute(
            "DELETE FROM session_participants WHERE pseudonym = ?1",
            [pseudonym],
        )?;
        self.connection
            .execute("DELETE FROM users WHERE pseudonym = ?1", [pseudonym])?;
        self.record_tombstone(pseudonym, None, at_ms, &report)?;
        Ok(report)
    }

    /// Deletes the rows of one participant of one session (not the other sessions of their
    /// pseudonym) and records a tombstone scoped to that session row for central sync. The
    /// pseudonym's `users` row goes only with its last session.
    pub(super) fn erase_in_session(
        &mut self,
        session_id: SessionId,
        participant_id: ParticipantId,
        at_ms: i64,
    ) -> Result<ErasureReport, Error> {
        let row: Option<(i64, i64, String)> = self
            .connection
            .query_row(
                "SELECT p.id, p.session_ref, p.pseudonym FROM session_participants p \
                 JOIN sessions s ON s.id = p.session_ref \
                 WHERE s.session_id = ?1 AND p.participant_id = ?2",
                params![session_id.0.to_string(), participant_id.0.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((participant_ref, session_ref, pseudonym)) = row else {
            return Ok(ErasureReport::default());
        };
        let report = self.count_erased("SELECT ?1", params![participant_ref])?;
        crate::session_reports::delete_made_from(
            &self.connection,
            "SELECT ?1",
            params![participant_ref],
        )?;
        self.connection.execute(
            "DELETE FROM session_participants WHERE id = ?1",
            [participant_ref],
        )?;
        self.connection.execute(
            "DELETE FROM users WHERE pseudonym = ?1 AND NOT EXISTS \
             (SELECT 1 FROM session_participants WHERE pseudonym = ?1)",
            [&pseudonym],
        )?;
        let scope = TombstoneScope {
            session_ref,
            participant_id,
        };
        self.record_tombstone(&pseudonym, Some(scope), at_ms, &report)?;
        Ok(report)
    }

    /// What deleting the participant rows selected by `mine` (a `SELECT id` over
    /// `session_participants` with `parameters`) removes, counted before the delete.
    fn count_erased(
        &self,
        mine: &str,
        parameters: &[&dyn rusqlite::ToSql],
    ) -> Result<ErasureReport, Error> {
        let count = |sql: &str| -> Result<u64, Error> {
            let rows: i64 = self
                .connection
                .query_row(sql, parameters, |row| row.get(0))?;
            Ok(u64::try_from(rows).unwrap_or(0))
        };
        Ok(ErasureReport {
            participant_rows: count(&format!(
                "SELECT count(*) FROM session_participants WHERE id IN ({mine})"
            ))?,
            beat_rows: count(&format!(
                "SELECT count(*) FROM rr_intervals WHERE participant_ref IN ({mine})"
            ))?,
            metric_rows: count(&format!(
                "SELECT count(*) FROM hrv_metrics WHERE participant_ref IN ({mine})"
            ))?,
            pair_rows: count(&format!(
                "SELECT count(*) FROM synchronization_pairs WHERE participant_a_ref IN ({mine}) \
                 OR participant_b_ref IN ({mine})"
            ))?,
        })
    }

    /// The tombstone central sync carries: without a scope, every row of the pseudonym that
    /// existed then; with one, only that session's participant row and what hangs off it.
    fn record_tombstone(
        &self,
        pseudonym: &str,
        scope: Option<TombstoneScope>,
        at_ms: i64,
        report: &ErasureReport,
    ) -> Result<(), Error> {
        let session_ref = scope.as_ref().map(|scope| scope.session_ref);
        let participant_id = scope.map(|scope| scope.participant_id.0.to_string());
        self.insert_row(
            "erasures",
            &[
                ("pseudonym", &pseudonym),
                ("erased_at_ms", &at_ms),
                ("session_ref", &session_ref),
                ("participant_id", &participant_id),
                ("participant_rows", &signed(report.participant_rows)),
                ("beat_rows", &signed(report.beat_rows)),
                ("metric_rows", &signed(report.metric_rows)),
                ("pair_rows", &signed(report.pair_rows)),
            ],
        )?;
        Ok(())
    }

    /// Closes a session a stop of the hub interrupted, as the engine would have (summary from
    /// the stored group snapshots, see `recovery`), marking it closed on recovery.
    pub(super) fn close_interrupted(
        &mut self,
        session_id: SessionId,
        ended_at_ms: i64,
    ) -> Result<SessionSummary, Error> {
        let summary =
            crate::recovery::close_interrupted(&self.connection, session_id, ended_at_ms)?;
        self.session_completed(session_id, ended_at_ms, &summary, true)?;
        Ok(summary)
    }

    /// Stores a session's report (see `session_reports`).
    pub(super) fn save_report(
        &self,
        row: &crate::SessionReportRow,
        created_at_ms: i64,
    ) -> Result<crate::SavedReport, Error> {
        crate::session_reports::insert(&self.connection, row, created_at_ms)
    }

    /// Logs an export in `research_exports`.
    pub(super) fn log_export(&self, entry: &ExportLogEntry) -> Result<(), Error> {
        self.insert_row(
            "research_exports",
            &[
                ("export_id", &entry.export_id.to_string()),
                ("created_at_ms", &entry.created_at_ms),
                ("scope", &entry.scope),
                ("format", &entry.format),
                ("from_ms", &entry.from_ms),
                ("to_ms", &entry.to_ms),
                ("out_dir", &entry.out_dir),
                ("sessions", &signed(entry.sessions)),
                ("participants", &signed(entry.participants)),
                ("beat_rows", &signed(entry.beat_rows)),
                ("total_rows", &signed(entry.total_rows)),
            ],
        )?;
        Ok(())
    }
}

/// SQLite stores signed integers; row counts never come near `i64::MAX`.
fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
