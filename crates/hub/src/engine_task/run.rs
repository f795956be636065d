//! The engine task's loop: wait for the next input or the engine's next wake-up (whichever
//! comes first), handle what is queued, drain the engine once per burst; plus the facilitator's
//! commands and the clean stop.

use std::time::Duration;

use synchub_session::ParticipantId;
use tokio::sync::{mpsc, oneshot};

use super::{AdminCommand, EngineTask, Input};
use crate::metrics::Metrics;

/// How often records held back by a full store queue are offered again.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// How long the task sleeps when the engine wants no wake-up (no session, none scheduled).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// Inputs taken from the channel before the engine is drained: one drain per burst.
const BURST: usize = 256;

impl EngineTask {
    /// Runs until [`Input::Shutdown`] (or until every handle is dropped).
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        loop {
            let sleep = match self.engine.poll_timeout() {
                Some(at_ms) => {
                    Duration::from_millis(u64::try_from(at_ms - self.clock.wall_ms()).unwrap_or(0))
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
                    self.engine.handle_timeout(self.clock.wall_ms());
                }
            }
            self.drain();
        }
        self.shutdown().await;
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
            Input::StrapAssigned {
                conn,
                code,
                pseudonym,
                join,
                reply,
            } => {
                self.strap_assigned(conn, code, pseudonym, join);
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
        let now = self.clock.wall_ms();
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
        let now = self.clock.wall_ms();
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
