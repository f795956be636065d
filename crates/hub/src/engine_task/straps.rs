//! Hub-read straps inside the engine task. A strap assigned to a wearer becomes a connection
//! like a phone's, with no socket behind it: its beats arrive as the same beats input from that
//! connection, so the engine treats them exactly like a phone's (`coherence.md` §7 happens
//! before, in the BLE bridge). Phones or browsers that `claim_strap` its code receive the
//! wearer's `personal_feedback` too.

use std::sync::Arc;

use synchub_protocol::{ErrorCode, ErrorEvent, Role};
use synchub_session::ParticipantId;

use super::{Conn, EngineTask};
use crate::client_input::JoinFields;
use crate::encoded::Encoded;
use crate::peer::{ConnId, Peer, SendFailure};

/// What makes a connection a strap's.
#[derive(Debug, Clone)]
pub(super) struct StrapLink {
    /// The short code shown in the console, matched case-insensitively by `claim_strap`.
    pub code: String,
    /// How the wearer joins each session: label-free, with the facilitator's intention and
    /// consent choices, device kind `ble`.
    pub join: JoinFields,
}

/// A strap's connection has no socket: nobody reads its messages (claimers get the wearer's
/// feedback through the engine task).
#[derive(Debug)]
struct NoSocket;

impl Peer for NoSocket {
    fn send(&self, _event: &Arc<Encoded>) -> Result<(), SendFailure> {
        Ok(())
    }

    fn close(&self) {}
}

impl EngineTask {
    /// Opens the strap's connection and joins its wearer to the current session (if one is
    /// running; otherwise at the first beats once one is). The hub's strap room assigns each
    /// strap once, so nothing is checked here.
    pub(super) fn strap_assigned(
        &mut self,
        conn: ConnId,
        code: String,
        pseudonym: String,
        join: JoinFields,
    ) {
        self.conns.insert(
            conn,
            Conn {
                peer: Arc::new(NoSocket),
                role: Role::Participant,
                pseudonym,
                resume_token: None,
                address: None,
                participant: None,
                issued_token: None,
                clock_offset_ms: None,
                strap: Some(StrapLink { code, join }),
            },
        );
        if self.engine.current_session().is_some() {
            self.rejoin_strap(conn);
        }
        self.view_dirty = true;
    }

    /// The wearer leaves (their data so far stays, like a phone's `leave_session`) and the
    /// strap's connection and claims end.
    pub(super) fn strap_released(&mut self, conn: ConnId) {
        if let Some(participant) = self.conns.get(&conn).and_then(|entry| entry.participant) {
            let _ = self.engine.handle_leave(self.clock.wall_ms(), participant);
            self.by_participant.remove(&participant);
        }
        self.conns.remove(&conn);
        self.claims.remove(&conn);
        self.view_dirty = true;
    }

    /// Joins the strap's wearer to the current session; `None` when no session runs or the
    /// room is full (the beats are then refused like a phone's).
    pub(super) fn rejoin_strap(&mut self, conn: ConnId) -> Option<ParticipantId> {
        let join = self.conns.get(&conn)?.strap.as_ref()?.join.clone();
        self.join(conn, None, &join).ok()?;
        self.conns.get(&conn)?.participant
    }

    /// `claim_strap {strapCode}`: from now on `conn` also gets the strap wearer's feedback.
    pub(super) fn claim_strap(&mut self, conn: ConnId, code: &str) -> Result<(), ErrorEvent> {
        let strap_conn = self
            .conns
            .iter()
            .find(|(_, entry)| {
                entry
                    .strap
                    .as_ref()
                    .is_some_and(|link| link.code.eq_ignore_ascii_case(code.trim()))
            })
            .map(|(&id, _)| id)
            .ok_or_else(|| ErrorEvent {
                code: ErrorCode::UnknownStrap,
                message: "claim_strap: no strap in this room shows that code; check the code next to the strap in the console".to_owned(),
            })?;
        let claimers = self.claims.entry(strap_conn).or_default();
        if !claimers.contains(&conn) {
            claimers.push(conn);
        }
        Ok(())
    }

    /// Sends a strap wearer's message to the connections that claimed the strap.
    pub(super) fn send_to_claimers(&mut self, strap_conn: ConnId, encoded: &Arc<Encoded>) {
        let Some(claimers) = self.claims.get(&strap_conn) else {
            return;
        };
        for claimer in claimers.clone() {
            self.send_to_conn(claimer, encoded);
        }
    }

    /// A closed connection claims nothing any more; a closed strap has no claimers.
    pub(super) fn forget_claims_of(&mut self, conn: ConnId) {
        self.claims.remove(&conn);
        for claimers in self.claims.values_mut() {
            claimers.retain(|&claimer| claimer != conn);
        }
    }
}
