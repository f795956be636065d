//! Participants coming and going: join, resume with a token, disconnect (and the end of the
//! resume grace), leave, intention and consent, clock-offset samples.
//!
//! Each input touches one participant in O(1) (O(log n) for the id and token maps); the room
//! only hears of it through one coalesced participant count per drain.

use std::cmp::Reverse;

use super::Engine;
use crate::effect::{Message, MessageBody, SessionJoined};
use crate::error::EngineError;
use crate::ids::{ParticipantId, ResumeToken};
use crate::input::{JoinRequest, TokenOwner};
use crate::participant::{Connection, Participant};
use crate::record::{IntentionCategory, ParticipantRow, Record};

impl Engine {
    /// A participant joins the current session (a completed session's joiners land in the
    /// next one). Emits `ParticipantJoined`, `SessionJoined` + `Pacer` to the participant, and
    /// a coalesced participant count.
    pub fn handle_join(
        &mut self,
        now_ms: i64,
        request: JoinRequest,
    ) -> Result<ParticipantId, EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self.session.as_mut().ok_or(EngineError::NoActiveSession)?;
        if let Some(capacity) = self.config.max_participants
            && session.participant_count >= capacity
        {
            return Err(EngineError::SessionFull { capacity });
        }
        let id = ParticipantId::random(&mut self.rng);
        let token = loop {
            let token = ResumeToken::new_random(&mut self.rng);
            if !session.token_key_in_use(token.lookup_key()) {
                break token;
            }
        };
        let slot = session.take_free_slot();
        let row = ParticipantRow {
            session_id: session.id(),
            participant_id: id,
            pseudonym: request.pseudonym,
            intention: request.intention,
            research_consent: request.research_consent,
            device: request.device,
            joined_at_ms: now_ms,
            resume_token: token,
        };
        let mut participant = Participant::new(&row, slot, Connection::Connected, now_ms);
        if let Some(offset_ms) = request.clock_offset_ms {
            participant.clock.add_sample(offset_ms);
        }
        session.insert(participant);
        session.joined_total += 1;
        self.records.push_back(Record::ParticipantJoined(row));
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::SessionJoined(Box::new(SessionJoined {
                participant_id: id,
                resume_token: token,
                resumed: false,
                session: session.info(),
                group: session.group.clone(),
            })),
        });
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::Pacer(self.pacer),
        });
        self.participant_count_dirty = true;
        Ok(id)
    }

    /// A participant comes back on a new connection with its token, inside the grace: same id,
    /// analyser and slot. Emits `SessionJoined { resumed: true }` + `Pacer`. An unknown or
    /// expired token is `UnknownResumeToken`: the hub lets the client join as new.
    pub fn handle_resume(
        &mut self,
        now_ms: i64,
        token: &ResumeToken,
    ) -> Result<ParticipantId, EngineError> {
        self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownResumeToken)?;
        let id = *session
            .by_token
            .get(&token.lookup_key())
            .ok_or(EngineError::UnknownResumeToken)?;
        let participant = session
            .participant_mut(id)
            .map_err(|_| EngineError::UnknownResumeToken)?;
        if !participant.token.constant_time_eq(token) {
            return Err(EngineError::UnknownResumeToken);
        }
        // The grace-heap entry goes stale and is skipped when it comes up.
        participant.connection = Connection::Connected;
        let joined = SessionJoined {
            participant_id: id,
            resume_token: participant.token,
            resumed: true,
            session: session.info(),
            group: session.group.clone(),
        };
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::SessionJoined(Box::new(joined)),
        });
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::Pacer(self.pacer),
        });
        Ok(id)
    }

    /// The participant's connection dropped: it stays in the session (counted, slot kept,
    /// analyser kept) for the resume grace, then is closed with `left_at` = now.
    pub fn handle_disconnect(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let grace_ms = self.config.resume_grace_ms;
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let entry = session.participant_mut(participant)?;
        if entry.is_connected() {
            let grace_ends_ms = now_ms + grace_ms;
            entry.connection = Connection::Disconnected {
                since_ms: now_ms,
                grace_ends_ms,
            };
            session.grace.push(Reverse((grace_ends_ms, participant)));
        }
        Ok(())
    }

    /// The participant leaves (`leave_session`): closed at once, slot freed.
    pub fn handle_leave(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let removed = session
            .remove(participant)
            .ok_or(EngineError::UnknownParticipant(participant))?;
        self.records
            .push_back(session.closed_record(&removed, now_ms));
        self.participant_count_dirty = true;
        Ok(())
    }

    /// `set_intention` (and consent, when a re-join on a resumed connection brings one):
    /// emits `ParticipantChanged`. `research_consent: None` keeps the current consent.
    pub fn handle_set_intention(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        intention: Option<IntentionCategory>,
        research_consent: Option<bool>,
    ) -> Result<(), EngineError> {
        self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let session_id = session.id();
        let entry = session.participant_mut(participant)?;
        entry.intention = intention;
        if let Some(consent) = research_consent {
            entry.research_consent = consent;
        }
        self.records.push_back(Record::ParticipantChanged {
            session_id,
            participant_id: participant,
            intention,
            research_consent: entry.research_consent,
        });
        Ok(())
    }

    /// A `time_sync {clientTime}` from the participant's connection arrived at `now_ms`: one
    /// clock-offset sample (hub − client). The hub answers `{clientTime, hubTime: now_ms}`
    /// itself.
    pub fn handle_time_sync(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        client_time_ms: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        session
            .participant_mut(participant)?
            .clock
            .add_sample(now_ms as f64 - client_time_ms);
        Ok(())
    }

    /// Who holds this resume token in the current session (restored participants included),
    /// compared in constant time.
    ///
    /// A participant who left the session (`leave_session`, or closed when their resume grace
    /// ran out) is still found until the session completes, so they can export or erase their
    /// data after leaving the room; once it completes no token is found (the facilitator then
    /// exports or erases by pseudonym). A restored session knows only the participants it was
    /// restored with, not those who had left before the restart. Reads the engine as of its
    /// latest input or wake-up.
    pub fn participant_by_token(&self, token: &ResumeToken) -> Option<TokenOwner> {
        self.session.as_ref()?.token_owner(token)
    }

    /// The earliest resume grace ended: its participant is closed unless it resumed (or its
    /// grace was renewed by a later disconnect) meanwhile.
    pub(super) fn expire_grace(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Some(Reverse((at_ms, participant))) = session.grace.pop() else {
            return;
        };
        let still_waiting = session
            .participant_mut(participant)
            .is_ok_and(|entry| {
                matches!(entry.connection, Connection::Disconnected { grace_ends_ms, .. } if grace_ends_ms == at_ms)
            });
        if !still_waiting {
            return;
        }
        if let Some(removed) = session.remove(participant) {
            self.records
                .push_back(session.closed_record(&removed, at_ms));
            self.participant_count_dirty = true;
        }
    }
}
