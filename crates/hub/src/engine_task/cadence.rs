//! When each connection hears the group's figures (`group_metrics_update`).
//!
//! The hub's own clients announce the protocol version in their handshake and get the figures
//! of every 1 Hz tick. A client that announces nothing speaks the original platform's protocol
//! and gets its original cadence: the figures right after each of its own `update_coherence`
//! (computed then, so they include that score), and otherwise every 5 s. Some original clients
//! lean on that quiet: the original web client re-arms its 1 s "send my score" timer on every
//! event it receives, so figures every second would reset the timer before it fires, forever,
//! and its scores would never reach the room.
//!
//! The 5 s is per connection and restarts with each answer to an own score, like the score's
//! `personal_feedback` (the session engine restarts its 5 s feedback cadence the same way), so
//! a client that keeps sending scores is not interrupted by a periodic repeat between its own
//! answers, and a quiet one hears both periodic events in the same tick. (The original backend
//! ran a plain 5 s interval per socket; against a client that re-arms on every event that
//! interval phase-locks just ahead of the client's timer and costs it one send in five.)
//!
//! Cost: no timer per connection. The periodic figures ride on the 1 Hz tick's broadcast, whose
//! pass over the connections already exists: an original client is among the tick's recipients
//! only when its own 5 s are up. Answers to scores are computed once per burst of inputs (one
//! pass over the room) and serialised once for everyone who sent a score in that burst; one
//! client's score is never re-broadcast to the room. Messages stay O(N) per second.

use synchub_protocol::Role;
use synchub_session::Broadcast;

use super::{Conn, EngineTask};
use crate::convert;
use crate::encoded::Encoded;
use crate::peer::ConnId;

/// The original cadence's period: the original backend's per-socket timer.
pub const ORIGINAL_PERIOD_MS: i64 = 5_000;

/// How often a connection gets `group_metrics_update`, as its handshake announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// The hub's own clients (and displays): the figures of every tick, 1 Hz.
    EveryTick,
    /// Original clients: after each own `update_coherence`, otherwise every 5 s.
    Original,
}

/// A connection's cadence and, for an original client, where it stands in its 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupUpdates {
    EveryTick,
    Original {
        /// The first tick at or after this time carries this client's periodic figures.
        next_periodic_ms: i64,
    },
}

impl GroupUpdates {
    pub(super) fn new(cadence: Cadence) -> Self {
        match cadence {
            Cadence::EveryTick => GroupUpdates::EveryTick,
            // Started for real when the connection gets a participant (`restart`).
            Cadence::Original => GroupUpdates::Original {
                next_periodic_ms: i64::MAX,
            },
        }
    }

    /// Restarts an original client's 5 s from `now_ms` (joining, or an answer to its score).
    pub(super) fn restart(&mut self, now_ms: i64) {
        if let GroupUpdates::Original { next_periodic_ms } = self {
            *next_periodic_ms = now_ms.saturating_add(ORIGINAL_PERIOD_MS);
        }
    }

    /// Whether the figures of the tick at `tick_ms` go to this connection; an original client
    /// that takes them starts its next 5 s. The period keeps its phase from tick to tick (as
    /// the engine's feedback does), unless a pause skipped it entirely.
    pub(super) fn takes_tick(&mut self, tick_ms: i64) -> bool {
        match self {
            GroupUpdates::EveryTick => true,
            GroupUpdates::Original { next_periodic_ms } => {
                if *next_periodic_ms > tick_ms {
                    return false;
                }
                *next_periodic_ms += ORIGINAL_PERIOD_MS;
                if *next_periodic_ms <= tick_ms {
                    *next_periodic_ms = tick_ms + ORIGINAL_PERIOD_MS;
                }
                true
            }
        }
    }

    pub(super) fn is_original(self) -> bool {
        matches!(self, GroupUpdates::Original { .. })
    }
}

impl Conn {
    /// Whether `broadcast` goes to this connection: displays get everything; participants
    /// (once joined) everything but the displays' own, and the tick's group figures at their
    /// cadence.
    pub(super) fn takes_broadcast(&mut self, broadcast: &Broadcast, displays_only: bool) -> bool {
        if self.role == Role::Display {
            return true;
        }
        if displays_only || self.participant.is_none() {
            return false;
        }
        match broadcast {
            Broadcast::GroupMetrics(snapshot) => self.group_updates.takes_tick(snapshot.at_ms),
            _ => true,
        }
    }
}

impl EngineTask {
    /// An original client's `update_coherence` was accepted at `now_ms`: it gets the group's
    /// figures once this burst of inputs is handled, and its 5 s start again.
    pub(super) fn score_accepted(&mut self, conn: ConnId, now_ms: i64) {
        let Some(entry) = self.conns.get_mut(&conn) else {
            return;
        };
        if entry.group_updates.is_original() {
            entry.group_updates.restart(now_ms);
            self.score_answers.push(conn);
        }
    }

    /// Sends the group's figures as they are now, scores of this burst included, to every
    /// original client that sent one: computed once, serialised once.
    pub(super) fn answer_scores(&mut self) {
        if self.score_answers.is_empty() {
            return;
        }
        let mut answers = std::mem::take(&mut self.score_answers);
        if let Some(figures) = self.engine.group_metrics_at(self.clock.wall_ms()) {
            let event = convert::broadcast_event(&Broadcast::GroupMetrics(figures));
            let encoded = Encoded::new(&event);
            for &conn in &answers {
                // A client that left (or whose session ended) within the burst is not told.
                if self
                    .conns
                    .get(&conn)
                    .is_some_and(|entry| entry.participant.is_some())
                {
                    self.send_to_conn(conn, &encoded);
                }
            }
        }
        answers.clear();
        // The allocation is kept for the next burst.
        self.score_answers = answers;
    }
}
