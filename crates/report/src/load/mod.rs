//! Reading a [`SessionData`] from the hub's SQLite store.
//!
//! The session, its phases and its participants come through the store's public [`Reader`];
//! the rows the reader has no query for yet (scores, beat times, synchrony rounds and
//! per-participant synchrony strength) are read here with plain SQL on a read-only connection
//! of our own. All of that SQL lives here and in `strength.rs` (each participant's synchrony
//! strength from the pair rows, the bulk of a large room's data) so it can move into the
//! store's reader as it is. WAL mode lets this run while the hub's writer keeps writing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::{self, DeviceKind};
use synchub_store::{Reader, Store};

use crate::input::{
    BeatCoverage, GAP_MS, Gap, MetricRow, ParticipantData, Phase, PhaseChange, PlannedPhases,
    Quality, ScheduleMode, ScoreSource, SessionData, SessionInfo, SourceKind, StrengthPoint,
    SynchronyRound,
};

mod strength;

/// Why a session could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(
        "no session {session_id} in {}: pick one from the console's history (or `latest`)",
        path.display()
    )]
    UnknownSession {
        session_id: SessionId,
        path: PathBuf,
    },
    #[error("reading the store at {}: {source}; is it a Sync Hub data directory's database?", path.display())]
    Store {
        path: PathBuf,
        source: synchub_store::Error,
    },
    #[error("reading session rows from {}: {source}; is the database from a newer hub?", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// Who a loaded session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roster {
    Everyone,
    /// Participants who consented to research use, and only their pairs.
    Consented,
}

/// How long to wait for the writer's lock before giving up (as the store's own readers do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl SessionData {
    /// Reads one session from an open store.
    pub fn load(store: &Store, session_id: SessionId) -> Result<SessionData, LoadError> {
        Self::load_from_database(store.database_path(), session_id)
    }

    /// Reads one session from the store's database file (which must exist and be migrated),
    /// whether or not a hub has it open.
    pub fn load_from_database(
        database_path: &Path,
        session_id: SessionId,
    ) -> Result<SessionData, LoadError> {
        Self::load_roster(database_path, session_id, Roster::Everyone)
    }

    /// Reads one session as it may leave the hub: only the participants who consented to
    /// research use, numbered 1, 2, … among themselves in joining order (so the slots do not
    /// reveal who is missing), each one's synchrony strength over their pairs with other
    /// consented participants only. The room's synchrony rounds stay as stored: the index of a
    /// round is one figure of the whole room, as central sync already sends it.
    pub fn load_consented(
        database_path: &Path,
        session_id: SessionId,
    ) -> Result<SessionData, LoadError> {
        Self::load_roster(database_path, session_id, Roster::Consented)
    }

    fn load_roster(
        database_path: &Path,
        session_id: SessionId,
        roster: Roster,
    ) -> Result<SessionData, LoadError> {
        let store_error = |source| LoadError::Store {
            path: database_path.to_owned(),
            source,
        };
        let sql_error = |source| LoadError::Sqlite {
            path: database_path.to_owned(),
            source,
        };
        let reader = Reader::open(database_path).map_err(store_error)?;
        let detail = reader
            .session(session_id)
            .map_err(store_error)?
            .ok_or_else(|| LoadError::UnknownSession {
                session_id,
                path: database_path.to_owned(),
            })?;
        let connection = open(database_path).map_err(sql_error)?;
        let rows = SessionRows::read(&connection, session_id, roster).map_err(sql_error)?;
        let overview = detail.overview;
        let session = SessionInfo {
            room_name: None,
            mode: match overview.mode {
                record::ScheduleMode::Rolling => ScheduleMode::Rolling,
                record::ScheduleMode::Manual => ScheduleMode::Manual,
            },
            started_at_ms: overview.started_at_ms,
            ended_at_ms: overview.ended_at_ms,
            closed_on_recovery: overview.closed_on_recovery,
            planned: rows.planned,
            phase_changes: detail
                .phases
                .iter()
                .map(|span| PhaseChange {
                    phase: phase_from(span.phase),
                    at_ms: span.started_at_ms,
                })
                .collect(),
        };
        let mut by_id = rows.participants;
        let participants = detail
            .participants
            .iter()
            .filter(|participant| roster == Roster::Everyone || participant.research_consent)
            .enumerate()
            .map(|(index, participant)| {
                let stored = by_id
                    .remove(&participant.participant_id.0.to_string())
                    .unwrap_or_default();
                ParticipantData {
                    slot: slot_from_index(index),
                    source: source_from(participant.device),
                    research_consent: participant.research_consent,
                    joined_at_ms: participant.joined_at_ms,
                    left_at_ms: participant.left_at_ms,
                    metrics: stored.metrics,
                    beats: stored.beats.finish(),
                    synchrony_strength: stored.strength,
                }
            })
            .collect();
        Ok(SessionData {
            session,
            participants,
            synchrony: rows.synchrony,
            pacer: Vec::new(),
        })
    }

    /// The slot [`SessionData::load`] gives `participant` of `session_id` (its place in joining
    /// order), if they are in it.
    pub fn slot_of(
        database_path: &Path,
        session_id: SessionId,
        participant: ParticipantId,
    ) -> Result<Option<u32>, LoadError> {
        let store_error = |source| LoadError::Store {
            path: database_path.to_owned(),
            source,
        };
        let reader = Reader::open(database_path).map_err(store_error)?;
        let participants = reader.participants(session_id).map_err(store_error)?;
        Ok(participants
            .iter()
            .position(|joined| joined.participant_id == participant)
            .map(slot_from_index))
    }

    /// The newest stored session (running or ended), if any.
    pub fn latest_session_id(database_path: &Path) -> Result<Option<SessionId>, LoadError> {
        let reader = Reader::open(database_path).map_err(|source| LoadError::Store {
            path: database_path.to_owned(),
            source,
        })?;
        let recent = reader
            .recent_sessions(1)
            .map_err(|source| LoadError::Store {
                path: database_path.to_owned(),
                source,
            })?;
        Ok(recent.first().map(|session| session.session_id))
    }
}

