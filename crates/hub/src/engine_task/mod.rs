//! The one task that owns the session engine: it drives the engine's clock, takes every input
//! from one channel of [`Input`]s, and carries out the engine's effects — messages to one
//! participant, broadcasts serialised once for the whole room, records handed to the store's
//! writer — in the order the engine produced them.
//!
//! Shaped like rust-analyzer's main loop: one closed `enum` of events, handled one at a time, so
//! the engine needs no lock and its state is never seen half-updated. The engine itself is
//! sans-IO (`synchub-session`); this task reads time for it from the hub's [`Clock`], so tests
//! run it on virtual time.
//!
//! Store backpressure is explicit: when the writer's queue is full, records wait here in order
//! (logged and counted, never dropped), and new `rr_intervals` are refused with
//! `rate_limited` until the store catches up — the phone keeps them and resends unacked batches.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::AckSender;
use synchub_protocol::{ClientEvent, ErrorCode, ErrorEvent, HubEvent, Role, TimeSyncReply};
use synchub_session::record::{GroupSnapshot, Phase, Record};
use synchub_session::{
    Audience, Engine, EngineError, MessageBody, Pacer, ParticipantId, ParticipantView, ResumeToken,
    ScheduleConfig, SessionId, SessionInfo,
};
use synchub_store::{CommitReport, SendError, WriterHandle};
use tokio::sync::{mpsc, oneshot, watch};

mod straps;

use crate::clock::Clock;
use crate::connections::{ConnId, Encoded, Outbox, SendFailure};
use crate::convert;
use crate::metrics::Metrics;
use crate::room::RoomSettings;

/// Capacity of the engine's input channel. Connection handlers wait when it is full, which
/// slows their reads and so the clients: backpressure reaches the sockets instead of memory.
pub const INPUT_CAPACITY: usize = 8192;

/// While the store's writer queue is fuller than this fraction, new beats are refused.
const STORE_REFUSE_FRACTION: f64 = 0.9;

/// How often records held back by a full store queue are offered again.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// Who a new connection is, after the edge validated its handshake and pseudonymised its id.
#[derive(Debug, Clone)]
pub struct Identity {
    pub role: Role,
    /// `hex(HMAC-SHA256(org_secret, userId))`; the raw id stays at the edge.
    pub pseudonym: String,
    /// A resume token from the handshake, if it was well-formed.
    pub resume_token: Option<ResumeToken>,
}

/// A Socket.IO acknowledgement callback (a no-op when the client asked for none).
pub struct Ack(pub AckSender);

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

/// Facilitator commands from the REST API.
#[derive(Debug)]
pub enum AdminCommand {
    StartSession(oneshot::Sender<Result<SessionId, EngineError>>),
    Advance(SessionId, oneshot::Sender<Result<Phase, EngineError>>),
    End(SessionId, oneshot::Sender<Result<(), EngineError>>),
    SetSchedule(ScheduleConfig, oneshot::Sender<Result<(), EngineError>>),
    /// The room's breathing pace; `inhale_ratio: None` keeps the current ratio.
    SetPacer {
        breaths_per_min: f64,
        inhale_ratio: Option<f64>,
        reply: oneshot::Sender<Result<Pacer, EngineError>>,
    },
}

/// Everything the engine task reacts to.
#[derive(Debug)]
pub enum Input {
    /// A connection passed its handshake.
    Open {
        conn: ConnId,
        outbox: Outbox,
        identity: Identity,
    },
    /// A validated client event (never `hello`: the edge handles handshakes).
    Client {
        conn: ConnId,
        event: ClientEvent,
        /// A Socket.IO acknowledgement the client asked for.
        ack: Option<Ack>,
    },
    /// The connection is gone.
    Closed {
        conn: ConnId,
    },
    /// The store committed; its durable beat batches become `rr_ack`s.
    Committed(CommitReport),
    Admin(AdminCommand),
    /// Stop: close every connection, hand every record to the store, then answer.
    Shutdown(oneshot::Sender<()>),
    /// A participant exercising their data rights with their resume token: who they are in
    /// the store. With `leave`, the participant also leaves the session first (before an
    /// erasure, so nothing more is recorded for them).
    WhoseToken {
        token: ResumeToken,
        leave: bool,
        reply: oneshot::Sender<Option<String>>,
    },
    /// A hub-read strap was assigned to a wearer: `conn` is its connection from now on, and
    /// its beats arrive as `rr_intervals` from that connection.
    StrapAssigned {
        conn: ConnId,
        code: String,
        pseudonym: String,
        join: synchub_protocol::JoinSession,
        /// Answered once the wearer's connection exists (and joined, with a session running).
        reply: oneshot::Sender<()>,
    },
    /// The strap's wearer leaves the session; the strap's connection ends.
    StrapReleased {
        conn: ConnId,
    },
}

