//! The loader on real SQLite stores written through the store's writer thread, as the hub
//! writes them.

use synchub_report::{LoadError, Phase, Quality, Report, ScoreSource, SessionData, SourceKind};
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    BeatBatch, DeviceKind, GroupSnapshot, IntentionCategory, PairRecord, ParticipantClosed,
    ParticipantMetrics, ParticipantRow, Record, ScheduleMode, ScoreSource as StoredSource,
    SessionRow, SessionSummary, StoredBeat, SynchronyRound,
};
use synchub_store::{DataDir, Store, WriterConfig};

use crate::util::T0_MS;

const SESSION: u128 = 0x5e55_0000_0000_7000_8000_0000_0000_0001;

fn session_id() -> SessionId {
    SessionId(uuid::Uuid::from_u128(SESSION))
}

fn participant_id(n: u128) -> ParticipantId {
    ParticipantId(uuid::Uuid::from_u128(
        0xa11c_e000_0000_7000_8000_0000_0000_0000 | n,
    ))
}

fn pseudonym(n: u128) -> String {
    format!("{:064x}", 0xfeed_0000_u128 + n)
}

fn joined(n: u128, device: DeviceKind, at_secs: i64) -> Record {
    Record::ParticipantJoined(ParticipantRow {
        session_id: session_id(),
        participant_id: participant_id(n),
        pseudonym: pseudonym(n),
        intention: Some(IntentionCategory::Grief),
        research_consent: n != 3,
        device,
        joined_at_ms: T0_MS + at_secs * 1000,
        resume_token: ResumeToken([n as u8; 16]),
    })
}

fn metric(n: u128, at_secs: i64, score: f64, quality: synchub_hrv::Quality) -> Record {
    Record::Metrics(ParticipantMetrics {
        session_id: session_id(),
        participant_id: participant_id(n),
        at_ms: T0_MS + at_secs * 1000,
        source: StoredSource::Hub,
        algorithm: Some(synchub_hrv::ALGORITHM),
        score,
        ratio: None,
        peak_hz: Some(0.1),
        breaths_per_min: Some(6.0),
        hr_bpm: Some(62.0),
        mean_rr_ms: Some(960.0),
        sdnn_ms: Some(40.0),
        rmssd_ms: Some(30.0),
        artifact_fraction: Some(0.05),
        quality,
    })
}