/// Slots count from 1 in joining order (the reader's order of a session's participants).
fn slot_from_index(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

fn phase_from(phase: record::Phase) -> Phase {
    match phase {
        record::Phase::Preparation => Phase::Preparation,
        record::Phase::Active => Phase::Active,
        record::Phase::Integration => Phase::Integration,
        record::Phase::Complete => Phase::Complete,
    }
}

fn source_from(device: DeviceKind) -> SourceKind {
    match device {
        DeviceKind::Ios | DeviceKind::Android => SourceKind::App,
        DeviceKind::Web => SourceKind::Browser,
        DeviceKind::Ble => SourceKind::Strap,
        DeviceKind::Sim => SourceKind::Sim,
        DeviceKind::Unknown => SourceKind::Unknown,
    }
}

/// The rows of one session the store's reader does not return, keyed by participant id.
struct SessionRows {
    planned: PlannedPhases,
    participants: HashMap<String, StoredParticipant>,
    synchrony: Vec<SynchronyRound>,
}

#[derive(Default)]
struct StoredParticipant {
    metrics: Vec<MetricRow>,
    beats: CoverageBuilder,
    strength: Vec<StrengthPoint>,
}

impl SessionRows {
    fn read(
        connection: &Connection,
        session_id: SessionId,
        roster: Roster,
    ) -> rusqlite::Result<Self> {
        let id = session_id.0.to_string();
        let (session_ref, planned) = connection.query_row(
            "SELECT id, preparation_secs, active_secs, integration_secs FROM sessions \
             WHERE session_id = ?1",
            [&id],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    PlannedPhases {
                        preparation_secs: row.get(1)?,
                        active_secs: row.get(2)?,
                        integration_secs: row.get(3)?,
                    },
                ))
            },
        )?;
        let mut ids: HashMap<i64, String> = HashMap::new();
        let mut statement = connection.prepare(
            "SELECT id, participant_id FROM session_participants WHERE session_ref = ?1",
        )?;
        let mut rows = statement.query([session_ref])?;
        while let Some(row) = rows.next()? {
            ids.insert(row.get(0)?, row.get(1)?);
        }
        let mut participants: HashMap<i64, StoredParticipant> = HashMap::new();

        let mut statement = connection.prepare(
            "SELECT m.participant_ref, m.at_ms, m.source, m.algorithm, m.score, \
             m.breaths_per_min, m.artifact_fraction, m.quality FROM hrv_metrics m \
             JOIN session_participants p ON p.id = m.participant_ref \
             WHERE p.session_ref = ?1 ORDER BY m.participant_ref, m.at_ms, m.id",
        )?;
        let mut rows = statement.query([session_ref])?;
        while let Some(row) = rows.next()? {
            let source: String = row.get(2)?;
            let quality: String = row.get(7)?;
            participants
                .entry(row.get(0)?)
                .or_default()
                .metrics
                .push(MetricRow {
                    at_ms: row.get(1)?,
                    score: row.get(4)?,
                    source: if source == "client" {
                        ScoreSource::Client
                    } else {
                        ScoreSource::Hub
                    },
                    algorithm: row.get(3)?,
                    breaths_per_min: row.get(5)?,
                    artifact_fraction: row.get(6)?,
                    quality: match quality.as_str() {
                        "good" => Quality::Good,
                        "warming_up" => Quality::WarmingUp,
                        // "low", and any flag this version does not know: kept out of figures.
                        _ => Quality::Low,
                    },
                });
        }

        // Beat times in order per participant (the (participant_ref, time_ms) index), folded
        // into coverage as they stream by: no participant's beats are held in memory.
        let mut statement = connection.prepare(
            "SELECT r.participant_ref, r.time_ms FROM rr_intervals r \
             JOIN session_participants p ON p.id = r.participant_ref \
             WHERE p.session_ref = ?1 ORDER BY r.participant_ref, r.time_ms",
        )?;
        let mut rows = statement.query([session_ref])?;
        while let Some(row) = rows.next()? {
            participants
                .entry(row.get(0)?)
                .or_default()
                .beats
                .push(row.get(1)?);
        }

        let mut statement = connection.prepare(
            "SELECT at_ms, participants, synchrony_index, surrogate_index FROM synchrony_rounds \
             WHERE session_ref = ?1 ORDER BY at_ms, id",
        )?;
        let synchrony = statement
            .query_map([session_ref], |row| {
                Ok(SynchronyRound {
                    at_ms: row.get(0)?,
                    participants: row.get(1)?,
                    index: row.get(2)?,
                    surrogate_index: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;

        let consented_pairs_only = roster == Roster::Consented;
        for (participant, points) in
            strength::per_participant(connection, session_ref, consented_pairs_only)?
        {
            participants.entry(participant).or_default().strength = points;
        }

        Ok(Self {
            planned,
            participants: participants
                .into_iter()
                .filter_map(|(reference, stored)| Some((ids.get(&reference)?.clone(), stored)))
                .collect(),
            synchrony,
        })
    }
}

/// Beat coverage folded from times that arrive in ascending order.
#[derive(Default)]
struct CoverageBuilder {
    beats: u64,
    first_ms: Option<f64>,
    last_ms: Option<f64>,
    gaps: Vec<Gap>,
}

impl CoverageBuilder {
    fn push(&mut self, time_ms: f64) {
        if let Some(last_ms) = self.last_ms
            && time_ms - last_ms > GAP_MS
        {
            self.gaps.push(Gap {
                start_ms: last_ms,
                end_ms: time_ms,
            });
        }
        self.beats += 1;
        self.first_ms.get_or_insert(time_ms);
        self.last_ms = Some(time_ms);
    }

    fn finish(self) -> BeatCoverage {
        BeatCoverage {
            beats: self.beats,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
            gaps: self.gaps,
        }
    }
}
