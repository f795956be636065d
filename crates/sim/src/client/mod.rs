//! One simulated participant: it behaves like the phone clients the hub is built for, over a
//! connection whose framing is [`crate::connection`]'s, and records what it saw into
//! [`CrowdStats`].
//!
//! 1. connect with the handshake fields `userId`, `roomCode`, `resumeToken`, `role`;
//! 2. `time_sync {clientTime}` to learn the hub clock offset (again every 10 s; the estimate is
//!    `synchub_protocol::clock::ClockOffsetEstimate`);
//! 3. `join_session` with an intention, research consent and `device: {kind: "sim"}` — or, when
//!    resuming with a token, wait briefly for the hub's own `session_joined` first;
//! 4. every second, `rr_intervals {rr, seq, endedAt}` with the beats that ended in that second
//!    (or, for score-only participants, `update_coherence` every 5 s like the original clients);
//!    the beats and their batches are [`crate::beats`]'s;
//! 5. on `rr_ack {seq}` forget the batch; batches not acknowledged when the connection drops are
//!    sent again, in order, after reconnecting with the `resumeToken` of `session_joined`;
//! 6. with churn, now and then leave on purpose instead: stop making batches, wait for the
//!    outstanding acknowledgements, `leave_session`, hang up, stay away a few seconds and join
//!    again as a new participant (the beats of the time away are not reported).
//!
//! What it sends is built from the protocol's own types; what it receives is read leniently,
//! field by field, so additive fields never break a measurement. Its settings and its outcome
//! are in `config.rs`. A participant of [`ClientKind::OriginalWeb`] behaves like the original
//! platform's web client instead (`original.rs`): no protocol version in the handshake, no
//! `time_sync`, and a score whenever 1 s passes without an event from the hub.

mod config;
mod original;

pub use config::{ClientKind, ParticipantConfig, ParticipantOutcome, RunState};

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use synchub_protocol::clock::ClockOffsetEstimate;
use synchub_protocol::{
    ClientEvent, Consent, Device, DeviceKind, Handshake, Intention, JoinSession, PROTOCOL_VERSION,
    Role, TimeSyncReply, TimeSyncRequest, UpdateCoherence,
};
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval_at, sleep, timeout};

use crate::beats::{Beats, Reporting, epoch_ms_now};
use crate::connection::{ClientError, Connection, Incoming, error_code_of, sim_error};
use crate::socketio::EnginePacket;
use crate::stats::{CrowdStats, SIM_ERROR_PREFIX};

/// Error codes after which retrying the same handshake is pointless.
fn is_refusal(code: &str) -> bool {
    matches!(code, "bad_room_code" | "session_full" | "rate_limited_join")
}

/// How one connection ended.
enum SessionEnd {
    /// Stop or drain finished: do not reconnect.
    Finished,
    /// The connection dropped: reconnect.
    Dropped,
    /// Every batch acknowledged, the participant leaves (`leave_session`) and joins again as
    /// new after `away`.
    Leaving { away: Duration },
    /// The hub refused us (`bad_room_code`, …): do not reconnect.
    Refused(String),
}

/// Most batches waiting for their `rr_ack` on one connection. After a long disconnection many
/// batches wait; they go out at most this many at a time, the next ones on later ticks as the
/// acknowledgements come back. So a resuming phone never outruns the hub's 20 messages/s per
/// connection (burst 40), and a hub whose store is behind gets a trickle from each phone rather
/// than every phone's whole backlog at once (which it would only refuse with `rate_limited`).
const MAX_IN_FLIGHT: usize = 10;

/// How long a leaving participant waits for the acknowledgements of what it sent. A phone does
/// not leave with beats the hub has not confirmed: past this, the leave becomes a dropped
/// connection (resumed with the token, the batches resent).
const LEAVE_DRAIN: Duration = Duration::from_secs(10);

/// How long a participant who left stays away before joining again.
const AWAY_SECS: std::ops::Range<f64> = 2.0..10.0;