/// What the REST API and the demo read without asking the engine: refreshed at every
/// broadcast (so at least once a second while a session runs) and after facilitator commands.
#[derive(Debug, Clone, Default)]
pub struct RoomView {
    pub session: Option<SessionInfo>,
    pub group: Option<GroupSnapshot>,
    pub participants: Vec<ParticipantView>,
    pub schedule: Option<ScheduleConfig>,
    /// The strap code of each participant who wears a hub-read strap.
    pub strap_codes: Vec<(ParticipantId, String)>,
}

/// The handle connection handlers and REST routes hold.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub inputs: mpsc::Sender<Input>,
    pub view: watch::Receiver<Arc<RoomView>>,
    /// The engine's clock: what "now" is for everything the hub stamps.
    pub clock: Clock,
}

impl EngineHandle {
    /// Sends a facilitator command and waits for its answer (`None`: the engine task stopped).
    pub async fn admin<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> AdminCommand,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.inputs.send(Input::Admin(make(reply))).await.ok()?;
        answer.await.ok()
    }
}

struct Conn {
    outbox: Outbox,
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

/// The acknowledgement a Socket.IO client asked for with the event being handled.
struct PendingAck {
    conn: ConnId,
    /// The event whose payload answers it (`session_joined` for `join_session`, …).
    reply_event: Option<&'static str>,
    ack: AckSender,
}

/// The engine task's state.
pub struct EngineTask {
    engine: Engine,
    clock: Clock,
    room: watch::Receiver<RoomSettings>,
    conns: HashMap<ConnId, Conn>,
    by_participant: HashMap<ParticipantId, ConnId>,
    writer: WriterHandle,
    backlog: VecDeque<Record>,
    metrics: Arc<Metrics>,
    view: watch::Sender<Arc<RoomView>>,
    view_dirty: bool,
    pending_ack: Option<PendingAck>,
    backlog_warned: bool,
    /// Resume tokens of the current session's participants, with their pseudonyms: what
    /// `GET /api/me/export` and `DELETE /api/me` authenticate with.
    tokens: Vec<(ResumeToken, ParticipantId, String)>,
    /// Connections that claimed a strap (`claim_strap`), by the strap's connection: they get
    /// its wearer's `personal_feedback`.
    claims: HashMap<ConnId, Vec<ConnId>>,
}

impl std::fmt::Debug for EngineTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTask")
            .field("connections", &self.conns.len())
            .field("backlog", &self.backlog.len())
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
            writer,
            backlog: VecDeque::new(),
            metrics,
            view,
            view_dirty: true,
            pending_ack: None,
            backlog_warned: false,
            tokens: Vec::new(),
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

    /// Remembers the tokens of a restored session's participants (their `ParticipantJoined`
    /// records were stored before the restart and are not emitted again).
    pub fn remember_tokens(
        &mut self,
        rows: impl IntoIterator<Item = (ResumeToken, ParticipantId, String)>,
    ) {
        self.tokens.extend(rows);
    }

    fn whose_token(&mut self, token: &ResumeToken, leave: bool) -> Option<String> {
        // Every entry is compared in constant time; the scan does not stop early.
        let mut found = None;
        for (known, participant, pseudonym) in &self.tokens {
            if known.constant_time_eq(token) {
                found = Some((*participant, pseudonym.clone()));
            }
        }
        let (participant, pseudonym) = found?;
        if leave {
            // Not in the session any more is fine: the erasure goes ahead.
            let _ = self.engine.handle_leave(self.clock.wall_ms(), participant);
            self.by_participant.remove(&participant);
            for conn in self.conns.values_mut() {
                if conn.participant == Some(participant) {
                    conn.participant = None;
                    conn.issued_token = None;
                }
            }
            self.tokens.retain(|(_, known, _)| *known != participant);
            self.drain();
        }
        Some(pseudonym)
    }

