//! The writer thread's maintenance writes, each in a transaction of its own: erasing a
//! participant (with the tombstone central sync carries), closing a session a stop of the hub
//! interrupted, and logging an export. They travel through the same queue as the records, so
//! they are ordered with them (see the parent module).

use synchub_session::ids::SessionId;
use synchub_session::record::SessionSummary;

use super::rows::RowWriter;
use crate::Error;

/// The result of erasing one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErasureReport {
    pub participant_rows: u64,
    pub beat_rows: u64,
    pub metric_rows: u64,
    pub pair_rows: u64,
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
        let count = |sql: &str| -> Result<u64, Error> {
            let rows: i64 = self
                .connection
                .query_row(sql, [pseudonym], |row| row.get(0))?;
            Ok(u64::try_from(rows).unwrap_or(0))
        };
        const MINE: &str = "(SELECT id FROM session_participants WHERE pseudonym = ?1)";
        let report = ErasureReport {
            participant_rows: count(
                "SELECT count(*) FROM session_participants WHERE pseudonym = ?1",
            )?,
            beat_rows: count(&format!(
                "SELECT count(*) FROM rr_intervals WHERE participant_ref IN {MINE}"
            ))?,
            metric_rows: count(&format!(
                "SELECT count(*) FROM hrv_metrics WHERE participant_ref IN {MINE}"
            ))?,
            pair_rows: count(&format!(
                "SELECT count(*) FROM synchronization_pairs WHERE participant_a_ref IN {MINE} \
                 OR participant_b_ref IN {MINE}"
            ))?,
        };
        // ON DELETE CASCADE removes the beats, metrics and pairs with the participant rows.
        self.connection.execute(
            "DELETE FROM session_participants WHERE pseudonym = ?1",
            [pseudonym],
        )?;
        self.connection
            .execute("DELETE FROM users WHERE pseudonym = ?1", [pseudonym])?;
        self.insert_row(
            "erasures",
            &[
                ("pseudonym", &pseudonym),
                ("erased_at_ms", &at_ms),
                ("participant_rows", &signed(report.participant_rows)),
                ("beat_rows", &signed(report.beat_rows)),
                ("metric_rows", &signed(report.metric_rows)),
                ("pair_rows", &signed(report.pair_rows)),
            ],
        )?;
        Ok(report)
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