/// What ends a connection on its own when churn is on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Churn {
    /// The Wi-Fi drops: reconnect at once and resume with the token.
    Drop,
    /// The participant leaves the session and joins again after `away`.
    Leave { away: Duration },
}

/// How often the hub clock offset is measured again. The first exchange happens while a crowd
/// is still connecting and the hub is busy, so its round trip (and the offset's error) is large;
/// later, quieter exchanges replace it.
const TIME_SYNC_INTERVAL: Duration = Duration::from_secs(10);

fn time_sync_now() -> ClientEvent {
    ClientEvent::TimeSync(TimeSyncRequest {
        client_time: epoch_ms_now(),
    })
}

/// A participant's state across connections.
struct Participant {
    config: ParticipantConfig,
    stats: Arc<CrowdStats>,
    beats: Beats,
    /// Hub clock minus local clock, from the `time_sync` answers.
    clock: ClockOffsetEstimate,
    resume_token: Option<String>,
    participant_id: Option<String>,
    joined: bool,
    /// Whether the hub let us in (`session_joined`) on the current connection.
    in_session: bool,
    /// Left the session on purpose and not joined again yet.
    rejoining: bool,
    connections: u32,
    /// An original web client's score and when it was computed (it is kept for a few
    /// seconds, as the original client recomputed its score only every few seconds).
    score: Option<(Instant, f64)>,
    /// When the last score went out, until `group_metrics_update` answers it.
    score_sent_at: Option<Instant>,
}

impl Participant {
    fn new(config: ParticipantConfig, stats: Arc<CrowdStats>) -> Self {
        let beats = Beats::new(
            config.profile,
            config.seed,
            config.reporting,
            config.backfill,
        );
        Participant {
            config,
            stats,
            beats,
            clock: ClockOffsetEstimate::new(),
            resume_token: None,
            participant_id: None,
            joined: false,
            in_session: false,
            rejoining: false,
            connections: 0,
            score: None,
            score_sent_at: None,
        }
    }

    fn outcome(&self, failure: Option<String>) -> ParticipantOutcome {
        ParticipantOutcome {
            participant_id: self.participant_id.clone(),
            joined: self.joined,
            connections: self.connections,
            unacked_batches: self.beats.unacked(),
            failure,
        }
    }

    /// Hub clock minus local clock, ms; 0 until the first `time_sync` answer.
    fn clock_offset_ms(&self) -> f64 {
        self.clock.offset_ms().unwrap_or(0.0)
    }

    /// The handshake of the next connection, with the resume token once there is one. The
    /// hub's clients announce the protocol version; an original client announces nothing.
    fn handshake(&self) -> Handshake {
        Handshake {
            user_id: Some(self.config.user_id.clone()),
            room_code: self.config.room_code.clone(),
            resume_token: self.resume_token.clone(),
            role: Role::Participant,
            protocol: self.is_hub_client().then_some(PROTOCOL_VERSION),
        }
    }

    fn is_hub_client(&self) -> bool {
        self.config.kind == ClientKind::Hub
    }

    async fn connect(&self) -> Result<Connection, ClientError> {
        Connection::open(
            &self.config.hub_url,
            self.config.transport,
            self.config.ws_handshake,
            self.handshake(),
        )
        .await
    }

    /// Beats that ended since the last call; RR reporters turn them into pending batches.
    fn collect_beats(&mut self) {
        let new_batches = self.beats.collect(Instant::now(), self.clock_offset_ms());
        self.stats
            .batches_sent
            .fetch_add(new_batches, std::sync::atomic::Ordering::Relaxed);
    }

    fn join_event(&self) -> ClientEvent {
        if !self.is_hub_client() {
            return original::join_event(self.config.intention);
        }
        ClientEvent::JoinSession(JoinSession {
            intention: self.config.intention.map(|category| Intention {
                category,
                note: None,
            }),
            chant_id: None,
            consent: Some(Consent {
                research: self.config.research_consent,
            }),
            device: Some(Device {
                kind: DeviceKind::Sim,
                model: Some("synchub-sim".to_owned()),
            }),
        })
    }

