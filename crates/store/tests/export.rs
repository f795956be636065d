//! Research export: consented participants only, every format readable back.

use std::path::Path;

use synchub_store::{ExportFormat, ExportRequest, Store};

use crate::util;

/// Two sessions; in each, participant "yes-*" consented and "no-*" did not.
fn store_with_mixed_consent(dir: &Path) -> Store {
    let store = util::open(dir);
    let mut records = Vec::new();
    for s in 0..2_u128 {
        let session = util::session_id(s);
        let started = util::T0_MS + s as i64 * 3_600_000;
        let (yes, no) = (
            util::participant_id(s * 10),
            util::participant_id(s * 10 + 1),
        );
        records.extend([
            util::session_opened(session, started),
            util::joined(session, yes, &format!("yes-{s}"), true),
            util::joined(session, no, &format!("no-{s}"), false),
        ]);
        for seq in 0..10 {
            records.push(util::beats(session, yes, seq, 5));
            records.push(util::beats(session, no, seq, 5));
        }
        records.extend([
            util::metrics(session, yes, started + 5_000, 4.0),
            util::metrics(session, no, started + 5_000, 2.0),
            util::snapshot(session, started + 5_000, 3.0),
            util::synchrony(session, started + 64_000, yes, no),
        ]);
    }
    util::write_all(&store, records);
    store
}

fn export(store: &Store, format: ExportFormat, out: &Path) -> synchub_store::ExportReport {
    let mut progress = Vec::new();
    let report = store
        .export(
            &ExportRequest {
                from_ms: None,
                to_ms: None,
                format,
                out_dir: out.to_path_buf(),
            },
            &mut |p| progress.push(p.clone()),
        )
        .unwrap();
    assert!(
        progress
            .iter()
            .any(|p| p.table == "rr_intervals" && p.table_done)
    );
    report
}

#[test]
fn csv_export_has_only_consented_participants_and_parses() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_mixed_consent(dir.path());
    let out = dir.path().join("out");
    let report = export(&store, ExportFormat::Csv, &out);
    assert_eq!(
        (report.sessions, report.participants, report.beat_rows),
        (2, 2, 100)
    );

    let mut reader = csv::Reader::from_path(out.join("rr_intervals.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let pseudonym_column = headers.iter().position(|h| h == "pseudonym").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 100);
    assert!(
        rows.iter()
            .all(|row| row[pseudonym_column].starts_with("yes-"))
    );

    let participants = std::fs::read_to_string(out.join("session_participants.csv")).unwrap();
    assert!(participants.contains("yes-0") && participants.contains("yes-1"));
    assert!(!participants.contains("no-"));
    let pairs = csv::Reader::from_path(out.join("synchronization_pairs.csv"))
        .unwrap()
        .into_records()
        .count();
    assert_eq!(
        pairs, 0,
        "a pair with a non-consenting participant is not exported"
    );

    // Plain RR for Kubios / NeuroKit2: one number per line, per participant and session.
    let rr = std::fs::read_to_string(
        out.join("rr")
            .join(util::session_id(0).to_string())
            .join("yes-0.txt"),
    )
    .unwrap();
    let values: Vec<f64> = rr.lines().map(|line| line.parse().unwrap()).collect();
    assert_eq!(values.len(), 50);
    assert_eq!(values[0], util::beat_rr_ms(0, 0));
    assert!(
        !out.join("rr")
            .join(util::session_id(0).to_string())
            .join("no-0.txt")
            .exists()
    );

    let logged = util::count(
        &util::sql(&store),
        "SELECT count(*) FROM research_exports WHERE format = 'csv' AND beat_rows = 100",
    );
    assert_eq!(logged, 1);
}

#[test]
fn parquet_export_reads_back_with_the_parquet_crate() {
    use parquet::file::reader::{FileReader as _, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_mixed_consent(dir.path());
    let out = dir.path().join("out");
    export(&store, ExportFormat::Parquet, &out);
    let file = std::fs::File::open(out.join("rr_intervals.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 100);
    let mut pseudonyms = std::collections::BTreeSet::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        for (name, field) in row.get_column_iter() {
            if name == "pseudonym" {
                pseudonyms.insert(field.to_string());
            }
        }
    }
    assert_eq!(pseudonyms.len(), 2);
    assert!(
        pseudonyms.iter().all(|p| p.contains("yes-")),
        "{pseudonyms:?}"
    );
}

#[test]
fn json_export_is_valid_json_with_consented_participants_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_mixed_consent(dir.path());
    let out = dir.path().join("out");
    export(&store, ExportFormat::Json, &out);
    let text = std::fs::read_to_string(out.join("hrv_metrics.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|row| row["pseudonym"].as_str().unwrap().starts_with("yes-"))
    );
}

#[test]
fn a_time_range_selects_sessions_by_their_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_mixed_consent(dir.path());
    let report = store
        .export(
            &ExportRequest {
                from_ms: Some(util::T0_MS + 1),
                to_ms: None,
                format: ExportFormat::Csv,
                out_dir: dir.path().join("out"),
            },
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((report.sessions, report.participants), (1, 1));
}

#[test]
fn a_participant_export_has_their_own_data_whatever_their_consent() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_mixed_consent(dir.path());
    let report = store
        .export_participant(
            "no-1",
            ExportFormat::Csv,
            &dir.path().join("mine"),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(
        (report.sessions, report.participants, report.beat_rows),
        (1, 1, 50)
    );
    let text = std::fs::read_to_string(dir.path().join("mine").join("rr_intervals.csv")).unwrap();
    assert!(!text.contains("yes-"));
}
