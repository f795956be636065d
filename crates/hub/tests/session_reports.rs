//! Session reports in central sync, against a real PostgreSQL (`DATABASE_URL`, as
//! `scripts/with-postgres` sets it, or the server on 127.0.0.1:5432): a hub stores the report
//! of consented participants' data when a session ends; `synchub sync` builds the missing
//! ones of sessions that ended earlier and pushes them once; `research.session_summary` has one
//! row per session with the report's own figures; `synchub research export` carries it; a
//! participant who did not consent is in none of it, and an erased one leaves it.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};
use synchub_session::record::{
    DeviceKind, PairRecord, ParticipantMetrics, ParticipantRow, Phase, Record, ScheduleMode,
    ScoreSource, SessionRow, SessionSummary, SynchronyRound,
};
use synchub_store::{DataDir, Store, WriterConfig};

use crate::central_sync::{CentralDatabase, record_an_ended_session};
use crate::util::{synchub, test_config};

const T0_MS: i64 = 1_780_000_000_000;
const PREPARATION_SECS: i64 = 150;
const ACTIVE_SECS: i64 = 360;
const INTEGRATION_SECS: i64 = 60;
const END_MS: i64 = T0_MS + (PREPARATION_SECS + ACTIVE_SECS + INTEGRATION_SECS) * 1000;
/// Six people join; the third does not consent.
const PEOPLE: usize = 6;
const UNCONSENTING: usize = 2;

fn person(index: usize) -> String {
    format!("person-{index}")
}

/// A participant's coherence at `secs` into the session: a baseline around 25–35 in the
/// preparation, a rise through the active phase (different for each), the one who did not
/// consent falling instead (so that counting them would change every figure).
fn score(index: usize, secs: i64) -> f64 {
    let wiggle = ((secs / 5 + index as i64 * 3) % 7) as f64 - 3.0;
    let offset = index as f64 * 2.0;
    if secs < PREPARATION_SECS {
        return 25.0 + offset + wiggle;
    }
    let into_active = (secs - PREPARATION_SECS).min(ACTIVE_SECS) as f64 / ACTIVE_SECS as f64;
    if index == UNCONSENTING {
        return 70.0 - 50.0 * into_active + wiggle;
    }
    30.0 + offset + (25.0 + 3.0 * index as f64) * into_active + wiggle
}

/// A pair's synchrony strength at `secs`: rising in the active phase, and high whenever the
/// unconsenting participant is in the pair.
fn strength(a: usize, b: usize, secs: i64) -> f64 {
    if a == UNCONSENTING || b == UNCONSENTING {
        return 0.9;
    }
    let into_active = (secs - PREPARATION_SECS).clamp(0, ACTIVE_SECS) as f64 / ACTIVE_SECS as f64;
    0.25 + 0.4 * into_active + ((a + b) as f64 * 0.01)
}

