//! The reader's one copy of what it knows, shared by its supervisor, its strap tasks and the
//! caller's snapshot: statuses under one mutex, and the event channel that announces changes.
//!
//! One mutex for straps and adapters keeps a snapshot consistent (a strap's `adapter` and that
//! adapter's `straps` always agree), and it is held only for field assignments and clones.

use super::ReaderConfig;
use super::status::{AdapterStatus, ReaderSnapshot, StrapEvent, StrapId, StrapStatus};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// What the supervisor and the strap tasks share.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<ReaderState>,
    pub(super) events: mpsc::Sender<StrapEvent>,
    pub(super) config: ReaderConfig,
}

#[derive(Debug, Default)]
struct ReaderState {
    straps: BTreeMap<StrapId, StrapStatus>,
    adapters: Vec<AdapterStatus>,
}

impl Shared {
    pub(super) fn new(config: ReaderConfig, events: mpsc::Sender<StrapEvent>) -> Shared {
        Shared {
            state: Mutex::new(ReaderState::default()),
            events,
            config,
        }
    }

    pub(super) fn now_ms(&self) -> i64 {
        (self.config.now_ms)()
    }

    /// The state. A panic elsewhere while holding the lock leaves a state that is still
    /// consistent (every change is a field assignment), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, ReaderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn snapshot(&self) -> ReaderSnapshot {
        let state = self.lock();
        ReaderSnapshot::new(
            state.adapters.clone(),
            state.straps.values().cloned().collect(),
        )
    }

    pub(super) fn straps(&self) -> Vec<StrapStatus> {
        self.lock().straps.values().cloned().collect()
    }

    #[cfg(test)]
    pub(super) fn status(&self, id: &StrapId) -> Option<StrapStatus> {
        self.lock().straps.get(id).cloned()
    }

    /// Records a strap heard for the first time and announces it.
    pub(super) fn insert(&self, status: StrapStatus) {
        {
            let mut state = self.lock();
            if let Some(other) = state
                .straps
                .values()
                .find(|other| other.code == status.code && other.id != status.id)
            {
                warn!(
                    strap = %status.id, other = %other.id, code = %status.code,
                    "two straps share a code; a participant claiming it is ambiguous"
                );
            }
            state.straps.insert(status.id.clone(), status.clone());
        }
        self.send_status(status);
    }

    /// Changes a strap's status and sends a status event when its settled part changed.
    pub(super) fn update(&self, id: &StrapId, change: impl FnOnce(&mut StrapStatus)) {
        let changed = {
            let mut state = self.lock();
            let Some(status) = state.straps.get_mut(id) else {
                return;
            };
            let before = status.settled();
            change(status);
            (status.settled() != before).then(|| status.clone())
        };
        if let Some(status) = changed {
            self.send_status(status);
        }
    }

    /// Replaces the adapter list and sends an adapters event when it changed.
    pub(super) fn set_adapters(&self, adapters: Vec<AdapterStatus>) {
        {
            let mut state = self.lock();
            if state.adapters == adapters {
                return;
            }
            state.adapters = adapters.clone();
        }
        self.send(StrapEvent::Adapters(adapters));
    }

    fn send_status(&self, status: StrapStatus) {
        self.send(StrapEvent::Status(status));
    }

    /// Status and adapter events never wait: one that finds the channel full is skipped, as
    /// the snapshot has it anyway.
    fn send(&self, event: StrapEvent) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            debug!("strap event channel full; status event skipped (the snapshot has it)");
        }
    }
}
