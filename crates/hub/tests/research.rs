//! `synchub research …` against a real store on disk: exports carry consented participants only,
//! a participant's own export and erasure work by pseudonym, and mistakes are explained.

use std::path::Path;

use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    BeatBatch, DeviceKind, ParticipantRow, Record, ScheduleMode, SessionRow, StoredBeat,
};
use synchub_store::{DataDir, Store, WriterConfig};

use crate::util::{stderr, synchub};

const STARTED_AT_MS: i64 = 1_780_000_000_000;
const CONSENTING: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const DECLINING: &str = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

/// One session with two participants, one of whom consented to research use.
fn record_a_session(data_dir: &Path) {
    let store = Store::open(&DataDir::new(data_dir), WriterConfig::default()).unwrap();
    let session_id = SessionId(uuid::Uuid::from_u128(1));
    let mut records = vec![Record::SessionOpened(SessionRow {
        session_id,
        mode: ScheduleMode::Manual,
        slot_start_ms: None,
        started_at_ms: STARTED_AT_MS,
        preparation_secs: 30,
        active_secs: 750,
        integration_secs: 120,
        planned_end_ms: STARTED_AT_MS + 900_000,
    })];
    for (n, pseudonym, consent) in [(1u128, CONSENTING, true), (2, DECLINING, false)] {
        let participant_id = ParticipantId(uuid::Uuid::from_u128(100 + n));
        records.push(Record::ParticipantJoined(ParticipantRow {
            session_id,
            participant_id,
            pseudonym: pseudonym.to_owned(),
            intention: None,
            research_consent: consent,
            device: DeviceKind::Web,
            joined_at_ms: STARTED_AT_MS + 1_000,
            resume_token: ResumeToken([n as u8; 16]),
        }));
        records.push(Record::Beats(BeatBatch {
            session_id,
            participant_id,
            seq: Some(1),
            beats: (0..3)
                .map(|i| StoredBeat {
                    time_ms: (STARTED_AT_MS + 2_000) as f64 + f64::from(i) * 850.0,
                    rr_ms: 850.0,
                    artifact: false,
                })
                .collect(),
        }));
    }
    let writer = store.writer();
    for record in records {
        writer.send(record).unwrap();
    }
    store.flush().unwrap();
    store.shutdown().unwrap();
}

fn read_dir_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in walk(dir) {
        text.push_str(&std::fs::read_to_string(entry).unwrap_or_default());
    }
    text
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn export_local_carries_consented_participants_only() {
    let data = tempfile::tempdir().unwrap();
    record_a_session(data.path());
    let out = data.path().join("export");
    let output = synchub(&[
        "research",
        "export-local",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = read_dir_text(&out);
    assert!(
        exported.contains(CONSENTING),
        "the consenting participant is exported"
    );
    assert!(
        !exported.contains(DECLINING),
        "the declining participant is not"
    );
    assert!(
        stderr(&output).contains("exported 1 sessions, 1 participants, 3 beats"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn export_local_honours_the_time_range() {
    let data = tempfile::tempdir().unwrap();
    record_a_session(data.path());
    let out = data.path().join("later");
    let output = synchub(&[
        "research",
        "export-local",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--from",
        &(STARTED_AT_MS + 1).to_string(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exported 0 sessions"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_participant_can_be_exported_and_erased_by_pseudonym() {
    let data = tempfile::tempdir().unwrap();
    record_a_session(data.path());
    let dir = data.path().to_str().unwrap();
    let own = data.path().join("own");
    let output = synchub(&[
        "research",
        "export-participant",
        "--data-dir",
        dir,
        "--pseudonym",
        DECLINING,
        "--out",
        own.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        read_dir_text(&own).contains(DECLINING),
        "their own export includes them"
    );

    let output = synchub(&[
        "research",
        "erase-participant",
        "--data-dir",
        dir,
        "--pseudonym",
        DECLINING,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("3 beats"), "{}", stderr(&output));
    let database = rusqlite::Connection::open(DataDir::new(data.path()).database_path()).unwrap();
    let remaining: i64 = database
        .query_row(
            "SELECT count(*) FROM session_participants WHERE pseudonym = ?1",
            [DECLINING],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(remaining, 0);
    let tombstones: i64 = database
        .query_row("SELECT count(*) FROM erasures", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tombstones, 1);
}

#[test]
fn mistakes_are_explained() {
    let empty = tempfile::tempdir().unwrap();
    let output = synchub(&[
        "research",
        "export-local",
        "--data-dir",
        empty.path().to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        empty.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("pass the --data-dir"),
        "{}",
        stderr(&output)
    );

    let data = tempfile::tempdir().unwrap();
    record_a_session(data.path());
    let output = synchub(&[
        "research",
        "export-local",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--from",
        "last week",
        "--format",
        "csv",
        "--out",
        data.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("RFC 3339"), "{}", stderr(&output));
}