    async fn send(
        &self,
        connection: &mut Connection,
        event: &ClientEvent,
    ) -> Result<(), ClientError> {
        connection.send(event).await?;
        CrowdStats::increment(&self.stats.messages_out);
        Ok(())
    }

    /// Sends the pending batches not yet sent on this connection, oldest first, keeping at most
    /// [`MAX_IN_FLIGHT`] unacknowledged on it (the rest go out on the next ticks).
    async fn flush_pending(&mut self, connection: &mut Connection) -> Result<(), ClientError> {
        for (seq, batch, resend) in self.beats.unsent(MAX_IN_FLIGHT, Instant::now()) {
            self.send(connection, &ClientEvent::RrIntervals(batch))
                .await?;
            if resend {
                CrowdStats::increment(&self.stats.batches_resent);
            }
            self.beats.mark_sent(seq, Instant::now());
        }
        Ok(())
    }

    /// Handles one hub event; `Some` ends the connection.
    async fn handle_event(
        &mut self,
        connection: &mut Connection,
        name: &str,
        data: &Value,
    ) -> Result<Option<SessionEnd>, ClientError> {
        CrowdStats::increment(&self.stats.messages_in);
        match name {
            "session_joined" => {
                if let Some(token) = data.get("resumeToken").and_then(Value::as_str) {
                    self.resume_token = Some(token.to_owned());
                }
                if let Some(id) = data.get("participantId").and_then(Value::as_str) {
                    self.participant_id = Some(id.to_owned());
                }
                if !self.joined {
                    self.joined = true;
                    CrowdStats::increment(&self.stats.joined);
                }
                if self.rejoining {
                    self.rejoining = false;
                    CrowdStats::increment(&self.stats.rejoins);
                }
                self.in_session = true;
                self.flush_pending(connection).await?;
            }
            "rr_ack" => match data.get("seq").and_then(Value::as_u64) {
                Some(seq) => match self.beats.acknowledge(seq) {
                    Some(batch) => {
                        CrowdStats::increment(&self.stats.batches_acked);
                        if let Some(sent_at) = batch.sent_at {
                            self.stats.record_ack_latency(sent_at.elapsed());
                        }
                    }
                    // Resent after 3 s without an ack, a batch the hub had stored meanwhile is
                    // acknowledged twice: expected, not a violation.
                    None if self.beats.was_acknowledged(seq) => {}
                    None => self.stats.record_error(&sim_error("unexpected_ack")),
                },
                None => self.stats.record_error(&sim_error("ack_without_seq")),
            },
            "time_sync" => {
                // A reply without its fields says nothing about the clock; it is skipped.
                if let Ok(reply) = serde_json::from_value::<TimeSyncReply>(data.clone()) {
                    self.clock.add_reply(&reply, epoch_ms_now());
                }
            }
            "group_metrics_update" => {
                CrowdStats::increment(&self.stats.group_updates);
                if let Some(sent_at) = self.score_sent_at.take() {
                    CrowdStats::increment(&self.stats.scores_answered);
                    self.stats.record_score_answer_latency(sent_at.elapsed());
                }
                let stamped = data
                    .get("groupMetrics")
                    .and_then(|metrics| metrics.get("timestamp"))
                    .and_then(Value::as_f64);
                if let Some(stamped_ms) = stamped {
                    let arrived_hub_ms = epoch_ms_now() + self.clock_offset_ms();
                    let latency_ms = (arrived_hub_ms - stamped_ms).max(0.0);
                    self.stats
                        .record_broadcast_latency(Duration::from_secs_f64(latency_ms / 1000.0));
                }
            }
            "error" => {
                let code = error_code_of(data);
                self.stats.record_error(&code);
                if is_refusal(&code) {
                    return Ok(Some(SessionEnd::Refused(code)));
                }
            }
            other if other.starts_with(SIM_ERROR_PREFIX) => self.stats.record_error(other),
            // personal_feedback, participant_update, pacer, phase_changed, … : seen, not needed.
            _ => {}
        }
        Ok(None)
    }

