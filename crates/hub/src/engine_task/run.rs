//! The engine task's loop: wait for the next input or the engine's next wake-up (whichever
//! comes first), handle what is queued, drain the engine once per burst; plus the facilitator's
//! commands and the clean stop.
//!
//! The engine runs on hub time (`Clock::hub_ms`), which neither jumps with the wall clock nor
//! stops while the computer sleeps; the task sleeps on tokio's monotonic clock in between. On
//! every wake-up it first looks at what the clocks did meanwhile: a sleep of the computer is
//! handed to the engine before anything else (`Engine::handle_suspended`), and a step of the
//! wall clock is only reported — hub time did not follow it.

use std::time::Duration;

use synchub_session::ParticipantId;
use tokio::sync::{mpsc, oneshot};

use super::{AdminCommand, EngineTask, Input};
use crate::clock::Clock;
use crate::metrics::Metrics;

/// How often records held back by a full store queue are offered again.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// How long the task sleeps when the engine wants no wake-up (no session, none scheduled).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// Inputs taken from the channel before the engine is drained: one drain per burst.
const BURST: usize = 256;

/// A growth of the computer's suspended time below this is reading noise, not a sleep.
const SLEEP_NOTICED_MS: i64 = 1_000;

/// A change of (wall − hub) time above this is a step of the wall clock worth reporting; NTP
/// slews by far less than this between two wake-ups.
const WALL_STEP_NOTICED_MS: i64 = 2_000;

/// What the engine task last saw of the clocks, to notice a sleep or a wall-clock step.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClockWatch {
    suspended_ms: i64,
    wall_offset_ms: i64,
}

impl ClockWatch {
    pub(super) fn new(clock: &Clock) -> ClockWatch {
        ClockWatch {
            suspended_ms: clock.suspended_ms(),
            wall_offset_ms: clock.wall_ms() - clock.hub_ms(),
        }
    }
}