    /// Runs until [`Input::Shutdown`] (or until every handle is dropped).
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        loop {
            let wake_ms = self.engine.poll_timeout();
            let sleep = match wake_ms {
                Some(at_ms) => {
                    Duration::from_millis(u64::try_from(at_ms - self.clock.wall_ms()).unwrap_or(0))
                }
                None => Duration::from_secs(3600),
            };
            let sleep = if self.backlog.is_empty() {
                sleep
            } else {
                sleep.min(BACKLOG_RETRY)
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
                    for _ in 0..256 {
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
                outbox,
                identity,
            } => self.open(conn, outbox, identity),
            Input::Client { conn, event, ack } => {
                Metrics::increment(&self.metrics.messages_in);
                let wants_ack = ack.is_some();
                self.client_event(conn, event, ack);
                if wants_ack {
                    // The acknowledgement carries this event's reply, so it is answered
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
        }
    }

    fn open(&mut self, conn: ConnId, outbox: Outbox, identity: Identity) {
        let resume_token = identity.resume_token;
        self.conns.insert(
            conn,
            Conn {
                outbox,
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
    fn attach(&mut self, conn: ConnId, participant: ParticipantId) {
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

    fn close(&mut self, conn: ConnId) {
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

    fn client_event(&mut self, conn: ConnId, event: ClientEvent, ack: Option<Ack>) {
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        let reply_event = match &event {
            ClientEvent::JoinSession(_) => Some("session_joined"),
            ClientEvent::UpdateCoherence(_) => Some("personal_feedback"),
            ClientEvent::TimeSync(_) => Some("time_sync"),
            _ => None,
        };
        self.pending_ack = ack.map(|Ack(ack)| PendingAck {
            conn,
            reply_event,
            ack,
        });
        let role = entry.role;
        let participant = match entry.participant {
            // A strap's wearer joins each new session with the strap's first beats in it.
            None if entry.strap.is_some() => self.rejoin_strap(conn),
            joined => joined,
        };
        let now = self.clock.wall_ms();
        let result = match (role, event) {
            (_, ClientEvent::TimeSync(request)) => {
                let reply = HubEvent::TimeSync(TimeSyncReply {
                    client_time: request.client_time,
                    hub_time: convert::wire_ms(now),
                });
                #[allow(clippy::cast_precision_loss)]
                let offset_ms = now as f64 - request.client_time;
                match participant {
                    Some(participant) => {
                        let _ = self
                            .engine
                            .handle_time_sync(now, participant, request.client_time);
                    }
                    None => {
                        if let Some(entry) = self.conns.get_mut(&conn) {
                            entry.clock_offset_ms = Some(offset_ms);
                        }
                    }
                }
                self.send_to_conn(conn, &Encoded::new(&reply));
                Ok(())
            }
            (Role::Display, other) => Err(ErrorEvent {
                code: ErrorCode::NotAllowed,
                message: format!("{}: a display sends only time_sync", other.name()),
            }),
            (_, ClientEvent::Hello(_)) => Err(ErrorEvent {
                code: ErrorCode::NotAllowed,
                message: "hello: the handshake is already done".to_owned(),
            }),
            (_, ClientEvent::JoinSession(join)) => self.join(conn, participant, &join),
            (_, ClientEvent::ClaimStrap(claim)) => self.claim_strap(conn, &claim.strap_code),
            (_, event) => match participant {
                None => Err(ErrorEvent {
                    code: ErrorCode::NotJoined,
                    message: format!("{}: send join_session first", event.name()),
                }),
                Some(participant) => self.participant_event(conn, participant, event),
            },
        };
        if let Err(error) = result {
            self.send_error(conn, error);
        }
    }

    fn join(
        &mut self,
        conn: ConnId,
        participant: Option<ParticipantId>,
        join: &synchub_protocol::JoinSession,
    ) -> Result<(), ErrorEvent> {
        let now = self.clock.wall_ms();
        if let Some(participant) = participant {
            // Idempotent: same participant, intention and consent updated, `session_joined`
            // again so the original clients see the reply they wait for.
            self.engine
                .handle_set_intention(
                    now,
                    participant,
                    convert::intention_from_wire(join.intention.as_ref()),
                    join.consent.map(|consent| consent.research),
                )
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

    fn participant_event(
        &mut self,
        conn: ConnId,
        participant: ParticipantId,
        event: ClientEvent,
    ) -> Result<(), ErrorEvent> {
        let now = self.clock.wall_ms();
        let outcome = match event {
            ClientEvent::UpdateCoherence(update) => {
                self.engine
                    .handle_update_coherence(now, participant, update.coherence)
            }
            ClientEvent::RrIntervals(batch) => {
                if self.store_is_behind() {
                    Metrics::increment(&self.metrics.store_refused_batches);
                    return Err(ErrorEvent {
                        code: ErrorCode::RateLimited,
                        message: "rr_intervals: the hub's store is behind; keep the batch and resend it shortly".to_owned(),
                    });
                }
                self.engine
                    .handle_rr_intervals(now, participant, convert::rr_batch(&batch))
                    .map(|_| ())
            }
            ClientEvent::SetIntention(set) => self.engine.handle_set_intention(
                now,
                participant,
                convert::intention_from_wire(set.intention.as_ref()),
                None,
            ),
            ClientEvent::LeaveSession => {
                let result = self.engine.handle_leave(now, participant);
                self.by_participant.remove(&participant);
                if let Some(entry) = self.conns.get_mut(&conn) {
                    entry.participant = None;
                    entry.issued_token = None;
                }
                result
            }
            // Handled before a participant is needed.
            ClientEvent::Hello(_)
            | ClientEvent::JoinSession(_)
            | ClientEvent::ClaimStrap(_)
            | ClientEvent::TimeSync(_) => Ok(()),
        };
        outcome.map_err(|error| engine_error(&error))
    }

    fn store_is_behind(&self) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let full = self.writer.queue_len() as f64
            >= self.writer.queue_capacity() as f64 * STORE_REFUSE_FRACTION;
        !self.backlog.is_empty() || full
    }

    fn committed(&mut self, report: &CommitReport) {
        Metrics::increment(&self.metrics.store_commits);
        Metrics::add(
            &self.metrics.store_rows_committed,
            u64::try_from(report.rows).unwrap_or(u64::MAX),
        );
        Metrics::add(
            &self.metrics.store_commit_micros_total,
            u64::try_from(report.commit_duration.as_micros()).unwrap_or(u64::MAX),
        );
        for batch in &report.durable {
            self.engine
                .handle_beats_durable(batch.participant_id, batch.seq);
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

    /// Carries out everything the engine produced, in order: records first (so a message
    /// never announces something the store has not been handed), then messages, then
    /// broadcasts.
    fn drain(&mut self) {
        self.drain_records_and_messages();
        self.drain_broadcasts();
    }

    /// Records and per-participant messages, then the pending acknowledgement: what a
    /// Socket.IO acknowledgement needs before the next input; broadcasts can wait.
    fn drain_replies(&mut self) {
        self.drain_records_and_messages();
        self.answer_pending_ack();
    }

    fn answer_pending_ack(&mut self) {
        if let Some(pending) = self.pending_ack.take() {
            // Nothing answered it: acknowledge receipt with an empty object.
            let _ = pending.ack.send(&serde_json::json!({}));
        }
    }

    fn drain_records_and_messages(&mut self) {
        while let Some(record) = self.engine.poll_record() {
            self.persist(record);
        }
        self.offer_backlog();
        while let Some(message) = self.engine.poll_message() {
            if let MessageBody::SessionJoined(joined) = &message.body
                && let Some(&conn) = self.by_participant.get(&message.to)
                && let Some(entry) = self.conns.get_mut(&conn)
            {
                entry.issued_token = Some(joined.resume_token);
            }
            if matches!(message.body, MessageBody::RrAck { .. }) {
                Metrics::increment(&self.metrics.rr_acks);
            }
            let event = convert::message_event(&message.body, &self.room.borrow().name);
            if let Some(&conn) = self.by_participant.get(&message.to) {
                let encoded = Encoded::new(&event);
                if matches!(message.body, MessageBody::PersonalFeedback(_)) {
                    self.send_to_claimers(conn, &encoded);
                }
                self.send_to_conn(conn, &encoded);
            }
        }
    }

    fn drain_broadcasts(&mut self) {
        while let Some(broadcast) = self.engine.poll_broadcast() {
            self.view_dirty = true;
            let complete = matches!(
                broadcast,
                synchub_session::Broadcast::SessionComplete { .. }
            );
            let encoded = Encoded::new(&convert::broadcast_event(&broadcast));
            Metrics::increment(&self.metrics.broadcasts);
            let displays_only = broadcast.audience() == Audience::Displays;
            let recipients: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, conn)| {
                    conn.role == Role::Display || (!displays_only && conn.participant.is_some())
                })
                .map(|(&id, _)| id)
                .collect();
            for conn in recipients {
                self.send_to_conn(conn, &encoded);
            }
            if complete {
                // The completed session's participants are gone; their connections stay and
                // may join the next session.
                self.by_participant.clear();
                self.tokens.clear();
                for conn in self.conns.values_mut() {
                    conn.participant = None;
                    conn.issued_token = None;
                }
            }
        }
        self.answer_pending_ack();
        Metrics::set(
            &self.metrics.participants,
            u64::from(self.engine.participant_count()),
        );
        if std::mem::take(&mut self.view_dirty) {
            self.publish_view();
        }
    }

    fn publish_view(&mut self) {
        let view = RoomView {
            session: self.engine.current_session(),
            group: self.engine.group_metrics().cloned(),
            participants: self.engine.participants().collect(),
            schedule: Some(self.engine.schedule()),
            strap_codes: self
                .conns
                .values()
                .filter_map(|conn| Some((conn.participant?, conn.strap.as_ref()?.code.clone())))
                .collect(),
        };
        self.view.send_replace(Arc::new(view));
    }

    fn persist(&mut self, record: Record) {
        if let Record::ParticipantJoined(row) = &record {
            self.tokens
                .push((row.resume_token, row.participant_id, row.pseudonym.clone()));
        }
        if !self.backlog.is_empty() {
            self.backlog.push_back(record);
            return;
        }
        match self.writer.try_send(record) {
            Ok(()) => {}
            Err(SendError::Full(record)) => {
                Metrics::increment(&self.metrics.store_backpressure_events);
                if !self.backlog_warned {
                    tracing::warn!(
                        "the store's write queue is full; holding records until it catches up"
                    );
                    self.backlog_warned = true;
                }
                self.backlog.push_back(record);
            }
            Err(SendError::Closed(_)) => {
                tracing::error!("the store's writer has stopped; a record was lost");
            }
        }
        self.update_queue_gauge();
    }

    fn offer_backlog(&mut self) {
        while let Some(record) = self.backlog.pop_front() {
            match self.writer.try_send(record) {
                Ok(()) => {}
                Err(SendError::Full(record)) => {
                    self.backlog.push_front(record);
                    break;
                }
                Err(SendError::Closed(_)) => {
                    tracing::error!("the store's writer has stopped; a record was lost");
                }
            }
        }
        if self.backlog.is_empty() && self.backlog_warned {
            tracing::info!("the store caught up");
            self.backlog_warned = false;
        }
        self.update_queue_gauge();
    }

    fn update_queue_gauge(&self) {
        let depth = self.writer.queue_len() + self.backlog.len();
        Metrics::set(
            &self.metrics.store_queue_depth,
            u64::try_from(depth).unwrap_or(u64::MAX),
        );
    }

    fn send_error(&mut self, conn: ConnId, error: ErrorEvent) {
        self.metrics.count_error(error.code);
        let event = HubEvent::Error(error);
        self.send_to_conn(conn, &Encoded::new(&event));
    }

    fn send_to_conn(&mut self, conn: ConnId, encoded: &Encoded) {
        if let Some(pending) = self.pending_ack.take_if(|pending| {
            pending.conn == conn
                && (pending.reply_event == Some(encoded.name) || encoded.name == "error")
        }) {
            let _ = pending.ack.send(&*encoded.payload);
        }
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        match entry.outbox.send(encoded) {
            Ok(()) => Metrics::increment(&self.metrics.messages_out),
            Err(SendFailure::Slow) => {
                Metrics::increment(&self.metrics.slow_client_disconnects);
                tracing::warn!(conn, "closing a connection that does not read its messages");
                entry.outbox.close();
                self.close(conn);
            }
            Err(SendFailure::Closed) => self.close(conn),
        }
    }

    async fn shutdown(&mut self) {
        for conn in self.conns.values() {
            conn.outbox.close();
        }
        let participants: Vec<ParticipantId> = self.by_participant.keys().copied().collect();
        let now = self.clock.wall_ms();
        for participant in participants {
            let _ = self.engine.handle_disconnect(now, participant);
        }
        self.conns.clear();
        self.by_participant.clear();
        while let Some(record) = self.engine.poll_record() {
            self.backlog.push_back(record);
        }
        // Every record is handed over, waiting for room if need be: nothing is dropped on a
        // clean stop.
        let writer = self.writer.clone();
        let backlog = std::mem::take(&mut self.backlog);
        let handed = tokio::task::spawn_blocking(move || {
            for record in backlog {
                if writer.send(record).is_err() {
                    tracing::error!(
                        "the store's writer stopped before the hub handed over every record"
                    );
                    break;
                }
            }
        })
        .await;
        if handed.is_err() {
            tracing::error!("handing the last records to the store failed");
        }
    }
}

fn engine_error(error: &EngineError) -> ErrorEvent {
    ErrorEvent {
        code: convert::engine_error_code(error),
        message: error.to_string(),
    }
}