    /// After a drop: reads what the hub still had to say (briefly), counting its errors, and
    /// returns the code if it refused us.
    async fn read_refusal(&mut self, connection: &mut Connection) -> Option<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            let incoming = tokio::time::timeout_at(deadline, connection.next_incoming()).await;
            match incoming {
                Ok(Incoming::Event(name, data)) if name == "error" => {
                    let code = error_code_of(&data);
                    self.stats.record_error(&code);
                    if is_refusal(&code) {
                        return Some(code);
                    }
                }
                Ok(Incoming::Event(..) | Incoming::Nothing | Incoming::EnginePing(_)) => {}
                Ok(Incoming::Closed) | Err(_) => return None,
            }
        }
    }

    /// How long the next connection lasts before churn ends it (uniform in `[0.5, 1.5] ×
    /// churn`) and how (a leave with the configured share, else a drop), from the participant's
    /// seed and connection count; `None` without churn.
    fn next_churn(&self) -> Option<(Duration, Churn)> {
        use rand::{Rng as _, SeedableRng as _};
        let mean = self.config.churn?;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(
            self.config.seed ^ u64::from(self.connections).rotate_left(32),
        );
        let after = mean.mul_f64(rng.random_range(0.5..1.5));
        let leave = rng.random_bool(self.config.leave_share.clamp(0.0, 1.0));
        let kind = if leave {
            Churn::Leave {
                away: Duration::from_secs_f64(rng.random_range(AWAY_SECS)),
            }
        } else {
            Churn::Drop
        };
        Some((after, kind))
    }

    /// One connection's life, from handshake done to drop or stop.
    async fn session(
        &mut self,
        connection: &mut Connection,
        control: &mut watch::Receiver<RunState>,
    ) -> Result<SessionEnd, ClientError> {
        let resuming = self.resume_token.is_some();
        let hub_client = self.is_hub_client();
        self.beats.forget_sends();
        if hub_client {
            self.send(connection, &time_sync_now()).await?;
        }
        let mut join_sent = false;
        if !resuming {
            self.send(connection, &self.join_event()).await?;
            join_sent = true;
        }
        let join_deadline = sleep(self.config.resume_wait);
        tokio::pin!(join_deadline);
        let start = tokio::time::Instant::now();
        let mut batch_timer = interval_at(
            start + self.config.batch_interval,
            self.config.batch_interval,
        );
        batch_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut score_timer = interval_at(
            start + self.config.score_interval,
            self.config.score_interval,
        );
        score_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut time_sync_timer = interval_at(start + TIME_SYNC_INTERVAL, TIME_SYNC_INTERVAL);
        time_sync_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The original web client's 1 s score timer, re-armed by every event it receives.
        let rerender_timer = sleep(original::SCORE_DELAY);
        tokio::pin!(rerender_timer);
        let mut rerender_armed = false;
        // With churn, this connection ends by itself after a random time, as Wi-Fi does, or
        // the participant leaves.
        let churn_next = self.next_churn();
        let churn = sleep(churn_next.map_or(Duration::from_secs(86_400), |(after, _)| after));
        tokio::pin!(churn);
        // Since when a leave waits for the last acknowledgements, and how long it stays away.
        let mut leaving: Option<(tokio::time::Instant, Duration)> = None;

        loop {
            let state = *control.borrow_and_update();
            match state {
                RunState::Stopped => return Ok(SessionEnd::Finished),
                RunState::Draining if self.beats.unacked() == 0 => return Ok(SessionEnd::Finished),
                _ => {}
            }
            if let Some((since, away)) = leaving {
                if self.beats.unacked() == 0 {
                    return Ok(SessionEnd::Leaving { away });
                }
                if since.elapsed() >= LEAVE_DRAIN {
                    return Ok(SessionEnd::Dropped);
                }
            }
            tokio::select! {
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(SessionEnd::Finished);
                    }
                }
                () = &mut join_deadline, if !join_sent => {
                    join_sent = true;
                    if !self.in_session {
                        self.send(connection, &self.join_event()).await?;
                    }
                }
                _ = batch_timer.tick() => {
                    // The live state, not the one read at the top of the loop: a batch made
                    // after a crowd started draining could miss the drain.
                    if *control.borrow() == RunState::Running && leaving.is_none() {
                        self.collect_beats();
                        if self.in_session && self.config.reporting == Reporting::RrBatches {
                            self.flush_pending(connection).await?;
                        }
                    }
                }
                _ = score_timer.tick(), if hub_client && self.config.reporting == Reporting::ScoresOnly => {
                    if let (true, RunState::Running, Some(score)) = (self.in_session, state, self.beats.current_score()) {
                        let update = ClientEvent::UpdateCoherence(UpdateCoherence { coherence: score });
                        self.send(connection, &update).await?;
                        CrowdStats::increment(&self.stats.scores_sent);
                    }
                }
                _ = time_sync_timer.tick(), if hub_client => {
                    self.send(connection, &time_sync_now()).await?;
                }
                () = &mut rerender_timer, if rerender_armed => {
                    rerender_armed = false;
                    if self.in_session && *control.borrow() == RunState::Running {
                        self.send_original_score(connection).await?;
                    }
                }
                () = &mut churn, if churn_next.is_some() && self.in_session && leaving.is_none() => {
                    match churn_next.map(|(_, kind)| kind) {
                        Some(Churn::Leave { away }) => {
                            leaving = Some((tokio::time::Instant::now(), away));
                        }
                        _ => return Ok(SessionEnd::Dropped),
                    }
                }
                incoming = connection.next_incoming() => match incoming {
                    Incoming::Closed => return Ok(SessionEnd::Dropped),
                    Incoming::Nothing => {}
                    Incoming::EnginePing(data) => {
                        connection.send_text(EnginePacket::Pong(data).encode()).await?;
                    }
                    Incoming::Event(name, data) => {
                        if !hub_client {
                            rerender_timer
                                .as_mut()
                                .reset(tokio::time::Instant::now() + original::SCORE_DELAY);
                            rerender_armed = true;
                        }
                        if let Some(end) = self.handle_event(connection, &name, &data).await? {
                            return Ok(end);
                        }
                    }
                },
            }
        }
    }
}

