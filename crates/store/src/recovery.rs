//! Finding the session a crash interrupted, and closing one properly.
//!
//! A session whose `ended_at_ms` is still NULL when the store opens was running when the hub
//! died. The store hands it to the hub as a [`RecoveredSession`]: the hub either gives it back to
//! the engine (same session id; participants rejoin with their resume tokens and keep their
//! participant ids) or, when its slot has passed, closes it with [`crate::Store::close_interrupted`],
//! which computes the summary from what was stored. The recovered state is the engine's own
//! `RestoredSession`, so the hub passes it to `Engine::restore` unchanged.

use rusqlite::{Connection, OptionalExtension as _, params};
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{ParticipantRow, Phase, ScheduleMode, SessionRow, SessionSummary};
use synchub_session::{RestoredParticipant, RestoredSession};

use crate::{Error, codes};

/// A session that was running when the hub stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredSession {
    /// What `Engine::restore` takes: the session row, its current phase, and the participants
    /// that had not left (with their resume tokens and already durable batch seqs).
    pub restored: RestoredSession,
    /// The latest instant anything of this session was stored (beats, metrics, snapshots,
    /// phase changes): the natural end time when closing a session nobody resumed.
    pub last_activity_ms: i64,
}

impl RecoveredSession {
    pub fn session_id(&self) -> SessionId {
        self.restored.session.session_id
    }

    /// When the session is expected to end: the planned end, or later if the current phase
    /// was extended beyond it.
    pub fn expected_end_ms(&self) -> i64 {
        self.restored
            .session
            .planned_end_ms
            .max(self.restored.phase_ends_at_ms)
    }

    /// True when, at `now_ms`, the session should be closed rather than resumed.
    pub fn has_ended_by(&self, now_ms: i64) -> bool {
        now_ms >= self.expected_end_ms()
    }
}

/// Every session with no end, oldest first.
pub(crate) fn interrupted_sessions(
    connection: &Connection,
) -> Result<Vec<RecoveredSession>, Error> {
    let mut statement = connection.prepare(
        "SELECT id, session_id, mode, slot_start_ms, started_at_ms, preparation_secs, \
         active_secs, integration_secs, planned_end_ms, phase, phase_started_at_ms, \
         phase_ends_at_ms FROM sessions WHERE ended_at_ms IS NULL ORDER BY started_at_ms, id",
    )?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, i64>(4)?,
                (
                    row.get::<_, u32>(5)?,
                    row.get::<_, u32>(6)?,
                    row.get::<_, u32>(7)?,
                ),
                row.get::<_, i64>(8)?,
                row.get::<_, String>(9)?,
                row.get::<_, i64>(10)?,
                row.get::<_, Option<i64>>(11)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut sessions = Vec::with_capacity(rows.len());
    for (id, session_id, mode, slot, started, secs, planned_end, phase, phase_at, phase_end) in rows
    {
        let session = SessionRow {
            session_id: SessionId(parse_uuid(&session_id)?),
            mode: codes::mode_from(&mode).unwrap_or(ScheduleMode::Manual),
            slot_start_ms: slot,
            started_at_ms: started,
            preparation_secs: secs.0,
            active_secs: secs.1,
            integration_secs: secs.2,
            planned_end_ms: planned_end,
        };
        let last_activity_ms = last_activity_ms(connection, id)?.max(phase_at).max(started);
        let joined_total: u32 = connection.query_row(
            "SELECT count(*) FROM session_participants WHERE session_ref = ?1",
            [id],
            |row| row.get(0),
        )?;
        let participants = open_participants(connection, id, session.session_id)?;
        sessions.push(RecoveredSession {
            restored: RestoredSession {
                phase: codes::phase_from(&phase).unwrap_or(Phase::Preparation),
                phase_started_at_ms: phase_at,
                // Only a completed session has no phase end, and completed ones are not here.
                phase_ends_at_ms: phase_end.unwrap_or(planned_end),
                session,
                participants,
                joined_total,
            },
            last_activity_ms,
        });
    }
    Ok(sessions)
}

fn last_activity_ms(connection: &Connection, session: i64) -> Result<i64, Error> {
    let latest: Option<f64> = connection.query_row(
        "SELECT max(t) FROM ( \
           SELECT max(at_ms) AS t FROM group_coherence_snapshots WHERE session_ref = ?1 \
           UNION ALL SELECT max(m.at_ms) FROM hrv_metrics m \
             JOIN session_participants p ON p.id = m.participant_ref WHERE p.session_ref = ?1 \
           UNION ALL SELECT max(r.time_ms) FROM rr_intervals r \
             JOIN session_participants p ON p.id = r.participant_ref WHERE p.session_ref = ?1)",
        [session],
        |row| row.get(0),
    )?;
    // Beat times carry sub-millisecond fractions; the floor is the millisecond they fall in.
    Ok(latest.map_or(i64::MIN, |ms| ms.floor() as i64))
}

