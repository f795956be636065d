//! The reports that leave the hub: every ended session's report, made from the participants
//! who consented to research use only, kept in the store's `session_reports` for central sync
//! and the research export.
//!
//! [`store_missing`] builds and stores the report of every ended session that has none of the
//! current schema. A running hub calls it when it starts (sessions that ended before this
//! version of the hub, or while it was stopped, get theirs then) and each time a session ends
//! ([`keep_up`]); `synchub sync` calls it before it pushes, so a data directory synced without
//! a hub running is complete too. Building is idempotent: the store keeps one report per
//! session and schema, and refuses one whose roster changed meanwhile (an erasure deletes the
//! reports made from the erased participant's data; the next call builds them again).

use std::path::Path;
use std::sync::Arc;

use synchub_report::{Report, SCHEMA, SessionData};
use synchub_session::SessionId;
use synchub_session::record::Phase;
use synchub_store::{SavedReport, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine_task::RoomView;
use crate::report::{ReportError, seed_of};

/// What [`store_missing`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredReports {
    /// Reports built and stored.
    pub stored: u32,
    /// Reports the store refused as outdated (built again next time).
    pub outdated: u32,
}

/// The report of `session_id` as it may leave the hub: consented participants only, no room
/// name, seeded like every other copy of the session's report.
pub fn build_consented(database_path: &Path, session_id: SessionId) -> Result<Report, ReportError> {
    let data = SessionData::load_consented(database_path, session_id)?;
    Ok(Report::build(&data, seed_of(session_id)))
}

/// Builds and stores the report of every ended session without one of the current schema.
/// Blocking: run it off the async runtime.
pub fn store_missing(store: &Store) -> Result<StoredReports, ReportError> {
    // Records queued before now (a session's completion among them) are in the database first.
    store.flush()?;
    let missing = store.reader()?.sessions_without_report(SCHEMA)?;
    let mut done = StoredReports::default();
    for session_id in missing {
        let report = build_consented(store.database_path(), session_id)?;
        match store.save_session_report(report.stored_row(session_id))? {
            SavedReport::Saved => done.stored += 1,
            SavedReport::Outdated => done.outdated += 1,
            SavedReport::AlreadyStored | SavedReport::UnknownSession => {}
        }
    }
    Ok(done)
}

/// Runs [`store_missing`] now and again whenever the room's session ends (completes, or gives
/// way to another), until the view's sender is gone. A failure is logged and tried again at
/// the next end. A session that began and ended while a build was under way is caught by the
/// next one (every build stores every missing report).
pub fn keep_up(store: Arc<Store>, mut view: watch::Receiver<Arc<RoomView>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sessions = SessionEnds::default();
        let mut due = true;
        loop {
            if std::mem::take(&mut due) {
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store_missing(&store)).await {
                    Ok(Ok(done)) if done.stored > 0 || done.outdated > 0 => tracing::info!(
                        stored = done.stored,
                        outdated = done.outdated,
                        "stored the consented session reports for central sync"
                    ),
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => tracing::warn!(
                        %error,
                        "could not store a session report for central sync; trying again when \
                         the next session ends"
                    ),
                    Err(error) => tracing::warn!(%error, "the session report task failed"),
                }
            }
            if view.changed().await.is_err() {
                return;
            }
            let current = view
                .borrow_and_update()
                .session
                .as_ref()
                .map(|session| (session.session_id, session.phase));
            due = sessions.ended(current).is_some();
        }
    })
}

/// Follows the room's current session to tell when one ends, once per session.
#[derive(Debug, Default)]
struct SessionEnds {
    /// The session seen running last.
    running: Option<SessionId>,
    /// The session whose end was told last.
    ended: Option<SessionId>,
}

impl SessionEnds {
    /// Given the room's current session and its phase, the session that has just ended: the
    /// current one when it is complete, or the one seen running before when another (or none)
    /// took its place.
    fn ended(&mut self, current: Option<(SessionId, Phase)>) -> Option<SessionId> {
        let running = current
            .filter(|(_, phase)| *phase != Phase::Complete)
            .map(|(id, _)| id);
        let ended = match current {
            Some((id, Phase::Complete)) => Some(id),
            _ => self.running.filter(|id| running != Some(*id)),
        }
        .filter(|id| self.ended != Some(*id));
        self.running = running;
        if ended.is_some() {
            self.ended = ended;
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_once_when_it_completes_or_gives_way() {
        let a = SessionId(uuid::Uuid::from_u128(1));
        let b = SessionId(uuid::Uuid::from_u128(2));
        let mut ends = SessionEnds::default();
        assert_eq!(ends.ended(None), None);
        assert_eq!(ends.ended(Some((a, Phase::Active))), None);
        assert_eq!(ends.ended(Some((a, Phase::Integration))), None);
        assert_eq!(ends.ended(Some((a, Phase::Complete))), Some(a));
        assert_eq!(ends.ended(Some((a, Phase::Complete))), None);
        assert_eq!(ends.ended(None), None);
        assert_eq!(ends.ended(Some((b, Phase::Preparation))), None);
        // Another session took its place without a complete phase in between.
        let c = SessionId(uuid::Uuid::from_u128(3));
        assert_eq!(ends.ended(Some((c, Phase::Preparation))), Some(b));
        assert_eq!(ends.ended(None), Some(c));
        // A session first seen complete (it ran while a build was under way) ends too.
        let d = SessionId(uuid::Uuid::from_u128(4));
        assert_eq!(ends.ended(Some((d, Phase::Complete))), Some(d));
    }
}
