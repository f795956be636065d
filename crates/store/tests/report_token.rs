//! A resume token opens its holder's own report for a day after the session: the store keeps
//! the token's hash when the token itself is cleared at completion, finds the holder's row by
//! it, refuses it after the day, and forgets it once a later session completes.

use synchub_session::ids::ResumeToken;
use synchub_session::record::{Record, SessionSummary};
use synchub_store::REPORT_TOKEN_LIFETIME_MS;

use crate::util;

fn completed(session: synchub_session::ids::SessionId, ended_at_ms: i64) -> Record {
    Record::SessionCompleted {
        session_id: session,
        ended_at_ms,
        summary: SessionSummary {
            duration_ms: ended_at_ms - util::T0_MS,
            participants: 2,
            average_coherence: None,
            peak_coherence: None,
            secs_low: 0.0,
            secs_medium: 0.0,
            secs_high: 0.0,
            average_synchrony: None,
        },
    }
}

/// The token `util::joined` gives a participant.
fn token_of(participant: synchub_session::ids::ParticipantId) -> ResumeToken {
    ResumeToken([participant.0.as_bytes()[15]; 16])
}

#[test]
fn a_token_finds_its_own_row_for_a_day_after_the_session_and_then_never() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let (session, later_session) = (util::session_id(1), util::session_id(2));
    let (alice, bob) = (util::participant_id(1), util::participant_id(2));
    let ended_ms = util::T0_MS + 900_000;
    util::write_all(
        &store,
        [
            util::session_opened(session, util::T0_MS),
            util::joined(session, alice, "alice-pseudonym", true),
            util::joined(session, bob, "bob-pseudonym", false),
        ],
    );
    let reader = store.reader().unwrap();
    let owner = |token: &ResumeToken, now_ms: i64| {
        reader
            .report_token_owner(token, now_ms)
            .unwrap()
            .map(|owner| (owner.session_id, owner.participant_id))
    };
    // While the session runs the token is known, and each token names its own row.
    assert_eq!(
        owner(&token_of(alice), util::T0_MS + 5_000),
        Some((session, alice))
    );
    assert_eq!(
        owner(&token_of(bob), util::T0_MS + 5_000),
        Some((session, bob))
    );

    util::write_all(&store, [completed(session, ended_ms)]);
    let connection = util::sql(&store);
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM session_participants WHERE resume_token IS NOT NULL"
        ),
        0,
        "the tokens themselves are cleared at completion"
    );
    assert_eq!(
        owner(&token_of(alice), ended_ms + 60_000),
        Some((session, alice))
    );
    assert_eq!(
        owner(&token_of(alice), ended_ms + REPORT_TOKEN_LIFETIME_MS - 1),
        Some((session, alice))
    );
    assert_eq!(
        owner(&token_of(alice), ended_ms + REPORT_TOKEN_LIFETIME_MS),
        None
    );
    assert_eq!(owner(&ResumeToken([0xEE; 16]), ended_ms + 60_000), None);

    // A session that completes more than a day later clears the old hashes for good.
    let later_start_ms = ended_ms + REPORT_TOKEN_LIFETIME_MS + 60_000;
    util::write_all(
        &store,
        [
            util::session_opened(later_session, later_start_ms),
            completed(later_session, later_start_ms + 60_000),
        ],
    );
    assert_eq!(
        util::count(
            &connection,
            "SELECT count(*) FROM session_participants WHERE report_token_sha256 IS NOT NULL"
        ),
        0
    );
    assert_eq!(owner(&token_of(alice), ended_ms + 60_000), None);
}

#[test]
fn erasing_the_row_removes_its_report_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let session = util::session_id(1);
    let alice = util::participant_id(1);
    util::write_all(
        &store,
        [
            util::session_opened(session, util::T0_MS),
            util::joined(session, alice, "alice-pseudonym", true),
            completed(session, util::T0_MS + 900_000),
        ],
    );
    store.erase_session_participant(session, alice).unwrap();
    let reader = store.reader().unwrap();
    assert_eq!(
        reader
            .report_token_owner(&token_of(alice), util::T0_MS + 901_000)
            .unwrap(),
        None
    );
}
