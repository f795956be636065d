//! The researcher's pull: consented rows only, as CSV or Parquet, with a manifest whose counts and
//! checksums match the files.

use std::fs::File;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use synchub_cloud::{ResearchExportRequest, ResearchFormat};

use crate::util::{Hub, SessionPlan, T0_MS, TestDatabase, options, record_session, session_id};

async fn synced_database() -> (TestDatabase, Hub) {
    let database = TestDatabase::create().await;
    let hub = Hub::open();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: vec![(0, true), (1, false), (2, true)],
            beats: 120,
            complete: true,
        },
    );
    record_session(
        &hub,
        &SessionPlan {
            number: 2,
            people: vec![(0, true), (1, true)],
            beats: 80,
            complete: true,
        },
    );
    synchub_cloud::push(&options(&database, &hub), &mut |_| {})
        .await
        .expect("sync");
    (database, hub)
}

fn request(
    database: &TestDatabase,
    format: ResearchFormat,
    out_dir: &std::path::Path,
) -> ResearchExportRequest {
    ResearchExportRequest {
        database_url: database.url.clone(),
        from_ms: None,
        to_ms: None,
        hub_id: None,
        session_id: None,
        format,
        out_dir: out_dir.to_owned(),
    }
}

fn sha256_hex(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read export")))
}

#[tokio::test]
async fn csv_export_holds_consented_rows_and_a_matching_manifest() {
    let (database, hub) = synced_database().await;
    let out = tempfile::tempdir().expect("temp dir");

    let report =
        synchub_cloud::research_export(&request(&database, ResearchFormat::Csv, out.path()))
            .await
            .expect("export");

    assert_eq!(report.rows("research.sessions"), Some(2));
    assert_eq!(report.rows("research.participants"), Some(4));
    assert_eq!(report.rows("research.rr_intervals"), Some(2 * 120 + 2 * 80));
    for file in &report.files {
        let path = out.path().join(&file.file);
        assert_eq!(sha256_hex(&path), file.sha256, "{}", file.file);
        let mut reader = csv::Reader::from_path(&path).expect("csv");
        assert_eq!(reader.records().count() as u64, file.rows, "{}", file.file);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["format"], "csv");
    assert_eq!(
        manifest["files"].as_array().map(Vec::len),
        Some(synchub_cloud::RESEARCH_VIEWS.len())
    );
    let participants = std::fs::read_to_string(out.path().join("participants.csv")).expect("read");
    assert!(
        !participants.contains(&hub.pseudonym(1))
            || participants.matches(&hub.pseudonym(1)).count() == 1,
        "person 1 appears only for the session they consented to"
    );
    assert!(!database.url.is_empty());
}

#[tokio::test]
async fn parquet_export_of_one_session_reads_back() {
    let (database, _hub) = synced_database().await;
    let out = tempfile::tempdir().expect("temp dir");
    let mut one_session = request(&database, ResearchFormat::Parquet, out.path());
    one_session.session_id = Some(session_id(2).0);

    let report = synchub_cloud::research_export(&one_session)
        .await
        .expect("export");

    assert_eq!(report.rows("research.sessions"), Some(1));
    assert_eq!(report.rows("research.rr_intervals"), Some(2 * 80));
    for file in &report.files {
        let path = out.path().join(&file.file);
        assert_eq!(sha256_hex(&path), file.sha256);
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader");
        let rows: usize = reader.map(|batch| batch.expect("batch").num_rows()).sum();
        assert_eq!(rows as u64, file.rows, "{}", file.file);
    }
}

#[tokio::test]
async fn a_time_range_selects_sessions_by_start() {
    let (database, _hub) = synced_database().await;
    let out = tempfile::tempdir().expect("temp dir");
    let mut first_only = request(&database, ResearchFormat::Csv, out.path());
    // Session n starts at T0 + n hours.
    first_only.from_ms = Some(T0_MS + 3_600_000);
    first_only.to_ms = Some(T0_MS + 2 * 3_600_000);

    let report = synchub_cloud::research_export(&first_only)
        .await
        .expect("export");

    assert_eq!(report.rows("research.sessions"), Some(1));
    assert_eq!(report.rows("research.participants"), Some(2));
    assert_eq!(report.rows("research.group_coherence"), Some(30));
}
