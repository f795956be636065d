//! Draining the engine and delivering what it produced: records to the store first (so a
//! message never announces something the store has not been handed), then messages to one
//! participant, then the group's figures for original clients that sent a score (`cadence`),
//! then broadcasts serialised once for every recipient (each connection's cadence decides
//! whether a tick's figures are among them); a pending acknowledgement answered by the first
//! matching event; the published [`RoomView`].

use std::sync::Arc;

use synchub_protocol::{ErrorEvent, HubEvent};
use synchub_session::{Audience, Broadcast, MessageBody};

use super::{Answer, EngineTask, RoomView};
use crate::convert;
use crate::encoded::Encoded;
use crate::metrics::Metrics;
use crate::peer::{ConnId, SendFailure};

impl EngineTask {
    /// Carries out everything the engine produced, in order.
    pub(super) fn drain(&mut self) {
        self.drain_records_and_messages();
        self.answer_scores();
        self.drain_broadcasts();
    }

    /// Records and per-participant messages, then the pending acknowledgement: what an
    /// acknowledgement needs before the next input; broadcasts can wait for the burst's end.
    pub(super) fn drain_replies(&mut self) {
        self.drain_records_and_messages();
        self.answer_pending_reply();
    }

    /// Nothing the client asked for was sent while its input was handled: say so, and the
    /// edge acknowledges receipt.
    fn answer_pending_reply(&mut self) {
        if let Some(pending) = self.pending_reply.take() {
            let _ = pending.answer.send(Answer::NothingMatched);
        }
    }

    fn drain_records_and_messages(&mut self) {
        while let Some(record) = self.engine.poll_record() {
            self.store.persist(record);
        }
        self.store.offer_backlog();
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
            let complete = matches!(broadcast, Broadcast::SessionComplete { .. });
            let encoded = Encoded::new(&convert::broadcast_event(&broadcast));
            Metrics::increment(&self.metrics.broadcasts);
            let displays_only = broadcast.audience() == Audience::Displays;
            let recipients: Vec<ConnId> = self
                .conns
                .iter_mut()
                .filter_map(|(&id, conn)| {
                    conn.takes_broadcast(&broadcast, displays_only)
                        .then_some(id)
                })
                .collect();
            for conn in recipients {
                self.send_to_conn(conn, &encoded);
            }
            if complete {
                self.forget_session_participants();
            }
        }
        self.answer_pending_reply();
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
            strap_claims: self.claim_view(),
        };
        self.view.send_replace(Arc::new(view));
    }

    pub(super) fn send_error(&mut self, conn: ConnId, error: ErrorEvent) {
        self.metrics.count_error(error.code);
        let event = HubEvent::Error(error);
        self.send_to_conn(conn, &Encoded::new(&event));
    }

    /// Sends to one connection; a connection that does not read is closed and counted.
    pub(super) fn send_to_conn(&mut self, conn: ConnId, encoded: &Arc<Encoded>) {
        if let Some(pending) = self
            .pending_reply
            .take_if(|pending| pending.conn == conn && pending.answered_by.contains(&encoded.name))
        {
            let _ = pending.answer.send(Answer::Event(encoded.clone()));
        }
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        match entry.peer.send(encoded) {
            Ok(()) => Metrics::increment(&self.metrics.messages_out),
            Err(SendFailure::Slow) => {
                Metrics::increment(&self.metrics.slow_client_disconnects);
                tracing::warn!(conn, "closing a connection that does not read its messages");
                entry.peer.close();
                self.close(conn);
            }
            Err(SendFailure::Closed) => self.close(conn),
        }
    }
}
