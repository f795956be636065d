//! Connections ↔ participants, and what each client input does: a connection opens (and may
//! resume its participant with a token), joins, sends beats, scores, intentions, clock samples,
//! leaves, closes. Each input is routed to the engine as the participant its connection holds;
//! a refusal goes back to that connection as an `error` event.

use std::sync::Arc;

use synchub_protocol::{ErrorCode, ErrorEvent, HubEvent, Role};
use synchub_session::{EngineError, ParticipantId, ResumeToken};

use super::{Conn, EngineTask, Identity, PendingReply, Reply};
use crate::client_input::{ClientInput, JoinFields};
use crate::convert;
use crate::encoded::Encoded;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer};

impl EngineTask {
    pub(super) fn open(&mut self, conn: ConnId, peer: Arc<dyn Peer>, identity: Identity) {
        let resume_token = identity.resume_token;
        self.conns.insert(
            conn,
            Conn {
                peer,
                role: identity.role,
                pseudonym: identity.pseudonym,
                resume_token,
                participant: None,
                issued_token: None,
                clock_offset_ms: None,
                strap: None,
            },
        );
        if identity.role == Role::Display {
            // A display draws the pacer from the start.
            let pacer = HubEvent::Pacer(convert::pacer(&self.engine.pacer()));
            self.send_to_conn(conn, &Encoded::new(&pacer));
            return;
        }
        if let Some(token) = resume_token {
            // An unknown or expired token is not an error: the client joins as new.
            if let Ok(participant) = self.engine.handle_resume(self.clock.wall_ms(), &token) {
                self.attach(conn, participant);
            }
        }
    }