fn open_participants(
    connection: &Connection,
    session: i64,
    session_id: SessionId,
) -> Result<Vec<RestoredParticipant>, Error> {
    let mut statement = connection.prepare(
        "SELECT p.id, p.participant_id, p.pseudonym, p.intention, p.research_consent, p.device, \
         p.joined_at_ms, p.resume_token FROM session_participants p \
         WHERE p.session_ref = ?1 AND p.left_at_ms IS NULL ORDER BY p.id",
    )?;
    let rows = statement
        .query_map([session], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, Option<Vec<u8>>>(7)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut seqs = connection.prepare(
        "SELECT DISTINCT batch_seq FROM rr_intervals \
         WHERE participant_ref = ?1 AND batch_seq IS NOT NULL ORDER BY batch_seq",
    )?;
    let mut participants = Vec::with_capacity(rows.len());
    for (row_id, id, pseudonym, intention, consent, device, joined, token) in rows {
        let durable_seqs = seqs
            .query_map([row_id], |row| row.get::<_, i64>(0))?
            .map(|seq| Ok(u64::try_from(seq?).unwrap_or(0)))
            .collect::<Result<Vec<u64>, Error>>()?;
        let resume_token = token
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .map(ResumeToken)
            .ok_or(Error::CorruptRow(
                "a running session's participant has no resume token",
            ))?;
        participants.push(RestoredParticipant {
            row: ParticipantRow {
                session_id,
                participant_id: ParticipantId(parse_uuid(&id)?),
                pseudonym,
                intention: intention.as_deref().map(codes::intention_from),
                research_consent: consent,
                device: codes::device_from(&device),
                joined_at_ms: joined,
                resume_token,
            },
            durable_seqs,
        });
    }
    Ok(participants)
}

/// The summary of an interrupted session, computed from its stored snapshots (one per second
/// at the engine's 1 Hz tick, so a snapshot counts as one second in its coherence band).
pub(crate) fn close_interrupted(
    connection: &Connection,
    session_id: SessionId,
    ended_at_ms: i64,
) -> Result<SessionSummary, Error> {
    let session: (i64, i64) = connection
        .query_row(
            "SELECT id, started_at_ms FROM sessions WHERE session_id = ?1 AND ended_at_ms IS NULL",
            [session_id.0.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .ok_or(Error::UnknownSession(session_id))?;
    let (id, started_at_ms) = session;
    let participants: u32 = connection.query_row(
        "SELECT count(*) FROM session_participants WHERE session_ref = ?1",
        [id],
        |row| row.get(0),
    )?;
    let (average, peak, secs_low, secs_medium, secs_high) = connection.query_row(
        "SELECT avg(average_coherence), max(average_coherence), \
         total(coherence_phase = 'low'), total(coherence_phase = 'medium'), \
         total(coherence_phase = 'high') FROM group_coherence_snapshots WHERE session_ref = ?1",
        [id],
        |row| {
            Ok((
                row.get::<_, Option<f64>>(0)?,
                row.get::<_, Option<f64>>(1)?,
                row.get::<_, f64>(2)?,
                row.get::<_, f64>(3)?,
                row.get::<_, f64>(4)?,
            ))
        },
    )?;
    let average_synchrony: Option<f64> = connection.query_row(
        "SELECT avg(synchrony_index) FROM synchrony_rounds WHERE session_ref = ?1",
        [id],
        |row| row.get(0),
    )?;
    // Participants still present get their peak from their stored metrics.
    connection.execute(
        "UPDATE session_participants SET peak_coherence = \
         (SELECT max(score) FROM hrv_metrics WHERE participant_ref = session_participants.id) \
         WHERE session_ref = ?1 AND left_at_ms IS NULL",
        params![id],
    )?;
    Ok(SessionSummary {
        duration_ms: (ended_at_ms - started_at_ms).max(0),
        participants,
        average_coherence: average,
        peak_coherence: peak,
        secs_low,
        secs_medium,
        secs_high,
        average_synchrony,
    })
}

pub(crate) fn parse_uuid(text: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(text).map_err(|_| Error::CorruptRow("a stored id is not a UUID"))
}
