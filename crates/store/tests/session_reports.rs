//! Session reports kept for central sync: one per session and schema, only for an ended
//! session whose consented roster is the one the report was built from, deleted by a consented
//! participant's erasure (so that it is built again without them), and in the research export.

use synchub_session::ids::SessionId;
use synchub_store::{
    ChangeSummary, ExportFormat, ExportRequest, SavedReport, SessionReportRow, Store,
};

use crate::util::{self, T0_MS};

const SCHEMA: &str = "synchub-report/1";

fn report(session_id: SessionId, participants: u32) -> SessionReportRow {
    SessionReportRow {
        session_id,
        report_schema: SCHEMA.to_owned(),
        algorithms: Some("synchub-coherence/1".to_owned()),
        participants,
        participants_with_data: participants,
        baseline_window: Some("preparation".to_owned()),
        end_window: Some("last_five_minutes_of_active".to_owned()),
        coherence: ChangeSummary {
            n: participants,
            median_change: Some(12.5),
            ci_low: Some(3.0),
            ci_high: Some(20.0),
            p_value: Some(0.03125),
            effect_size: Some(1.0),
        },
        synchrony: ChangeSummary::default(),
        synchrony_active_share_above_surrogate: Some(0.75),
        report_json: format!("{{\"schema\":\"{SCHEMA}\",\"participants\":{participants}}}"),
    }
}

fn missing(store: &Store) -> Vec<SessionId> {
    store
        .reader()
        .unwrap()
        .sessions_without_report(SCHEMA)
        .unwrap()
}

#[test]
fn a_report_is_kept_once_for_its_roster_and_goes_with_a_consented_participants_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let session = util::session_id(1);
    let (ann, ben, cat) = (
        util::participant_id(1),
        util::participant_id(2),
        util::participant_id(3),
    );
    util::write_all(
        &store,
        [
            util::session_opened(session, T0_MS),
            util::joined(session, ann, "ann", true),
            util::joined(session, ben, "ben", true),
            util::joined(session, cat, "cat", false),
        ],
    );

    // A running session has no report yet, and none is taken for it.
    assert!(missing(&store).is_empty());
    assert_eq!(
        store.save_session_report(report(session, 2)).unwrap(),
        SavedReport::Outdated
    );
    assert_eq!(
        store
            .save_session_report(report(util::session_id(9), 2))
            .unwrap(),
        SavedReport::UnknownSession
    );
    store.close_interrupted(session, T0_MS + 900_000).unwrap();
    assert_eq!(missing(&store), [session]);

    // Built from everyone (three), not from the two who consented: refused.
    assert_eq!(
        store.save_session_report(report(session, 3)).unwrap(),
        SavedReport::Outdated
    );
    assert_eq!(
        store.save_session_report(report(session, 2)).unwrap(),
        SavedReport::Saved
    );
    assert_eq!(
        store.save_session_report(report(session, 2)).unwrap(),
        SavedReport::AlreadyStored
    );
    assert!(missing(&store).is_empty());
    let stored = store.reader().unwrap().session_report(session).unwrap();
    assert_eq!(stored, Some(report(session, 2).report_json));

    // The export carries the summary columns, named by session id, without the whole JSON.
    let out = dir.path().join("export");
    store
        .export(
            &ExportRequest {
                from_ms: None,
                to_ms: None,
                format: ExportFormat::Csv,
                out_dir: out.clone(),
            },
            &mut |_| {},
        )
        .unwrap();
    let csv = std::fs::read_to_string(out.join("session_reports.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("session_id,report_schema,algorithms,created_at_ms,participants,"),
        "{header}"
    );
    assert!(header.contains("coherence_p_value"), "{header}");
    assert!(!header.contains("report_json"), "{header}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("{},{SCHEMA},", session.0)),
        "{row}"
    );
    assert!(row.contains(",0.03125,"), "{row}");
    assert_eq!(lines.next(), None);

    // Erasing someone who is in no report keeps it; erasing a consented participant deletes
    // it, and only a report without them is taken again.
    store.erase_participant("cat").unwrap();
    assert!(missing(&store).is_empty());
    store.erase_session_participant(session, ann).unwrap();
    assert_eq!(missing(&store), [session]);
    assert_eq!(
        store.reader().unwrap().session_report(session).unwrap(),
        None
    );
    assert_eq!(
        store.save_session_report(report(session, 2)).unwrap(),
        SavedReport::Outdated
    );
    assert_eq!(
        store.save_session_report(report(session, 1)).unwrap(),
        SavedReport::Saved
    );
    store.erase_participant("ben").unwrap();
    assert_eq!(missing(&store), [session]);
    store.shutdown().unwrap();
}
