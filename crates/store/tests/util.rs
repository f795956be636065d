//! Builders of engine records and helpers to open stores in temporary directories.

use std::path::Path;

use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    BeatBatch, DeviceKind, GroupSnapshot, IntentionCategory, PairRecord, ParticipantMetrics,
    ParticipantRow, Phase, Record, ScheduleMode, ScoreSource, SessionRow, StoredBeat,
    SynchronyRound,
};
use synchub_store::{CommitReport, DataDir, Store, WriterConfig};

pub const T0_MS: i64 = 1_780_000_000_000;

pub fn open(dir: &Path) -> Store {
    Store::open(&DataDir::new(dir), WriterConfig::default()).expect("store opens")
}

pub fn session_id(n: u128) -> SessionId {
    SessionId(uuid::Uuid::from_u128(
        0x5e55_0000_0000_7000_8000_0000_0000_0000 | n,
    ))
}

pub fn participant_id(n: u128) -> ParticipantId {
    ParticipantId(uuid::Uuid::from_u128(
        0xa11c_e000_0000_7000_8000_0000_0000_0000 | n,
    ))
}

pub fn session_opened(session: SessionId, started_at_ms: i64) -> Record {
    Record::SessionOpened(SessionRow {
        session_id: session,
        mode: ScheduleMode::Rolling,
        slot_start_ms: Some(started_at_ms),
        started_at_ms,
        preparation_secs: 60,
        active_secs: 720,
        integration_secs: 120,
        planned_end_ms: started_at_ms + 900_000,
    })
}

pub fn joined(
    session: SessionId,
    participant: ParticipantId,
    pseudonym: &str,
    consent: bool,
) -> Record {
    Record::ParticipantJoined(ParticipantRow {
        session_id: session,
        participant_id: participant,
        pseudonym: pseudonym.to_owned(),
        intention: Some(IntentionCategory::Anxiety),
        research_consent: consent,
        device: DeviceKind::Ios,
        joined_at_ms: T0_MS + 1_000,
        resume_token: ResumeToken([participant.0.as_bytes()[15]; 16]),
    })
}

/// Beat `i` of batch `seq` has a value derived from both, so a test can check every value.
pub fn beat_rr_ms(seq: u64, i: usize) -> f64 {
    600.0 + (seq % 400) as f64 + i as f64 * 0.25
}

pub fn beats(session: SessionId, participant: ParticipantId, seq: u64, count: usize) -> Record {
    Record::Beats(BeatBatch {
        session_id: session,
        participant_id: participant,
        seq: Some(seq),
        beats: (0..count)
            .map(|i| StoredBeat {
                time_ms: (T0_MS + seq as i64 * 5_000) as f64 + i as f64 * 800.5,
                rr_ms: beat_rr_ms(seq, i),
                artifact: false,
            })
            .collect(),
    })
}

pub fn metrics(session: SessionId, participant: ParticipantId, at_ms: i64, score: f64) -> Record {
    Record::Metrics(ParticipantMetrics {
        session_id: session,
        participant_id: participant,
        at_ms,
        source: ScoreSource::Hub,
        algorithm: Some("synchub-hrv/test"),
        score,
        ratio: Some(1.5),
        peak_hz: Some(0.1),
        breaths_per_min: Some(6.0),
        hr_bpm: Some(70.0),
        mean_rr_ms: Some(857.0),
        sdnn_ms: Some(50.0),
        rmssd_ms: Some(40.0),
        artifact_fraction: Some(0.0),
        quality: first_quality(),
    })
}

/// Whatever the signal-processing crate calls good quality: the store stores any variant.
fn first_quality() -> synchub_hrv::Quality {
    synchub_hrv::Quality::Good
}

pub fn snapshot(session: SessionId, at_ms: i64, average: f64) -> Record {
    Record::GroupSnapshot(GroupSnapshot {
        session_id: session,
        at_ms,
        phase: Phase::Active,
        participant_count: 2,
        active_count: 2,
        average_coherence: average,
        median_coherence: average,
        std_coherence: 0.1,
        peak_coherence: average + 0.5,
        coherence_phase: synchub_hrv::CoherencePhase::Medium,
        distribution_low: 0,
        distribution_medium: 2,
        distribution_high: 0,
        synchrony_index: Some(0.3),
        synchrony_baseline: Some(0.1),
    })
}

pub fn synchrony(session: SessionId, at_ms: i64, a: ParticipantId, b: ParticipantId) -> Record {
    Record::Synchrony(SynchronyRound {
        session_id: session,
        at_ms,
        participants: 2,
        index: 0.4,
        surrogate_index: 0.1,
        mean_strength: 0.5,
        surrogate_mean_strength: 0.2,
        pairs_sampled: false,
        pairs: vec![PairRecord {
            a,
            b,
            correlation: 0.6,
            plv: 0.7,
            strength: 0.65,
        }],
    })
}

/// Sends every record (blocking when the queue is full) and waits until all are committed.
pub fn write_all(store: &Store, records: impl IntoIterator<Item = Record>) {
    let writer = store.writer();
    for record in records {
        writer.send(record).expect("writer running");
    }
    store.flush().expect("flush");
}

/// Every report received so far, without waiting.
pub fn drain_reports(store: &Store) -> Vec<CommitReport> {
    store.commits().try_iter().collect()
}

/// A raw read-only connection for checks the public API does not offer.
pub fn sql(store: &Store) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        store.database_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open for checks")
}

pub fn count(connection: &rusqlite::Connection, sql: &str) -> i64 {
    connection.query_row(sql, [], |row| row.get(0)).expect(sql)
}