impl EngineTask {
    /// Runs until [`Input::Shutdown`] (or until every handle is dropped).
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        loop {
            let sleep = match self.engine.poll_timeout() {
                Some(at_ms) => {
                    Duration::from_millis(u64::try_from(at_ms - self.clock.hub_ms()).unwrap_or(0))
                }
                None => IDLE_WAKE,
            };
            let sleep = if self.store.is_holding() {
                sleep.min(BACKLOG_RETRY)
            } else {
                sleep
            };
            tokio::select! {
                input = inputs.recv() => {
                    let Some(input) = input else { break };
                    self.watch_clock();
                    if let Input::Shutdown(reply) = input {
                        self.shutdown().await;
                        let _ = reply.send(());
                        return;
                    }
                    self.handle(input);
                    // Take what else is already queued before draining: one drain per burst.
                    for _ in 0..BURST {
                        match inputs.try_recv() {
                            Ok(Input::Shutdown(reply)) => {
                                self.drain();
                                self.shutdown().await;
                                let _ = reply.send(());
                                return;
                            }
                            Ok(input) => self.handle(input),
                            Err(_) => break,
                        }
                    }
                }
                () = tokio::time::sleep_until(self.clock.now() + sleep) => {
                    self.watch_clock();
                    self.engine.handle_timeout(self.clock.hub_ms());
                }
            }
            self.drain();
        }
        self.shutdown().await;
    }

    /// Hands a sleep of the computer to the engine (before any input that arrived after it),
    /// and reports a step of the wall clock.
    fn watch_clock(&mut self) {
        let suspended_ms = self.clock.suspended_ms();
        let slept_ms = suspended_ms - self.clock_watch.suspended_ms;
        if slept_ms >= SLEEP_NOTICED_MS {
            self.clock_watch.suspended_ms = suspended_ms;
            tracing::warn!(
                slept_secs = slept_ms / 1000,
                "the computer was asleep; the session goes on with the sleep as a gap, and \
                 participants who dropped before it keep their full resume grace"
            );
            Metrics::increment(&self.metrics.clock_sleeps);
            self.engine.handle_suspended(self.clock.hub_ms(), slept_ms);
            self.view_dirty = true;
        }
        let wall_offset_ms = self.clock.wall_ms() - self.clock.hub_ms();
        let step_ms = wall_offset_ms - self.clock_watch.wall_offset_ms;
        if step_ms.abs() >= WALL_STEP_NOTICED_MS {
            self.clock_watch.wall_offset_ms = wall_offset_ms;
            tracing::warn!(
                step_secs = step_ms / 1000,
                wall_minus_hub_secs = wall_offset_ms / 1000,
                "the system clock was stepped; the hub keeps its own time, so phases, broadcasts \
                 and resume graces are unaffected, and its timestamps differ from the system \
                 clock by this much until the hub restarts"
            );
            Metrics::increment(&self.metrics.clock_steps);
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Open {
                conn,
                peer,
                identity,
            } => self.open(conn, peer, identity),
            Input::Client { conn, input, reply } => {
                Metrics::increment(&self.metrics.messages_in);
                let wants_reply = reply.is_some();
                self.client_input(conn, input, reply);
                if wants_reply {
                    // The acknowledgement carries this input's reply, so it is answered
                    // before the next input is taken. Broadcasts wait for the end of the
                    // burst: draining them per Socket.IO event sent one `participant_count`
                    // to the whole room per join (the engine coalesces per drain), 12 million
                    // messages while 5 000 Socket.IO participants joined.
                    self.drain_replies();
                }
            }
            Input::Closed { conn } => self.close(conn),
            Input::Committed(report) => self.committed(&report),
            Input::Admin(command) => self.admin(command),
            Input::Shutdown(reply) => {
                // Handled in `run`; answering here keeps the type total.
                let _ = reply.send(());
            }
            Input::WhoseToken {
                token,
                leave,
                reply,
            } => {
                let _ = reply.send(self.whose_token(&token, leave));
            }
            Input::RevokeClaim { code, slot, reply } => {
                let _ = reply.send(self.revoke_claim(&code, slot));
            }
            Input::StrapAssigned {
                conn,
                code,
                pseudonym,
                join,
                peer,
                reply,
            } => {
                self.strap_assigned(conn, code, pseudonym, join, peer);
                let _ = reply.send(());
            }
            Input::StrapReleased { conn } => self.strap_released(conn),
            #[cfg(feature = "fault-injection")]
            Input::InjectPanic => panic!("injected fault: the engine task panics"),
        }
    }

    /// Runs a facilitator command. Its effects are carried out (records handed to the store,
    /// broadcasts sent, the view refreshed) before the answer goes back, so a REST read after
    /// the command sees them.
    fn admin(&mut self, command: AdminCommand) {
        let now = self.clock.hub_ms();
        match command {
            AdminCommand::StartSession(reply) => {
                let result = self.engine.handle_start_session(now);
                self.after_admin(reply, result);
            }
            AdminCommand::Advance(session_id, reply) => {
                let result = self.engine.handle_advance_phase(now, session_id);
                self.after_admin(reply, result);
            }
            AdminCommand::End(session_id, reply) => {
                let result = self.engine.handle_end_session(now, session_id);
                self.after_admin(reply, result);
            }
            AdminCommand::SetSchedule(schedule, reply) => {
                let result = self.engine.handle_set_schedule(now, schedule);
                self.after_admin(reply, result);
            }
            AdminCommand::SetPacer {
                breaths_per_min,
                inhale_ratio,
                reply,
            } => {
                let inhale_ratio = inhale_ratio.unwrap_or(self.engine.pacer().inhale_ratio);
                let result = self
                    .engine
                    .handle_set_pacer(now, breaths_per_min, inhale_ratio)
                    .map(|()| self.engine.pacer());
                self.after_admin(reply, result);
            }
        }
    }

    fn after_admin<T>(&mut self, reply: oneshot::Sender<T>, result: T) {
        self.view_dirty = true;
        self.drain();
        // The caller may have given up waiting; nothing to do then.
        let _ = reply.send(result);
    }

    /// Every connection closed, every participant paused (they can resume after a restart),
    /// every record handed to the store.
    async fn shutdown(&mut self) {
        for conn in self.conns.values() {
            conn.peer.close();
        }
        let participants: Vec<ParticipantId> = self.by_participant.keys().copied().collect();
        let now = self.clock.hub_ms();
        for participant in participants {
            let _ = self.engine.handle_disconnect(now, participant);
        }
        self.conns.clear();
        self.by_participant.clear();
        let mut last = Vec::new();
        while let Some(record) = self.engine.poll_record() {
            last.push(record);
        }
        self.store.hand_over_all(last).await;
    }
}