/// A whole ended session written through the store, as the engine would have: phases, six
/// participants with a score every 5 s, synchrony every 5 s, the completion.
fn write_a_settling_session(data_dir: &DataDir) -> SessionId {
    let store = Store::open(data_dir, WriterConfig::default()).expect("the store opens");
    let secret = data_dir.org_secret().expect("the organisation secret");
    let session_id = SessionId(uuid::Uuid::from_u128(
        0x0193_a5c4_7d2e_7b3a_9f10_2c4d_5e6f_7a8b,
    ));
    let ids: Vec<ParticipantId> = (0..PEOPLE)
        .map(|index| {
            ParticipantId(uuid::Uuid::from_u128(
                0xa11c_e000_0000_7000_8000 + index as u128,
            ))
        })
        .collect();
    let mut records = vec![Record::SessionOpened(SessionRow {
        session_id,
        mode: ScheduleMode::Manual,
        slot_start_ms: None,
        started_at_ms: T0_MS,
        preparation_secs: PREPARATION_SECS as u32,
        active_secs: ACTIVE_SECS as u32,
        integration_secs: INTEGRATION_SECS as u32,
        planned_end_ms: END_MS,
    })];
    for (phase, start_secs, length_secs) in [
        (Phase::Preparation, 0, PREPARATION_SECS),
        (Phase::Active, PREPARATION_SECS, ACTIVE_SECS),
        (
            Phase::Integration,
            PREPARATION_SECS + ACTIVE_SECS,
            INTEGRATION_SECS,
        ),
    ] {
        records.push(Record::PhaseChanged {
            session_id,
            phase,
            at_ms: T0_MS + start_secs * 1000,
            ends_at_ms: Some(T0_MS + (start_secs + length_secs) * 1000),
        });
        if phase == Phase::Preparation {
            for (index, &participant_id) in ids.iter().enumerate() {
                records.push(Record::ParticipantJoined(ParticipantRow {
                    session_id,
                    participant_id,
                    pseudonym: secret.pseudonym(&person(index)),
                    intention: None,
                    research_consent: index != UNCONSENTING,
                    device: DeviceKind::Sim,
                    joined_at_ms: T0_MS + 1_000 + index as i64,
                    resume_token: ResumeToken([index as u8; 16]),
                }));
            }
        }
        for secs in (start_secs..start_secs + length_secs).step_by(5) {
            if secs >= 35 {
                for (index, &participant_id) in ids.iter().enumerate() {
                    records.push(Record::Metrics(ParticipantMetrics {
                        session_id,
                        participant_id,
                        at_ms: T0_MS + secs * 1000,
                        source: ScoreSource::Hub,
                        algorithm: Some(synchub_hrv::ALGORITHM),
                        score: score(index, secs),
                        ratio: Some(1.0),
                        peak_hz: Some(0.1),
                        breaths_per_min: Some(6.0),
                        hr_bpm: Some(65.0),
                        mean_rr_ms: Some(920.0),
                        sdnn_ms: Some(55.0),
                        rmssd_ms: Some(40.0),
                        artifact_fraction: Some(0.01),
                        quality: synchub_hrv::Quality::Good,
                    }));
                }
            }
            if secs >= 65 {
                let mut pairs = Vec::new();
                for a in 0..PEOPLE {
                    for b in a + 1..PEOPLE {
                        let strength = strength(a, b, secs);
                        pairs.push(PairRecord {
                            a: ids[a],
                            b: ids[b],
                            correlation: strength,
                            plv: strength,
                            strength,
                        });
                    }
                }
                let into_active = (secs - PREPARATION_SECS).clamp(0, ACTIVE_SECS) as f64;
                records.push(Record::Synchrony(SynchronyRound {
                    session_id,
                    at_ms: T0_MS + secs * 1000,
                    participants: PEOPLE as u32,
                    index: 0.2 + 0.5 * into_active / ACTIVE_SECS as f64,
                    surrogate_index: 0.25 + ((secs / 5) % 3) as f64 * 0.01,
                    mean_strength: 0.5,
                    surrogate_mean_strength: 0.2,
                    pairs_sampled: false,
                    pairs,
                }));
            }
        }
    }
    records.push(Record::PhaseChanged {
        session_id,
        phase: Phase::Complete,
        at_ms: END_MS,
        ends_at_ms: None,
    });
    records.push(Record::SessionCompleted {
        session_id,
        ended_at_ms: END_MS,
        summary: SessionSummary {
            duration_ms: END_MS - T0_MS,
            participants: PEOPLE as u32,
            average_coherence: Some(45.0),
            peak_coherence: Some(70.0),
            secs_low: 150.0,
            secs_medium: 300.0,
            secs_high: 120.0,
            average_synchrony: Some(0.4),
        },
    });
    let writer = store.writer();
    for record in records {
        writer.send(record).expect("the writer runs");
    }
    store.shutdown().expect("the store closes");
    session_id
}

fn sync(data_dir: &Path, url: &str) -> String {
    let output = synchub(&[
        "sync",
        "--once",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--database-url",
        url,
    ]);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    log
}

/// The `research.session_summary` rows as JSON objects.
async fn summaries(central: &CentralDatabase) -> Vec<Value> {
    central
        .client()
        .await
        .query(
            "SELECT to_jsonb(v)::text FROM research.session_summary v ORDER BY session_id",
            &[],
        )
        .await
        .expect("the view answers")
        .iter()
        .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
        .collect()
}

