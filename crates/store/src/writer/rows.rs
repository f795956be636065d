//! Record → rows: one function per kind of engine record, writing its rows with the writer
//! thread's connection inside the transaction the thread keeps open (see the parent module for
//! the queue, the batching and the commits).
//!
//! Per-beat inserts must not look anything up, so the row ids of sessions and participants are
//! cached here; whoever rolls back a transaction calls [`RowWriter::forget_row_ids`], because the
//! cached ids may point at rows the rollback removed.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, ToSql, params};
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{
    BeatBatch, GroupSnapshot, IntentionCategory, ParticipantClosed, ParticipantMetrics,
    ParticipantRow, Phase, Record, SessionRow, SessionSummary, SynchronyRound,
};

use crate::report_token::{REPORT_TOKEN_LIFETIME_MS, report_token_hash};
use crate::{Error, codes};

/// Beats per multi-row INSERT (5 parameters each, well under SQLite's parameter limit).
const BEATS_PER_INSERT: usize = 64;

/// Writes records as rows on the writer thread's connection.
pub(crate) struct RowWriter {
    pub(super) connection: Connection,
    /// Row ids of sessions and participants, so that per-beat inserts need no lookup query.
    sessions: HashMap<SessionId, i64>,
    participants: HashMap<(SessionId, ParticipantId), i64>,
    /// The SQL of a multi-row beat insert, by row count - 1.
    beat_inserts: Vec<String>,
}

impl RowWriter {
    pub(super) fn new(connection: Connection) -> Self {
        // Room for every multi-row beat insert plus the other statements.
        connection.set_prepared_statement_cache_capacity(128);
        Self {
            connection,
            sessions: HashMap::new(),
            participants: HashMap::new(),
            beat_inserts: beat_inserts(),
        }
    }

    /// Writes through `connection` from now on (after the writer reopened the database, or
    /// released its files with a placeholder while the disk fails).
    pub(super) fn use_connection(&mut self, connection: Connection) {
        connection.set_prepared_statement_cache_capacity(128);
        self.connection = connection;
        self.forget_row_ids();
    }

    /// Forgets every cached row id (after a rollback).
    pub(super) fn forget_row_ids(&mut self) {
        self.sessions.clear();
        self.participants.clear();
    }

    /// Forgets the cached participant ids (after an erasure removed some participants: later
    /// beats for them are rejected instead of pointing at deleted rows).
    pub(super) fn forget_participants(&mut self) {
        self.participants.clear();
    }

    /// Writes `record`'s rows; returns how many rows it wrote or changed.
    pub(super) fn apply(&mut self, record: &Record) -> Result<usize, Error> {
        match record {
            Record::SessionOpened(row) => self.session_opened(row),
            Record::PhaseChanged {
                session_id,
                phase,
                at_ms,
                ends_at_ms,
            } => self.phase_changed(*session_id, *phase, *at_ms, *ends_at_ms),
            Record::SessionCompleted {
                session_id,
                ended_at_ms,
                summary,
            } => self.session_completed(*session_id, *ended_at_ms, summary, false),
            Record::ParticipantJoined(row) => self.participant_joined(row),
            Record::ParticipantChanged {
                session_id,
                participant_id,
                intention,
                research_consent,
            } => self.participant_changed(
                *session_id,
                *participant_id,
                *intention,
                *research_consent,
            ),
            Record::ParticipantClosed(closed) => self.participant_closed(closed),
            Record::Beats(batch) => self.beats(batch),
            Record::Metrics(metrics) => self.metrics(metrics),
            Record::GroupSnapshot(snapshot) => self.group_snapshot(snapshot),
            Record::Synchrony(round) => self.synchrony(round),
        }
    }

