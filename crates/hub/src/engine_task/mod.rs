//! The one task that owns the session engine: it takes every input from one channel of
//! [`Input`]s, reads time through the hub's [`Clock`], and carries out the engine's effects —
//! messages to one participant, broadcasts serialised once for the whole room, records handed
//! to the store's writer — in the order the engine produced them.
//!
//! Shaped like rust-analyzer's main loop: one closed `enum` of events, handled one at a time, so
//! the engine needs no lock and its state is never seen half-updated. The engine itself is
//! sans-IO (`synchub-session`); this task is the only place its clock is read. It knows no
//! transport: connections are [`Peer`]s, client requests arrive as domain inputs
//! ([`ClientInput`](crate::client_input::ClientInput)), and a Socket.IO acknowledgement is a
//! [`Reply`] the edge answers.
//!
//! The pieces, one concern each: `run` (the loop, its wake-ups, facilitator commands, the clean
//! stop), `routing` (connections ↔ participants, and what each client input does), `fanout`
//! (draining the engine: sends, broadcasts, replies, the published view), `backlog` (the
//! store's queue and the records held while it is full), `straps` (hub-read straps and their
//! claimers).
//!
//! Store backpressure is explicit: when the writer's queue is full, records wait here in order
//! (logged and counted; bounded, see `backlog`), and new beats are refused with `rate_limited`
//! until the store catches up; while the store cannot write at all (disk full, read-only,
//! locked) they are refused with `store_unavailable` — either way the phone keeps them and
//! resends unacked batches.

mod backlog;
mod fanout;
mod handle;
mod routing;
mod run;
mod straps;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use synchub_protocol::Role;
use synchub_session::{Engine, ParticipantId, ResumeToken};
use synchub_store::{StoreHealth, WriterHandle};
use tokio::sync::{mpsc, oneshot, watch};

pub use backlog::BACKLOG_LIMIT;
pub use handle::{AdminCommand, Answer, EngineHandle, Identity, Input, Reply, RoomView};

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer};
use crate::room::RoomSettings;

/// Capacity of the engine's input channel. Connection handlers wait when it is full, which
/// slows their reads and so the clients: backpressure reaches the sockets instead of memory.
pub const INPUT_CAPACITY: usize = 8192;

/// One live connection.
struct Conn {
    peer: Arc<dyn Peer>,
    role: Role,
    pseudonym: String,
    resume_token: Option<ResumeToken>,
    participant: Option<ParticipantId>,
    /// `resumeToken` of this connection's participant, for a repeated `join_session`.
    issued_token: Option<ResumeToken>,
    /// Clock offset (hub − client) measured before joining.
    clock_offset_ms: Option<f64>,
    /// Set when this connection is a hub-read strap rather than a socket.
    strap: Option<straps::StrapLink>,
}

/// The acknowledgement a client asked for with the input being handled.
struct PendingReply {
    conn: ConnId,
    answered_by: &'static [&'static str],
    answer: oneshot::Sender<Answer>,
}

/// The engine task's state.
pub struct EngineTask {
    engine: Engine,
    clock: Clock,
    room: watch::Receiver<RoomSettings>,
    conns: HashMap<ConnId, Conn>,
    by_participant: HashMap<ParticipantId, ConnId>,
    store: backlog::StoreFeed,
    metrics: Arc<Metrics>,
    view: watch::Sender<Arc<RoomView>>,
    view_dirty: bool,
    pending_reply: Option<PendingReply>,
    /// Participants of the current session whose token was spent on an erasure: it names
    /// nobody any more, although the engine still knows it until the session completes.
    spent_tokens: HashSet<ParticipantId>,
    /// Connections that claimed a strap (`claim_strap`), by the strap's connection: they get
    /// its wearer's `personal_feedback`.
    claims: HashMap<ConnId, Vec<ConnId>>,
}

impl std::fmt::Debug for EngineTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTask")
            .field("connections", &self.conns.len())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl EngineTask {
    /// Wraps `engine`, which reads time from `clock`; returns the task, the handle to reach it
    /// and the receiving end of its inputs (for [`EngineTask::run`]).
    pub fn new(
        engine: Engine,
        clock: Clock,
        room: watch::Receiver<RoomSettings>,
        writer: WriterHandle,
        store_health: StoreHealth,
        metrics: Arc<Metrics>,
    ) -> (EngineTask, EngineHandle, mpsc::Receiver<Input>) {
        let (inputs, receiver) = mpsc::channel(INPUT_CAPACITY);
        let (view, view_receiver) = watch::channel(Arc::new(RoomView::default()));
        let mut task = EngineTask {
            engine,
            clock: clock.clone(),
            room,
            conns: HashMap::new(),
            by_participant: HashMap::new(),
            store: backlog::StoreFeed::new(writer, store_health, metrics.clone()),
            metrics,
            view,
            view_dirty: true,
            pending_reply: None,
            spent_tokens: HashSet::new(),
            claims: HashMap::new(),
        };
        // Records from opening (rolling) or restoring a session go out before anything else.
        task.drain();
        (
            task,
            EngineHandle {
                inputs,
                view: view_receiver,
                clock,
            },
            receiver,
        )
    }
}
