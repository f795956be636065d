//! Privacy: raw user ids and private notes never reach the database files or the logs.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use synchub_store::{DataDir, OrgSecret};

use crate::util;

/// Collects everything the store logs, at every level.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn raw_user_ids_and_notes_appear_in_neither_database_files_nor_logs() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    // Global, not thread-local: the writer thread logs too. No other test installs one.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let dir = tempfile::tempdir().unwrap();
    let secret: OrgSecret = DataDir::new(dir.path()).org_secret().unwrap();
    let raw_ids = ["alice@example.org", "user-7731-bob", "+44 7700 900123"];
    let note = "my private intention: heal my mother";
    let session = util::session_id(1);
    // The store is also kept open (no checkpoint at close) so the WAL file still holds data.
    let store = util::open(dir.path());
    let mut records = vec![util::session_opened(session, util::T0_MS)];
    for (n, raw) in raw_ids.iter().enumerate() {
        let participant = util::participant_id(n as u128);
        // The hub pseudonymises before anything reaches the engine; the note stays on the phone.
        records.push(util::joined(
            session,
            participant,
            &secret.pseudonym(raw),
            n % 2 == 0,
        ));
        records.push(util::beats(session, participant, 1, 5));
        // Beats of an unknown participant make the store log an error: logs are exercised too.
        records.push(util::beats(session, util::participant_id(99), 1, 5));
    }
    util::write_all(&store, records);
    store
        .erase_participant(&secret.pseudonym(raw_ids[0]))
        .unwrap();

    let mut database_bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", store.database_path().display());
        database_bytes.extend(std::fs::read(&path).unwrap());
    }
    let logged = logs.0.lock().unwrap().clone();
    assert!(!logged.is_empty(), "the run logged something");
    assert!(
        contains(&database_bytes, &secret.pseudonym(raw_ids[1])),
        "the check can see stored text"
    );
    for secret_text in raw_ids.iter().copied().chain([note]) {
        assert!(
            !contains(&database_bytes, secret_text),
            "{secret_text} in the database"
        );
        assert!(!contains(&logged, secret_text), "{secret_text} in the logs");
    }
    std::io::stderr().flush().unwrap();
}