    /// `INSERT INTO table (names…) VALUES (values…)`: the column names sit next to their values.
    /// Returns the new row's id.
    pub(super) fn insert_row(&self, table: &str, row: &[(&str, &dyn ToSql)]) -> Result<i64, Error> {
        let names: Vec<&str> = row.iter().map(|(name, _)| *name).collect();
        let placeholders: Vec<String> = (1..=row.len()).map(|index| format!("?{index}")).collect();
        let values: Vec<&dyn ToSql> = row.iter().map(|(_, value)| *value).collect();
        self.connection
            .prepare_cached(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            ))?
            .execute(values.as_slice())?;
        Ok(self.connection.last_insert_rowid())
    }

    fn session_ref(&mut self, session_id: SessionId) -> Result<i64, Error> {
        if let Some(id) = self.sessions.get(&session_id) {
            return Ok(*id);
        }
        let id = self
            .connection
            .prepare_cached("SELECT id FROM sessions WHERE session_id = ?1")?
            .query_row([session_id.0.to_string()], |row| row.get(0))
            .optional()?
            .ok_or(Error::UnknownSession(session_id))?;
        self.sessions.insert(session_id, id);
        Ok(id)
    }

    fn participant_ref(
        &mut self,
        session_id: SessionId,
        participant_id: ParticipantId,
    ) -> Result<i64, Error> {
        if let Some(id) = self.participants.get(&(session_id, participant_id)) {
            return Ok(*id);
        }
        let session = self.session_ref(session_id)?;
        let id = self
            .connection
            .prepare_cached(
                "SELECT id FROM session_participants WHERE session_ref = ?1 AND participant_id = ?2",
            )?
            .query_row(params![session, participant_id.0.to_string()], |row| {
                row.get(0)
            })
            .optional()?
            .ok_or(Error::UnknownParticipant(participant_id))?;
        self.participants.insert((session_id, participant_id), id);
        Ok(id)
    }

    fn session_opened(&mut self, row: &SessionRow) -> Result<usize, Error> {
        let preparation_ends_ms = row.started_at_ms + i64::from(row.preparation_secs) * 1000;
        let id: i64 = self
            .connection
            .prepare_cached(
                "INSERT INTO sessions (session_id, mode, slot_start_ms, started_at_ms, \
                 preparation_secs, active_secs, integration_secs, planned_end_ms, phase, \
                 phase_started_at_ms, phase_ends_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'preparation', ?4, ?9) \
                 ON CONFLICT (session_id) DO UPDATE SET mode = excluded.mode \
                 RETURNING id",
            )?
            .query_row(
                params![
                    row.session_id.0.to_string(),
                    codes::mode(row.mode),
                    row.slot_start_ms,
                    row.started_at_ms,
                    row.preparation_secs,
                    row.active_secs,
                    row.integration_secs,
                    row.planned_end_ms,
                    preparation_ends_ms,
                ],
                |r| r.get(0),
            )?;
        self.sessions.insert(row.session_id, id);
        Ok(1)
    }

    fn phase_changed(
        &mut self,
        session_id: SessionId,
        phase: Phase,
        at_ms: i64,
        ends_at_ms: Option<i64>,
    ) -> Result<usize, Error> {
        let session = self.session_ref(session_id)?;
        let phase = codes::phase(phase);
        self.connection
            .prepare_cached(
                "UPDATE sessions SET phase = ?2, phase_started_at_ms = ?3, phase_ends_at_ms = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![session, phase, at_ms, ends_at_ms])?;
        self.insert_row(
            "session_phases",
            &[
                ("session_ref", &session),
                ("phase", &phase),
                ("started_at_ms", &at_ms),
                ("ends_at_ms", &ends_at_ms),
            ],
        )?;
        Ok(2)
    }

    pub(super) fn session_completed(
        &mut self,
        session_id: SessionId,
        ended_at_ms: i64,
        summary: &SessionSummary,
        on_recovery: bool,
    ) -> Result<usize, Error> {
        let session = self.session_ref(session_id)?;
        self.connection
            .prepare_cached(
                "UPDATE sessions SET ended_at_ms = ?2, phase = 'complete', \
                 phase_started_at_ms = ?2, phase_ends_at_ms = NULL, closed_on_recovery = ?3, \
                 duration_ms = ?4, participant_count = ?5, average_coherence = ?6, \
                 peak_coherence = ?7, secs_low = ?8, secs_medium = ?9, secs_high = ?10, \
                 average_synchrony = ?11 WHERE id = ?1",
            )?
            .execute(params![
                session,
                ended_at_ms,
                on_recovery,
                summary.duration_ms,
                summary.participants,
                summary.average_coherence,
                summary.peak_coherence,
                summary.secs_low,
                summary.secs_medium,
                summary.secs_high,
                summary.average_synchrony,
            ])?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET left_at_ms = ?2 \
                 WHERE session_ref = ?1 AND left_at_ms IS NULL",
            )?
            .execute(params![session, ended_at_ms])?;
        // Nobody can resume into a completed session: the credentials go. Their hashes stay
        // for a day so participants can open their own report (report_token.rs); those of
        // sessions that ended longer ago go now.
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET resume_token = NULL WHERE session_ref = ?1",
            )?
            .execute([session])?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET report_token_sha256 = NULL \
                 WHERE report_token_sha256 IS NOT NULL AND session_ref IN \
                 (SELECT id FROM sessions WHERE ended_at_ms <= ?1)",
            )?
            .execute([ended_at_ms.saturating_sub(REPORT_TOKEN_LIFETIME_MS)])?;
        self.connection
            .prepare_cached(
                "UPDATE users SET sessions_completed = sessions_completed + 1, \
                 last_active_ms = max(last_active_ms, ?2) WHERE pseudonym IN \
                 (SELECT pseudonym FROM session_participants WHERE session_ref = ?1)",
            )?
            .execute(params![session, ended_at_ms])?;
        self.participants
            .retain(|(owner, _), _| *owner != session_id);
        self.sessions.remove(&session_id);
        Ok(1)
    }

    fn participant_joined(&mut self, row: &ParticipantRow) -> Result<usize, Error> {
        let session = self.session_ref(row.session_id)?;
        let id: i64 = self
            .connection
            .prepare_cached(
                "INSERT INTO session_participants (session_ref, participant_id, pseudonym, \
                 intention, research_consent, device, joined_at_ms, resume_token, \
                 report_token_sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (session_ref, participant_id) DO UPDATE SET \
                 intention = excluded.intention, research_consent = excluded.research_consent, \
                 device = excluded.device, left_at_ms = NULL, \
                 resume_token = excluded.resume_token, \
                 report_token_sha256 = excluded.report_token_sha256 \
                 RETURNING id",
            )?
            .query_row(
                params![
                    session,
                    row.participant_id.0.to_string(),
                    row.pseudonym,
                    row.intention.map(codes::intention),
                    row.research_consent,
                    codes::device(row.device),
                    row.joined_at_ms,
                    &row.resume_token.0[..],
                    &report_token_hash(&row.resume_token)[..],
                ],
                |r| r.get(0),
            )?;
        self.connection
            .prepare_cached(
                "INSERT INTO users (pseudonym, first_seen_ms, last_active_ms, research_consent) \
                 VALUES (?1, ?2, ?2, ?3) ON CONFLICT (pseudonym) DO UPDATE SET \
                 last_active_ms = max(last_active_ms, excluded.last_active_ms), \
                 research_consent = excluded.research_consent",
            )?
            .execute(params![
                row.pseudonym,
                row.joined_at_ms,
                row.research_consent
            ])?;
        self.participants
            .insert((row.session_id, row.participant_id), id);
        Ok(2)
    }

    fn participant_changed(
        &mut self,
        session_id: SessionId,
        participant_id: ParticipantId,
        intention: Option<IntentionCategory>,
        research_consent: bool,
    ) -> Result<usize, Error> {
        let participant = self.participant_ref(session_id, participant_id)?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET intention = ?2, research_consent = ?3 \
                 WHERE id = ?1",
            )?
            .execute(params![
                participant,
                intention.map(codes::intention),
                research_consent
            ])?;
        self.connection
            .prepare_cached(
                "UPDATE users SET research_consent = ?2 WHERE pseudonym = \
                 (SELECT pseudonym FROM session_participants WHERE id = ?1)",
            )?
            .execute(params![participant, research_consent])?;
        Ok(1)
    }

    fn participant_closed(&mut self, closed: &ParticipantClosed) -> Result<usize, Error> {
        let participant = self.participant_ref(closed.session_id, closed.participant_id)?;
        self.connection
            .prepare_cached(
                "UPDATE session_participants SET left_at_ms = ?2, peak_coherence = ?3, \
                 high_coherence_secs = ?4 WHERE id = ?1",
            )?
            .execute(params![
                participant,
                closed.left_at_ms,
                closed.peak_coherence,
                closed.high_coherence_secs
            ])?;
        Ok(1)
    }

    fn beats(&mut self, batch: &BeatBatch) -> Result<usize, Error> {
        let participant = self.participant_ref(batch.session_id, batch.participant_id)?;
        let seq = batch.seq.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
        // One multi-row INSERT per chunk: far cheaper per beat than one statement per row, and
        // a single statement is atomic by itself (see `is_atomic_statement`).
        for chunk in batch.beats.chunks(BEATS_PER_INSERT) {
            let sql = &self.beat_inserts[chunk.len() - 1];
            let mut insert = self.connection.prepare_cached(sql)?;
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
            for beat in chunk {
                values.extend_from_slice(&[
                    &participant as &dyn ToSql,
                    &seq,
                    &beat.time_ms,
                    &beat.rr_ms,
                    &beat.artifact,
                ]);
            }
            insert.execute(values.as_slice())?;
        }
        Ok(batch.beats.len())
    }

    fn metrics(&mut self, metrics: &ParticipantMetrics) -> Result<usize, Error> {
        let participant = self.participant_ref(metrics.session_id, metrics.participant_id)?;
        self.insert_row(
            "hrv_metrics",
            &[
                ("participant_ref", &participant),
                ("at_ms", &metrics.at_ms),
                ("source", &codes::score_source(metrics.source)),
                ("algorithm", &metrics.algorithm),
                ("score", &metrics.score),
                ("ratio", &metrics.ratio),
                ("peak_hz", &metrics.peak_hz),
                ("breaths_per_min", &metrics.breaths_per_min),
                ("hr_bpm", &metrics.hr_bpm),
                ("mean_rr_ms", &metrics.mean_rr_ms),
                ("sdnn_ms", &metrics.sdnn_ms),
                ("rmssd_ms", &metrics.rmssd_ms),
                ("artifact_fraction", &metrics.artifact_fraction),
                ("quality", &codes::variant_name(&metrics.quality)),
            ],
        )?;
        Ok(1)
    }

    fn group_snapshot(&mut self, snapshot: &GroupSnapshot) -> Result<usize, Error> {
        let session = self.session_ref(snapshot.session_id)?;
        self.insert_row(
            "group_coherence_snapshots",
            &[
                ("session_ref", &session),
                ("at_ms", &snapshot.at_ms),
                ("phase", &codes::phase(snapshot.phase)),
                ("participant_count", &snapshot.participant_count),
                ("active_count", &snapshot.active_count),
                ("average_coherence", &snapshot.average_coherence),
                ("median_coherence", &snapshot.median_coherence),
                ("std_coherence", &snapshot.std_coherence),
                ("peak_coherence", &snapshot.peak_coherence),
                (
                    "coherence_phase",
                    &codes::variant_name(&snapshot.coherence_phase),
                ),
                ("distribution_low", &snapshot.distribution_low),
                ("distribution_medium", &snapshot.distribution_medium),
                ("distribution_high", &snapshot.distribution_high),
                ("synchrony_index", &snapshot.synchrony_index),
            ],
        )?;
        Ok(1)
    }

    fn synchrony(&mut self, round: &SynchronyRound) -> Result<usize, Error> {
        let session = self.session_ref(round.session_id)?;
        let round_ref = self.insert_row(
            "synchrony_rounds",
            &[
                ("session_ref", &session),
                ("at_ms", &round.at_ms),
                ("participants", &round.participants),
                ("synchrony_index", &round.index),
                ("surrogate_index", &round.surrogate_index),
                ("mean_strength", &round.mean_strength),
                ("surrogate_mean_strength", &round.surrogate_mean_strength),
                ("pairs_sampled", &round.pairs_sampled),
            ],
        )?;
        for pair in &round.pairs {
            let a = self.participant_ref(round.session_id, pair.a)?;
            let b = self.participant_ref(round.session_id, pair.b)?;
            self.insert_row(
                "synchronization_pairs",
                &[
                    ("round_ref", &round_ref),
                    ("participant_a_ref", &a),
                    ("participant_b_ref", &b),
                    ("correlation", &pair.correlation),
                    ("plv", &pair.plv),
                    ("strength", &pair.strength),
                ],
            )?;
        }
        Ok(1 + round.pairs.len())
    }
}

/// `INSERT INTO rr_intervals … VALUES (…), (…), …` with 1..=BEATS_PER_INSERT rows.
fn beat_inserts() -> Vec<String> {
    (1..=BEATS_PER_INSERT)
        .map(|rows| {
            let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
            format!(
                "INSERT INTO rr_intervals (participant_ref, batch_seq, time_ms, rr_ms, artifact) \
                 VALUES {values}"
            )
        })
        .collect()
}

/// True when the record is stored by one SQL statement (after read-only lookups), which SQLite
/// applies entirely or not at all, so no savepoint is needed around it. Beat batches are the
/// hot path: skipping two statements per batch matters at 40 000 batches/s.
pub(super) fn is_atomic_statement(record: &Record) -> bool {
    match record {
        Record::Beats(batch) => !batch.beats.is_empty() && batch.beats.len() <= BEATS_PER_INSERT,
        Record::Metrics(_) | Record::GroupSnapshot(_) | Record::ParticipantClosed(_) => true,
        _ => false,
    }
}

/// How many rows `record` becomes, about: what bounds a transaction.
pub(super) fn weight(record: &Record) -> usize {
    match record {
        Record::Beats(batch) => batch.beats.len().max(1),
        _ => 1,
    }
}