/// Beats once a second from `from_secs` to `to_secs` (exclusive), in batches of 10.
fn beats(n: u128, from_secs: i64, to_secs: i64) -> Vec<Record> {
    (from_secs..to_secs)
        .collect::<Vec<_>>()
        .chunks(10)
        .enumerate()
        .map(|(batch, secs)| {
            Record::Beats(BeatBatch {
                session_id: session_id(),
                participant_id: participant_id(n),
                seq: Some(from_secs as u64 + batch as u64),
                beats: secs
                    .iter()
                    .map(|s| StoredBeat {
                        time_ms: (T0_MS + s * 1000) as f64,
                        rr_ms: 1000.0,
                        artifact: false,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// A 3-participant manual session: 2 min preparation, 6 min active, 1 min integration.
/// Slot 1 (phone) and slot 2 (strap) send beats; slot 2 pauses for 30 s; slot 3 (browser)
/// sends only its own scores and did not consent.
fn records() -> Vec<Record> {
    let mut records = vec![
        Record::SessionOpened(SessionRow {
            session_id: session_id(),
            mode: ScheduleMode::Manual,
            slot_start_ms: None,
            started_at_ms: T0_MS,
            preparation_secs: 120,
            active_secs: 360,
            integration_secs: 60,
            planned_end_ms: T0_MS + 540_000,
        }),
        Record::PhaseChanged {
            session_id: session_id(),
            phase: synchub_session::record::Phase::Preparation,
            at_ms: T0_MS,
            ends_at_ms: Some(T0_MS + 120_000),
        },
        joined(1, DeviceKind::Ios, 0),
        joined(2, DeviceKind::Ble, 1),
        joined(3, DeviceKind::Web, 2),
    ];
    records.extend(beats(1, 0, 540));
    records.extend(beats(2, 0, 200));
    records.extend(beats(2, 230, 540));
    for step in 0..100 {
        let at_secs = 40 + step * 5;
        let rising = 30.0 + step as f64 / 2.0;
        records.push(metric(1, at_secs, rising, synchub_hrv::Quality::Good));
        let quality = if step == 3 {
            synchub_hrv::Quality::Low
        } else {
            synchub_hrv::Quality::WarmingUp
        };
        records.push(metric(2, at_secs, rising + 5.0, quality));
        records.push(Record::Metrics(ParticipantMetrics {
            source: StoredSource::Client,
            algorithm: None,
            breaths_per_min: None,
            artifact_fraction: None,
            quality: synchub_hrv::Quality::Good,
            participant_id: participant_id(3),
            ..match metric(3, at_secs, 50.0, synchub_hrv::Quality::Good) {
                Record::Metrics(row) => row,
                _ => unreachable!("metric() builds metrics"),
            }
        }));
        if step == 16 {
            records.push(Record::PhaseChanged {
                session_id: session_id(),
                phase: synchub_session::record::Phase::Active,
                at_ms: T0_MS + 120_000,
                ends_at_ms: Some(T0_MS + 480_000),
            });
        }
        records.push(Record::Synchrony(SynchronyRound {
            session_id: session_id(),
            at_ms: T0_MS + at_secs * 1000,
            participants: 2,
            index: 0.2 + step as f64 / 500.0,
            surrogate_index: 0.1,
            mean_strength: 0.4,
            surrogate_mean_strength: 0.2,
            pairs_sampled: false,
            pairs: vec![PairRecord {
                a: participant_id(1),
                b: participant_id(2),
                correlation: 0.5,
                plv: 0.3 + step as f64 / 1000.0,
                strength: 0.4 + step as f64 / 1000.0,
            }],
        }));
    }
    records.push(Record::GroupSnapshot(GroupSnapshot {
        session_id: session_id(),
        at_ms: T0_MS + 60_000,
        phase: synchub_session::record::Phase::Preparation,
        participant_count: 3,
        active_count: 2,
        average_coherence: 40.0,
        median_coherence: 40.0,
        std_coherence: 5.0,
        peak_coherence: 40.0,
        coherence_phase: synchub_hrv::CoherencePhase::Medium,
        distribution_low: 1,
        distribution_medium: 1,
        distribution_high: 0,
        synchrony_index: Some(0.2),
        synchrony_baseline: Some(0.05),
    }));
    records.push(Record::PhaseChanged {
        session_id: session_id(),
        phase: synchub_session::record::Phase::Integration,
        at_ms: T0_MS + 480_000,
        ends_at_ms: Some(T0_MS + 540_000),
    });
    records.push(Record::ParticipantClosed(ParticipantClosed {
        session_id: session_id(),
        participant_id: participant_id(3),
        left_at_ms: T0_MS + 500_000,
        peak_coherence: Some(50.0),
        high_coherence_secs: 0.0,
    }));
    records.push(Record::SessionCompleted {
        session_id: session_id(),
        ended_at_ms: T0_MS + 540_000,
        summary: SessionSummary {
            duration_ms: 540_000,
            participants: 3,
            average_coherence: Some(50.0),
            peak_coherence: Some(80.0),
            secs_low: 0.0,
            secs_medium: 0.0,
            secs_high: 0.0,
            average_synchrony: Some(0.3),
        },
    });
    records
}

fn filled_store(dir: &std::path::Path) -> Store {
    let store = Store::open(&DataDir::new(dir), WriterConfig::default()).expect("store opens");
    let writer = store.writer();
    for record in records() {
        writer.send(record).expect("writer running");
    }
    store.flush().expect("flush");
    store
}

#[test]
fn a_stored_session_loads_as_slots_with_their_scores_beats_and_synchrony() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = filled_store(dir.path());
    let data = SessionData::load(&store, session_id()).expect("loads");

    let session = &data.session;
    assert_eq!(session.started_at_ms, T0_MS);
    assert_eq!(session.ended_at_ms, Some(T0_MS + 540_000));
    assert_eq!(session.planned.total_secs(), 540);
    let phases: Vec<(Phase, i64)> = session
        .phase_changes
        .iter()
        .map(|change| (change.phase, change.at_ms - T0_MS))
        .collect();
    assert!(phases.contains(&(Phase::Active, 120_000)), "{phases:?}");
    assert!(
        phases.contains(&(Phase::Integration, 480_000)),
        "{phases:?}"
    );

    let sources: Vec<(u32, SourceKind, bool)> = data
        .participants
        .iter()
        .map(|p| (p.slot, p.source, p.research_consent))
        .collect();
    assert_eq!(
        sources,
        [
            (1, SourceKind::App, true),
            (2, SourceKind::Strap, true),
            (3, SourceKind::Browser, false)
        ]
    );
    let [first, strap, browser] = &data.participants[..] else {
        panic!("three participants");
    };
    assert_eq!(first.metrics.len(), 100);
    assert_eq!(
        first.metrics[0].algorithm.as_deref(),
        Some(synchub_hrv::ALGORITHM)
    );
    assert_eq!(strap.metrics[3].quality, Quality::Low);
    assert_eq!(strap.metrics[4].quality, Quality::WarmingUp);
    assert_eq!(browser.metrics[0].source, ScoreSource::Client);
    assert_eq!(browser.left_at_ms, Some(T0_MS + 500_000));

    assert_eq!(first.beats.beats, 540);
    assert!(first.beats.gaps.is_empty());
    assert_eq!(strap.beats.beats, 510);
    assert_eq!(strap.beats.gaps.len(), 1);
    assert_eq!(strap.beats.gaps[0].length_ms(), 31_000.0);
    assert_eq!(browser.beats.beats, 0);

    assert_eq!(data.synchrony.len(), 100);
    assert_eq!(first.synchrony_strength.len(), 100);
    assert_eq!(first.synchrony_strength, strap.synchrony_strength);
    assert!((first.synchrony_strength[10].mean_strength - 0.41).abs() < 1e-12);
    assert!(browser.synchrony_strength.is_empty());
    assert!(data.pacer.is_empty());
    store.shutdown().expect("shutdown");
}

#[test]
fn a_report_from_the_store_names_nobody() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = filled_store(dir.path());
    let data = SessionData::load_from_database(store.database_path(), session_id())
        .expect("loads from the file");
    let report = Report::build(&data, 3);
    assert_eq!(report.overview.participants.joined, 3);
    assert_eq!(report.overview.participants.consented, 2);
    assert_eq!(report.quality[1].gaps.len(), 1);
    assert_eq!(report.change.coherence.participants.len(), 3);
    let page = report.to_html();
    let json = report.to_json();
    for n in 1..=3 {
        for text in [&pseudonym(n), &participant_id(n).0.to_string()] {
            assert!(
                !page.contains(text.as_str()) && !json.contains(text.as_str()),
                "{text} leaked"
            );
        }
    }
    assert!(!page.to_lowercase().contains("grief") && !json.to_lowercase().contains("grief"));
    // The consented copy drops slot 3 and keeps the others' slot numbers.
    let consented = data.consented_only();
    assert_eq!(
        consented
            .participants
            .iter()
            .map(|p| p.slot)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    store.shutdown().expect("shutdown");
}

#[test]
fn an_unknown_session_says_where_it_looked_and_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = filled_store(dir.path());
    let missing = SessionId(uuid::Uuid::from_u128(7));
    let error = SessionData::load(&store, missing).expect_err("no such session");
    assert!(
        matches!(error, LoadError::UnknownSession { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&missing.to_string()), "{message}");
    assert!(message.contains("latest"), "{message}");
    assert_eq!(
        SessionData::latest_session_id(store.database_path()).expect("reads"),
        Some(session_id())
    );
    store.shutdown().expect("shutdown");
}
