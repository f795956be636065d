//! Read-only queries for the HTTP API and the CLI, on a connection of their own.
//!
//! WAL mode lets any number of readers see the last committed state while the writer thread
//! keeps writing; a `Reader` is cheap to open, so a request handler can open one per call or
//! keep a few.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, Row};
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{DeviceKind, IntentionCategory, Phase, ScheduleMode, SessionSummary};

use crate::recovery::parse_uuid;
use crate::{Error, codes, schema};

/// A read-only connection to the store.
#[derive(Debug)]
pub struct Reader {
    connection: Connection,
}

/// A session as listed by the console.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOverview {
    pub session_id: SessionId,
    pub mode: ScheduleMode,
    pub slot_start_ms: Option<i64>,
    pub started_at_ms: i64,
    pub planned_end_ms: i64,
    /// `None` while it runs.
    pub ended_at_ms: Option<i64>,
    pub phase: Phase,
    /// True when the hub closed it at start-up after a crash.
    pub closed_on_recovery: bool,
    /// Everyone who joined so far.
    pub participants: u32,
    /// Present once the session completed.
    pub summary: Option<SessionSummary>,
}

/// One phase as it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub phase: Phase,
    pub started_at_ms: i64,
    pub ends_at_ms: Option<i64>,
}

/// A participant of a session, by pseudonym.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantOverview {
    pub participant_id: ParticipantId,
    pub pseudonym: String,
    pub intention: Option<IntentionCategory>,
    pub research_consent: bool,
    pub device: DeviceKind,
    pub joined_at_ms: i64,
    pub left_at_ms: Option<i64>,
    pub peak_coherence: Option<f64>,
    pub high_coherence_secs: Option<f64>,
    pub beats: u64,
}

/// A session with its phases and participants.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetail {
    pub overview: SessionOverview,
    pub phases: Vec<PhaseSpan>,
    pub participants: Vec<ParticipantOverview>,
}

/// Counts for the research page of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResearchStats {
    pub sessions: u64,
    pub completed_sessions: u64,
    pub participations: u64,
    pub consented_participations: u64,
    pub users: u64,
    pub consenting_users: u64,
    pub beats: u64,
    pub metrics: u64,
    pub group_snapshots: u64,
    pub erasures: u64,
    pub exports: u64,
    pub last_export_at_ms: Option<i64>,
}

const OVERVIEW_COLUMNS: &str = "s.session_id, s.mode, s.slot_start_ms, s.started_at_ms, \
    s.planned_end_ms, s.ended_at_ms, s.phase, s.closed_on_recovery, \
    (SELECT count(*) FROM session_participants p WHERE p.session_ref = s.id), \
    s.duration_ms, s.participant_count, s.average_coherence, s.peak_coherence, s.secs_low, \
    s.secs_medium, s.secs_high, s.average_synchrony";

