//! A session with simulated participants, opened through a store's writer: shared by the ingest
//! benchmark (`benches/ingest.rs`) and the crash-test child (`src/bin/store-crash-child.rs`),
//! which include this file by path. They cannot use `tests/util.rs`: the child is a binary,
//! built without the dev-dependencies that file needs.

use synchub_session::ids::{ParticipantId, ResumeToken};
use synchub_session::record::{DeviceKind, ParticipantRow, Record, SessionRow};
use synchub_store::WriterHandle;

/// Sends `session`, then one consenting simulated participant per pseudonym, joined when the
/// session started (waiting while the queue is full); returns the participants' ids in order.
pub fn open_session(
    writer: &WriterHandle,
    session: SessionRow,
    pseudonyms: impl IntoIterator<Item = String>,
) -> Vec<ParticipantId> {
    let (session_id, joined_at_ms) = (session.session_id, session.started_at_ms);
    writer
        .send(Record::SessionOpened(session))
        .expect("the writer runs");
    pseudonyms
        .into_iter()
        .enumerate()
        .map(|(index, pseudonym)| {
            let participant_id = ParticipantId(uuid::Uuid::now_v7());
            writer
                .send(Record::ParticipantJoined(ParticipantRow {
                    session_id,
                    participant_id,
                    pseudonym,
                    intention: None,
                    research_consent: true,
                    device: DeviceKind::Sim,
                    joined_at_ms,
                    resume_token: ResumeToken([index as u8; 16]),
                }))
                .expect("the writer runs");
            participant_id
        })
        .collect()
}