/// The figures of one change statistic in the report's JSON, in the view's order. Numbers
/// are compared as the `f64` both sides hold (PostgreSQL writes 1.0 as `1`).
fn change_figures(report: &Value, which: &str) -> [Option<f64>; 6] {
    let stats = &report["change"][which];
    [
        Some(stats["participants"].as_array().unwrap().len() as f64),
        stats["median_change"].as_f64(),
        stats["median_change_ci"]["low"].as_f64(),
        stats["median_change_ci"]["high"].as_f64(),
        stats["test"]["p_value"].as_f64(),
        stats["test"]["rank_biserial"].as_f64(),
    ]
}

/// The view's columns as numbers.
fn view_figures(summary: &Value, columns: [&str; 6]) -> [Option<f64>; 6] {
    columns.map(|column| summary[column].as_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_summary_reaches_the_central_view_once_with_the_reports_figures() {
    let central = CentralDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    let session_id = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || write_a_settling_session(&data_dir)
    })
    .await
    .unwrap();

    // The session ended before any report was kept: `synchub sync` builds it, then pushes it.
    let log = sync(dir.path(), &central.url);
    assert!(
        log.contains("stored the consented report of 1 ended session"),
        "{log}"
    );
    assert!(log.contains("session_reports"), "per-table progress: {log}");

    let rows = summaries(&central).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let summary = &rows[0];
    let stored: String = central
        .client()
        .await
        .query_one("SELECT report_json FROM session_reports", &[])
        .await
        .unwrap()
        .get(0);
    let report: Value = serde_json::from_str(&stored).unwrap();

    // Only the five who consented are in it, numbered 1–5.
    assert_eq!(summary["session_id"], session_id.0.to_string());
    assert_eq!(summary["date"], "2026-05-28");
    assert_eq!(summary["participants"], 5);
    assert_eq!(summary["n"], 5);
    assert_eq!(report["overview"]["participants"]["joined"], 5);
    assert_eq!(report["overview"]["participants"]["consented"], 5);
    let slots: Vec<&Value> = report["quality"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| &slot["slot"])
        .collect();
    assert_eq!(slots, [1, 2, 3, 4, 5]);
    assert_eq!(
        central
            .count("SELECT count(*) FROM session_participants")
            .await,
        5
    );

    // The view's figures are the report's own, to the last digit.
    let coherence = change_figures(&report, "coherence");
    assert!(coherence.iter().all(Option::is_some), "{coherence:?}");
    assert_eq!(
        view_figures(
            summary,
            [
                "n",
                "median_change",
                "median_change_ci_low",
                "median_change_ci_high",
                "p_value",
                "effect_size",
            ]
        ),
        coherence
    );
    let synchrony = change_figures(&report, "synchrony");
    assert!(synchrony.iter().all(Option::is_some), "{synchrony:?}");
    assert_eq!(
        view_figures(
            summary,
            [
                "synchrony_n",
                "synchrony_median_change",
                "synchrony_change_ci_low",
                "synchrony_change_ci_high",
                "synchrony_p_value",
                "synchrony_effect_size",
            ]
        ),
        synchrony
    );
    let share = report["synchrony"]["active_share_above_surrogate_p95"].as_f64();
    assert!(share.is_some_and(|share| share > 0.5), "{share:?}");
    assert_eq!(summary["synchrony_share_above_surrogate"].as_f64(), share);
    assert_eq!(summary["baseline_window"], "preparation");
    assert_eq!(summary["end_window"], "last_five_minutes_of_active");
    assert_eq!(summary["report_schema"], "synchub-report/1");
    assert_eq!(summary["algorithms"], synchub_hrv::ALGORITHM);
    // Every one of the five rose: p is exact for 5 pairs, all ranks positive.
    assert!(
        summary["median_change"].as_f64().unwrap() > 20.0,
        "{summary}"
    );
    assert_eq!(summary["effect_size"].as_f64(), Some(1.0));
    assert_eq!(summary["p_value"].as_f64(), Some(0.0625));

    // It is the report a hub makes of its consented participants; everyone's differs.
    let database_path = data_dir.database_path();
    let consented = synchub::session_reports::build_consented(&database_path, session_id)
        .expect("the consented report builds");
    assert_eq!(consented.to_json(), stored);
    let everyone =
        synchub::report::build(&database_path, synchub::report::Which::Id(session_id), None)
            .expect("the full report builds")
            .1;
    assert_eq!(everyone.overview.participants.joined, 6);
    assert_ne!(
        everyone.change.coherence.median_change,
        consented.change.coherence.median_change
    );
    assert_ne!(
        everyone.change.synchrony.median_change,
        consented.change.synchrony.median_change
    );

    // A retry builds nothing and pushes nothing twice.
    let log = sync(dir.path(), &central.url);
    assert!(!log.contains("stored the consented report"), "{log}");
    assert!(log.contains("pushed 0 rows"), "{log}");
    assert_eq!(
        central.count("SELECT count(*) FROM session_reports").await,
        1
    );
    assert_eq!(summaries(&central).await.len(), 1);

    // The researcher's export carries the summary, in every format.
    let out = dir.path().join("research");
    for format in ["csv", "json", "parquet"] {
        let output = synchub(&[
            "research",
            "export",
            "--database-url",
            &central.url,
            "--format",
            format,
            "--out",
            out.join(format).to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join(format).join("manifest.json")).unwrap())
                .unwrap();
        let file = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["view"] == "research.session_summary")
            .unwrap_or_else(|| panic!("{manifest}"));
        assert_eq!(file["rows"], 1, "{manifest}");
        assert_eq!(file["file"], format!("session_summary.{format}"));
    }
    let exported: Value = serde_json::from_slice(
        &std::fs::read(out.join("json").join("session_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(exported[0]["session_id"], session_id.0.to_string());
    assert_eq!(exported[0]["n"].as_i64(), Some(5));
    for column in [
        "p_value",
        "median_change",
        "effect_size",
        "synchrony_share_above_surrogate",
    ] {
        assert_eq!(
            exported[0][column].as_f64(),
            summary[column].as_f64(),
            "{column}"
        );
    }
    let csv = std::fs::read_to_string(out.join("csv").join("session_summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().next().unwrap().contains(",n,"), "{csv}");

    // A consented participant erased on the hub: the next sync replaces the report with one
    // made without them, and the central copy made with them goes.
    let pseudonym = data_dir.org_secret().unwrap().pseudonym(&person(0));
    let output = synchub(&[
        "research",
        "erase-participant",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--pseudonym",
        &pseudonym,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = sync(dir.path(), &central.url);
    assert!(
        log.contains("stored the consented report of 1 ended session"),
        "{log}"
    );
    assert_eq!(
        central.count("SELECT count(*) FROM session_reports").await,
        1
    );
    let rows = summaries(&central).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["participants"], 4);
    assert_eq!(rows[0]["n"], 4);
    central.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_keeps_the_consented_report_of_a_session_when_it_ends() {
    let central = CentralDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let hub = synchub::serve::start(test_config(dir.path(), None))
        .await
        .unwrap();
    // Alice consents, Bob does not.
    record_an_ended_session(&hub).await;
    let database_path = dir.path().join("synchub.sqlite3");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let stored: (i64, String) = loop {
        let connection = rusqlite::Connection::open_with_flags(
            &database_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let row = connection
            .query_row(
                "SELECT participants, report_json FROM session_reports",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .ok();
        if let Some(row) = row {
            break row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no report was stored after the session ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    hub.stop().await.unwrap();
    assert_eq!(stored.0, 1);
    let report: Value = serde_json::from_str(&stored.1).unwrap();
    assert_eq!(report["overview"]["participants"]["joined"], 1);
    assert_eq!(report["quality"].as_array().unwrap().len(), 1);

    // Stored already: `synchub sync` builds nothing more and sends it.
    let log = sync(dir.path(), &central.url);
    assert!(!log.contains("stored the consented report"), "{log}");
    assert_eq!(
        central.count("SELECT count(*) FROM session_reports").await,
        1
    );
    assert_eq!(
        central
            .count("SELECT count(*) FROM research.session_summary WHERE participants = 1")
            .await,
        1
    );
    central.drop().await;
}