impl Reader {
    /// Opens a read-only connection to an existing, migrated database.
    pub fn open(database_path: &Path) -> Result<Self, Error> {
        Ok(Self {
            connection: schema::open_for_reading(database_path)?,
        })
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The session that has not ended, if any (the newest, should there be several).
    pub fn running_session(&self) -> Result<Option<SessionOverview>, Error> {
        let sql = format!(
            "SELECT {OVERVIEW_COLUMNS} FROM sessions s WHERE s.ended_at_ms IS NULL \
             ORDER BY s.started_at_ms DESC, s.id DESC LIMIT 1"
        );
        self.connection
            .query_row(&sql, [], overview_from_row)
            .optional()?
            .transpose()
    }

    /// The newest `limit` sessions, newest first, with their summaries.
    pub fn recent_sessions(&self, limit: u32) -> Result<Vec<SessionOverview>, Error> {
        let sql = format!(
            "SELECT {OVERVIEW_COLUMNS} FROM sessions s \
             ORDER BY s.started_at_ms DESC, s.id DESC LIMIT ?1"
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement
            .query_map([limit], overview_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// One session with its phases and participants.
    pub fn session(&self, session_id: SessionId) -> Result<Option<SessionDetail>, Error> {
        let sql = format!("SELECT {OVERVIEW_COLUMNS} FROM sessions s WHERE s.session_id = ?1");
        let Some(overview) = self
            .connection
            .query_row(&sql, [session_id.0.to_string()], overview_from_row)
            .optional()?
            .transpose()?
        else {
            return Ok(None);
        };
        let mut statement = self.connection.prepare(
            "SELECT ph.phase, ph.started_at_ms, ph.ends_at_ms FROM session_phases ph \
             JOIN sessions s ON s.id = ph.session_ref WHERE s.session_id = ?1 \
             ORDER BY ph.started_at_ms, ph.id",
        )?;
        let phases = statement
            .query_map([session_id.0.to_string()], |row| {
                Ok(PhaseSpan {
                    phase: codes::phase_from(&row.get::<_, String>(0)?)
                        .unwrap_or(Phase::Preparation),
                    started_at_ms: row.get(1)?,
                    ends_at_ms: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(SessionDetail {
            overview,
            phases,
            participants: self.participants(session_id)?,
        }))
    }

    /// The participants of one session, in joining order.
    pub fn participants(&self, session_id: SessionId) -> Result<Vec<ParticipantOverview>, Error> {
        let mut statement = self.connection.prepare(
            "SELECT p.participant_id, p.pseudonym, p.intention, p.research_consent, p.device, \
             p.joined_at_ms, p.left_at_ms, p.peak_coherence, p.high_coherence_secs, \
             (SELECT count(*) FROM rr_intervals r WHERE r.participant_ref = p.id) \
             FROM session_participants p JOIN sessions s ON s.id = p.session_ref \
             WHERE s.session_id = ?1 ORDER BY p.joined_at_ms, p.id",
        )?;
        let rows = statement
            .query_map([session_id.0.to_string()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, Option<i64>>(6)?,
                    row.get::<_, Option<f64>>(7)?,
                    row.get::<_, Option<f64>>(8)?,
                    count(row, 9)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(id, pseudonym, intention, consent, device, joined, left, peak, high, beats)| {
                    Ok(ParticipantOverview {
                        participant_id: ParticipantId(parse_uuid(&id)?),
                        pseudonym,
                        intention: intention.as_deref().map(codes::intention_from),
                        research_consent: consent,
                        device: codes::device_from(&device),
                        joined_at_ms: joined,
                        left_at_ms: left,
                        peak_coherence: peak,
                        high_coherence_secs: high,
                        beats,
                    })
                },
            )
            .collect()
    }

    /// Counts over the whole store.
    pub fn research_stats(&self) -> Result<ResearchStats, Error> {
        Ok(self.connection.query_row(
            "SELECT (SELECT count(*) FROM sessions), \
             (SELECT count(*) FROM sessions WHERE ended_at_ms IS NOT NULL), \
             (SELECT count(*) FROM session_participants), \
             (SELECT count(*) FROM session_participants WHERE research_consent = 1), \
             (SELECT count(*) FROM users), \
             (SELECT count(*) FROM users WHERE research_consent = 1), \
             (SELECT count(*) FROM rr_intervals), (SELECT count(*) FROM hrv_metrics), \
             (SELECT count(*) FROM group_coherence_snapshots), (SELECT count(*) FROM erasures), \
             (SELECT count(*) FROM research_exports), \
             (SELECT max(created_at_ms) FROM research_exports)",
            [],
            |row| {
                Ok(ResearchStats {
                    sessions: count(row, 0)?,
                    completed_sessions: count(row, 1)?,
                    participations: count(row, 2)?,
                    consented_participations: count(row, 3)?,
                    users: count(row, 4)?,
                    consenting_users: count(row, 5)?,
                    beats: count(row, 6)?,
                    metrics: count(row, 7)?,
                    group_snapshots: count(row, 8)?,
                    erasures: count(row, 9)?,
                    exports: count(row, 10)?,
                    last_export_at_ms: row.get(11)?,
                })
            },
        )?)
    }
}

fn overview_from_row(row: &Row<'_>) -> rusqlite::Result<Result<SessionOverview, Error>> {
    let session_id: String = row.get(0)?;
    let mode: String = row.get(1)?;
    let phase: String = row.get(6)?;
    let ended_at_ms: Option<i64> = row.get(5)?;
    let duration_ms: Option<i64> = row.get(9)?;
    let summary = match (ended_at_ms, duration_ms) {
        (Some(_), Some(duration_ms)) => Some(SessionSummary {
            duration_ms,
            participants: row.get::<_, Option<u32>>(10)?.unwrap_or(0),
            average_coherence: row.get(11)?,
            peak_coherence: row.get(12)?,
            secs_low: row.get::<_, Option<f64>>(13)?.unwrap_or(0.0),
            secs_medium: row.get::<_, Option<f64>>(14)?.unwrap_or(0.0),
            secs_high: row.get::<_, Option<f64>>(15)?.unwrap_or(0.0),
            average_synchrony: row.get(16)?,
        }),
        _ => None,
    };
    let slot_start_ms = row.get(2)?;
    let started_at_ms = row.get(3)?;
    let planned_end_ms = row.get(4)?;
    let closed_on_recovery = row.get(7)?;
    let participants = row.get(8)?;
    Ok(parse_uuid(&session_id).map(|uuid| SessionOverview {
        session_id: SessionId(uuid),
        mode: codes::mode_from(&mode).unwrap_or(ScheduleMode::Manual),
        slot_start_ms,
        started_at_ms,
        planned_end_ms,
        ended_at_ms,
        phase: codes::phase_from(&phase).unwrap_or(Phase::Preparation),
        closed_on_recovery,
        participants,
        summary,
    }))
}

/// SQLite integers are signed; counts are never negative.
fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
}