    /// Binds `participant` to `conn`; a connection that held it before is detached.
    pub(super) fn attach(&mut self, conn: ConnId, participant: ParticipantId) {
        if let Some(previous) = self.by_participant.insert(participant, conn)
            && previous != conn
            && let Some(old) = self.conns.get_mut(&previous)
        {
            old.participant = None;
        }
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.participant = Some(participant);
        }
    }

    /// `participant` is no longer anyone's: the connections that held it may join again.
    fn detach(&mut self, participant: ParticipantId) {
        self.by_participant.remove(&participant);
        for conn in self.conns.values_mut() {
            if conn.participant == Some(participant) {
                conn.participant = None;
                conn.issued_token = None;
            }
        }
    }

    /// The session completed: its participants are gone; their connections stay and may join
    /// the next session.
    pub(super) fn forget_session_participants(&mut self) {
        self.by_participant.clear();
        self.spent_tokens.clear();
        for conn in self.conns.values_mut() {
            conn.participant = None;
            conn.issued_token = None;
        }
    }

    pub(super) fn close(&mut self, conn: ConnId) {
        let Some(entry) = self.conns.remove(&conn) else {
            return;
        };
        self.forget_claims_of(conn);
        if let Some(participant) = entry.participant
            && self.by_participant.get(&participant) == Some(&conn)
        {
            self.by_participant.remove(&participant);
            // Unknown participant (left, session over) needs nothing.
            let _ = self
                .engine
                .handle_disconnect(self.clock.wall_ms(), participant);
        }
    }

    pub(super) fn client_input(&mut self, conn: ConnId, input: ClientInput, reply: Option<Reply>) {
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        self.pending_reply = reply.map(|reply| PendingReply {
            conn,
            answered_by: reply.answered_by,
            answer: reply.answer,
        });
        let participant = match entry.participant {
            // A strap's wearer joins each new session with the strap's first beats in it.
            None if entry.strap.is_some() => self.rejoin_strap(conn),
            joined => joined,
        };
        let result = match input {
            ClientInput::TimeSync { client_time_ms } => {
                self.time_sync(conn, participant, client_time_ms);
                Ok(())
            }
            ClientInput::Join(join) => self.join(conn, participant, &join),
            ClientInput::ClaimStrap { code } => self.claim_strap(conn, &code),
            input => match participant {
                None => Err(ErrorEvent {
                    code: ErrorCode::NotJoined,
                    message: format!("{}: send join_session first", convert::event_name(&input)),
                }),
                Some(participant) => self.participant_input(conn, participant, input),
            },
        };
        if let Err(error) = result {
            self.send_error(conn, error);
        }
    }

    /// Answers a clock sample; before joining, the sample becomes the join's clock offset.
    fn time_sync(&mut self, conn: ConnId, participant: Option<ParticipantId>, client_time_ms: f64) {
        let now = self.clock.wall_ms();
        match participant {
            Some(participant) => {
                let _ = self
                    .engine
                    .handle_time_sync(now, participant, client_time_ms);
            }
            None => {
                if let Some(entry) = self.conns.get_mut(&conn) {
                    #[allow(clippy::cast_precision_loss)]
                    let offset_ms = now as f64 - client_time_ms;
                    entry.clock_offset_ms = Some(offset_ms);
                }
            }
        }
        let reply = convert::time_sync_reply(client_time_ms, now);
        self.send_to_conn(conn, &Encoded::new(&reply));
    }

    pub(super) fn join(
        &mut self,
        conn: ConnId,
        participant: Option<ParticipantId>,
        join: &JoinFields,
    ) -> Result<(), ErrorEvent> {
        let now = self.clock.wall_ms();
        if let Some(participant) = participant {
            // Idempotent: same participant, intention and consent updated, `session_joined`
            // again so the original clients see the reply they wait for.
            self.engine
                .handle_set_intention(now, participant, join.intention, join.research_consent)
                .map_err(|error| engine_error(&error))?;
            self.resend_session_joined(conn, participant);
            return Ok(());
        }
        let Some(entry) = self.conns.get(&conn) else {
            return Ok(());
        };
        // A resume token that was not usable at connect may be good now (a client that
        // reconnected before the hub restored its session); otherwise join as new.
        if let Some(token) = entry.resume_token
            && let Ok(participant) = self.engine.handle_resume(now, &token)
        {
            self.attach(conn, participant);
            return Ok(());
        }
        let request = convert::join_request(join, entry.pseudonym.clone(), entry.clock_offset_ms);
        let participant = self
            .engine
            .handle_join(now, request)
            .map_err(|error| engine_error(&error))?;
        self.attach(conn, participant);
        Ok(())
    }

    fn resend_session_joined(&mut self, conn: ConnId, participant: ParticipantId) {
        let (Some(session), Some(token)) = (
            self.engine.current_session(),
            self.conns.get(&conn).and_then(|entry| entry.issued_token),
        ) else {
            return;
        };
        let group = self
            .engine
            .group_metrics()
            .cloned()
            .unwrap_or_else(|| convert::empty_group(&session));
        let joined = synchub_session::SessionJoined {
            participant_id: participant,
            resume_token: token,
            resumed: true,
            session,
            group,
        };
        let event = HubEvent::SessionJoined(Box::new(convert::session_joined(
            &joined,
            &self.room.borrow().name,
        )));
        self.send_to_conn(conn, &Encoded::new(&event));
    }

    fn participant_input(
        &mut self,
        conn: ConnId,
        participant: ParticipantId,
        input: ClientInput,
    ) -> Result<(), ErrorEvent> {
        let now = self.clock.wall_ms();
        let outcome = match input {
            ClientInput::Score { coherence } => {
                self.engine
                    .handle_update_coherence(now, participant, coherence)
            }
            ClientInput::Beats(batch) => {
                if self.store.is_unavailable() {
                    Metrics::increment(&self.metrics.store_refused_batches);
                    return Err(ErrorEvent {
                        code: ErrorCode::StoreUnavailable,
                        message: "rr_intervals: the hub cannot store beats right now; keep the batch and resend it until it is acknowledged".to_owned(),
                    });
                }
                if self.store.is_behind() {
                    Metrics::increment(&self.metrics.store_refused_batches);
                    return Err(ErrorEvent {
                        code: ErrorCode::RateLimited,
                        message: "rr_intervals: the hub's store is behind; keep the batch and resend it shortly".to_owned(),
                    });
                }
                self.engine
                    .handle_rr_intervals(now, participant, batch)
                    .map(|_| ())
            }
            ClientInput::Intention(intention) => {
                self.engine
                    .handle_set_intention(now, participant, intention, None)
            }
            ClientInput::Leave => {
                let result = self.engine.handle_leave(now, participant);
                self.by_participant.remove(&participant);
                if let Some(entry) = self.conns.get_mut(&conn) {
                    entry.participant = None;
                    entry.issued_token = None;
                }
                result
            }
            // Handled before a participant is needed.
            ClientInput::Join(_)
            | ClientInput::ClaimStrap { .. }
            | ClientInput::TimeSync { .. } => Ok(()),
        };
        outcome.map_err(|error| engine_error(&error))
    }

    /// Who holds `token` in the store (their pseudonym), for their data rights; with `leave`,
    /// they leave the session first and the token is spent.
    pub(super) fn whose_token(&mut self, token: &ResumeToken, leave: bool) -> Option<String> {
        let owner = self.engine.participant_by_token(token)?;
        if self.spent_tokens.contains(&owner.participant_id) {
            return None;
        }
        if leave {
            // Not in the session any more is fine: the erasure goes ahead.
            let _ = self
                .engine
                .handle_leave(self.clock.wall_ms(), owner.participant_id);
            self.detach(owner.participant_id);
            self.spent_tokens.insert(owner.participant_id);
            self.drain();
        }
        Some(owner.pseudonym)
    }
}

fn engine_error(error: &EngineError) -> ErrorEvent {
    ErrorEvent {
        code: convert::engine_error_code(error),
        message: error.to_string(),
    }
}