/// Wait before connection attempt `failed_attempts + 1`: 0.5 s, 1 s, 2 s … up to 8 s.
fn backoff_after(failed_attempts: u32) -> Duration {
    Duration::from_millis(250 << failed_attempts.clamp(1, 5))
}

/// Runs one simulated participant until `control` says stop (or drain is done), reconnecting
/// with its resume token whenever the connection drops.
pub async fn run_participant(
    config: ParticipantConfig,
    stats: Arc<CrowdStats>,
    mut control: watch::Receiver<RunState>,
) -> ParticipantOutcome {
    let mut participant = Participant::new(config, stats);
    let mut failed_attempts = 0u32;
    loop {
        if *control.borrow() == RunState::Stopped
            || (*control.borrow() == RunState::Draining && participant.beats.unacked() == 0)
        {
            return participant.outcome(None);
        }
        let attempt = timeout(participant.config.connect_timeout, participant.connect())
            .await
            .unwrap_or(Err(ClientError::Timeout));
        let mut connection = match attempt {
            Ok(connection) => connection,
            Err(error) => {
                failed_attempts += 1;
                if let ClientError::Refused(code) = &error {
                    participant.stats.record_error(code);
                    if is_refusal(code) {
                        CrowdStats::increment(&participant.stats.connect_failures);
                        return participant.outcome(Some(code.clone()));
                    }
                }
                if failed_attempts >= participant.config.max_connect_attempts {
                    CrowdStats::increment(&participant.stats.connect_failures);
                    return participant.outcome(Some(error.to_string()));
                }
                // Beats keep coming while we are away; they are sent after reconnecting.
                tokio::select! {
                    () = sleep(backoff_after(failed_attempts)) => {}
                    _ = control.changed() => {}
                }
                participant.collect_beats();
                continue;
            }
        };
        participant.connections += 1;
        if participant.connections > 1 && !participant.rejoining {
            CrowdStats::increment(&participant.stats.reconnects);
        }
        CrowdStats::increment(&participant.stats.connected_now);
        participant.in_session = false;
        let mut end = participant.session(&mut connection, &mut control).await;
        participant
            .stats
            .connected_now
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if matches!(end, Ok(SessionEnd::Dropped) | Err(_)) {
            // A hub that refuses us says why and hangs up; our own writes may fail first, so
            // read what it said before deciding to reconnect.
            if let Some(code) = participant.read_refusal(&mut connection).await {
                end = Ok(SessionEnd::Refused(code));
            }
        }
        match end {
            Ok(SessionEnd::Finished) => {
                // A clean goodbye, like a phone leaving the room.
                let _ = participant
                    .send(&mut connection, &ClientEvent::LeaveSession)
                    .await;
                connection.close().await;
                return participant.outcome(None);
            }
            Ok(SessionEnd::Leaving { away }) => {
                // Everything sent is acknowledged: leave, hang up, come back later as new.
                let _ = participant
                    .send(&mut connection, &ClientEvent::LeaveSession)
                    .await;
                connection.close().await;
                CrowdStats::increment(&participant.stats.leaves);
                participant.resume_token = None;
                participant.rejoining = true;
                failed_attempts = 0;
                tokio::select! {
                    () = sleep(away) => {}
                    _ = control.changed() => {}
                }
                participant.beats.skip_until(Instant::now());
            }
            Ok(SessionEnd::Refused(code)) => {
                connection.close().await;
                if !participant.joined {
                    CrowdStats::increment(&participant.stats.connect_failures);
                }
                return participant.outcome(Some(code));
            }
            Ok(SessionEnd::Dropped) | Err(_) => {
                connection.close().await;
                if participant.in_session {
                    // A Wi-Fi blip after a good session: reconnect at once, the resume token
                    // is good for 60 s.
                    failed_attempts = 0;
                } else {
                    // Dropped before the hub let us in: count it as a failed attempt and back
                    // off, so a misbehaving hub never sees a reconnect storm.
                    failed_attempts += 1;
                    if failed_attempts >= participant.config.max_connect_attempts {
                        CrowdStats::increment(&participant.stats.connect_failures);
                        return participant.outcome(Some("dropped before session_joined".into()));
                    }
                    tokio::select! {
                        () = sleep(backoff_after(failed_attempts)) => {}
                        _ = control.changed() => {}
                    }
                    participant.collect_beats();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rr::Profile;
    use crate::socketio::SocketPacket;

    /// What the participant sends passes the hub's own validating decoder, on both transports.
    #[test]
    fn every_event_sent_is_valid_for_the_hub() {
        let mut config =
            ParticipantConfig::new("http://127.0.0.1:1", "sim-7", Profile::Settling, 7);
        // Three seconds of beats from before the start make a first batch at once.
        config.backfill = Duration::from_secs(3);
        let mut participant = Participant::new(config, Arc::new(CrowdStats::new()));
        participant.resume_token = Some("token".to_owned());
        participant.collect_beats();
        let (_, batch, _) = participant.beats.unsent(1, Instant::now()).pop().unwrap();
        let events = [
            participant.join_event(),
            ClientEvent::RrIntervals(batch),
            time_sync_now(),
            ClientEvent::UpdateCoherence(UpdateCoherence { coherence: 61.5 }),
            ClientEvent::Hello(participant.handshake()),
            ClientEvent::LeaveSession,
        ];
        for event in events {
            let frame = event.to_frame();
            assert_eq!(
                synchub_protocol::decode_ws_frame(&frame).as_ref(),
                Ok(&event),
                "{frame}"
            );
            let (name, data) = event.to_socketio();
            let packet = SocketPacket::decode(&SocketPacket::event(name, data).encode()).unwrap();
            let SocketPacket::Event { name, args, .. } = packet else {
                panic!("not an event: {packet:?}");
            };
            let data = args.into_iter().next().unwrap_or(Value::Null);
            assert_eq!(ClientEvent::decode(&name, &data), Ok(event));
        }
    }
}
