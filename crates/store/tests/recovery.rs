//! Recovery: a session left open by a crash is found with its participants, and can be closed.

use synchub_session::record::Phase;

use crate::util;

#[test]
fn an_interrupted_session_is_found_with_its_present_participants_and_last_seq() {
    let dir = tempfile::tempdir().unwrap();
    let session = util::session_id(1);
    let (stays, left) = (util::participant_id(1), util::participant_id(2));
    {
        let store = util::open(dir.path());
        util::write_all(
            &store,
            [
                util::session_opened(session, util::T0_MS),
                synchub_store::Record::PhaseChanged {
                    session_id: session,
                    phase: Phase::Active,
                    at_ms: util::T0_MS + 60_000,
                    ends_at_ms: Some(util::T0_MS + 780_000),
                },
                util::joined(session, stays, "stays", true),
                util::joined(session, left, "left", false),
                util::beats(session, stays, 41, 5),
                util::beats(session, stays, 42, 5),
                synchub_store::Record::ParticipantClosed(
                    synchub_session::record::ParticipantClosed {
                        session_id: session,
                        participant_id: left,
                        left_at_ms: util::T0_MS + 70_000,
                        peak_coherence: None,
                        high_coherence_secs: 0.0,
                    },
                ),
            ],
        );
        // No SessionCompleted: the hub "dies" here.
    }
    let store = util::open(dir.path());
    let recovered = store.recovered().expect("interrupted session");
    assert_eq!(recovered.session_id(), session);
    let restored = &recovered.restored;
    assert_eq!(restored.phase, Phase::Active);
    assert_eq!(restored.phase_started_at_ms, util::T0_MS + 60_000);
    assert_eq!(restored.joined_total, 2);
    assert_eq!(
        restored.participants.len(),
        1,
        "only participants who had not left"
    );
    let participant = &restored.participants[0];
    let synchub_store::Record::ParticipantJoined(joined) =
        util::joined(session, stays, "stays", true)
    else {
        unreachable!()
    };
    assert_eq!(
        participant.row, joined,
        "the row as joined, resume token included"
    );
    assert_eq!(participant.durable_seqs, vec![41, 42]);
    assert!(!recovered.has_ended_by(util::T0_MS + 100_000));
    assert!(recovered.has_ended_by(util::T0_MS + 900_000));
}

#[test]
fn closing_an_interrupted_session_stores_a_summary_from_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let session = util::session_id(1);
    let participant = util::participant_id(1);
    {
        let store = util::open(dir.path());
        util::write_all(
            &store,
            [
                util::session_opened(session, util::T0_MS),
                util::joined(session, participant, "p", true),
                util::metrics(session, participant, util::T0_MS + 5_000, 6.5),
                util::snapshot(session, util::T0_MS + 1_000, 2.0),
                util::snapshot(session, util::T0_MS + 2_000, 4.0),
            ],
        );
    }
    let store = util::open(dir.path());
    let ended_at_ms = util::T0_MS + 900_000;
    let summary = store.close_interrupted(session, ended_at_ms).unwrap();
    assert_eq!(summary.duration_ms, 900_000);
    assert_eq!(summary.participants, 1);
    assert_eq!(summary.average_coherence, Some(3.0));
    assert_eq!(summary.secs_medium, 2.0);
    let detail = store.reader().unwrap().session(session).unwrap().unwrap();
    assert_eq!(detail.overview.ended_at_ms, Some(ended_at_ms));
    assert!(detail.overview.closed_on_recovery);
    assert_eq!(detail.overview.summary, Some(summary));
    assert_eq!(detail.participants[0].left_at_ms, Some(ended_at_ms));
    assert_eq!(detail.participants[0].peak_coherence, Some(6.5));
    drop(store);
    assert!(
        util::open(dir.path()).recovered().is_none(),
        "closed sessions are not recovered again"
    );
}
