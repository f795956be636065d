//! Hub-read and relay straps inside the engine task. A strap assigned to a wearer becomes a connection
//! like a phone's, with no socket behind it: its beats arrive as the same beats input from that
//! connection, so the engine treats them exactly like a phone's (`coherence.md` §7 happens
//! before, in the BLE bridge). Phones or browsers that `claim_strap` its code receive the
//! wearer's `personal_feedback` too. Each claim, and each revocation by the facilitator, is
//! told to the claimer and to the wearer (`strap_claim`): the strap has no screen, so the
//! wearer is every other device that gets the strap's feedback — the wearer's own phone,
//! when it claimed the strap — and nobody watches a stranger's heart unseen.

use std::sync::Arc;

use synchub_protocol::{ErrorCode, ErrorEvent, HubEvent, Role, StrapClaim, StrapClaimChange};
use synchub_session::ParticipantId;

use super::cadence::{Cadence, GroupUpdates};
use super::{Conn, EngineTask};
use crate::client_input::JoinFields;
use crate::encoded::Encoded;
use crate::guessing::{CodeCheck, constant_time_eq};
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
        peer: Option<Arc<dyn Peer>>,
    ) {
        self.conns.insert(
            conn,
            Conn {
                peer: peer.unwrap_or_else(|| Arc::new(NoSocket)),
                role: Role::Participant,
                pseudonym,
                resume_token: None,
                address: None,
                participant: None,
                issued_token: None,
                clock_offset_ms: None,
                strap: Some(StrapLink { code, join }),
                guesses: None,
                // Nobody reads a strap's connection; its claimers are served as it is.
                group_updates: GroupUpdates::new(Cadence::EveryTick),
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
            let _ = self.engine.handle_leave(self.clock.hub_ms(), participant);
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

    /// `claim_strap {strapCode}`: from now on `conn` also gets the strap wearer's feedback; it
    /// and the wearer are told (`strap_claim`). Only a participant who joined may claim (a code
    /// is never checked for anyone else), and every wrong code counts toward the same lockout
    /// as wrong room codes, per address and for the room.
    pub(super) fn claim_strap(&mut self, conn: ConnId, code: &str) -> Result<(), ErrorEvent> {
        let entry = self.conns.get(&conn).ok_or_else(|| ErrorEvent {
            code: ErrorCode::NotJoined,
            message: "claim_strap: this connection is closing".to_owned(),
        })?;
        if entry.participant.is_none() {
            return Err(ErrorEvent {
                code: ErrorCode::NotJoined,
                message: "claim_strap: send join_session first; only a participant of the session may claim a strap".to_owned(),
            });
        }
        let Some(guesses) = entry.guesses.clone() else {
            return Err(ErrorEvent {
                code: ErrorCode::NotAllowed,
                message: "claim_strap: a strap cannot claim a strap".to_owned(),
            });
        };
        let typed = synchub_ble::normalize_code(code);
        let mut found = None;
        let check = guesses.check(|| {
            found = self.strap_conn_showing(&typed);
            found.is_some()
        });
        let strap_conn = match (check, found) {
            (CodeCheck::Accepted, Some(strap_conn)) => strap_conn,
            (CodeCheck::Wrong | CodeCheck::Accepted, _) => {
                return Err(ErrorEvent {
                    code: ErrorCode::UnknownStrap,
                    message: "claim_strap: no strap in this room shows that code; check the code next to the strap in the console".to_owned(),
                });
            }
            (refused, _) => {
                return Err(ErrorEvent {
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "claim_strap: {}",
                        refused.refusal("strap code").unwrap_or_default()
                    ),
                });
            }
        };
        let Some(claimer) = entry.participant else {
            return Ok(());
        };
        let claimers = self.claims.entry(strap_conn).or_default();
        let new_claim = !claimers.contains(&conn);
        if new_claim {
            claimers.push(conn);
        }
        self.view_dirty = true;
        if let Some(slot) = self.slot_of(claimer) {
            // A claim repeated on the same connection (a page sending it again) is answered
            // again but is no news to the wearer.
            self.tell_of_claim(
                strap_conn,
                &[conn],
                slot,
                StrapClaimChange::Claimed,
                new_claim,
            );
        }
        Ok(())
    }

    /// The connection of the assigned strap whose code is `typed` (normalised), compared in
    /// constant time.
    fn strap_conn_showing(&self, typed: &str) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|(_, entry)| {
                entry
                    .strap
                    .as_ref()
                    .is_some_and(|link| constant_time_eq(link.code.as_bytes(), typed.as_bytes()))
            })
            .map(|(&id, _)| id)
    }

    /// The facilitator revokes the claim of the participant in `slot` on the strap showing
    /// `code`: that connection stops receiving the wearer's feedback; it and the wearer are
    /// told (`strap_claim`). False when there was no such claim.
    pub(super) fn revoke_claim(&mut self, code: &str, slot: u32) -> bool {
        let Some(strap_conn) = self.strap_conn_showing(code) else {
            return false;
        };
        let Some(participant) = self
            .engine
            .participants()
            .find(|seen| seen.slot == slot)
            .map(|seen| seen.participant_id)
        else {
            return false;
        };
        let Some(claimers) = self.claims.get_mut(&strap_conn) else {
            return false;
        };
        let revoked: Vec<ConnId> = claimers
            .iter()
            .copied()
            .filter(|claimer| {
                self.conns
                    .get(claimer)
                    .is_some_and(|entry| entry.participant == Some(participant))
            })
            .collect();
        claimers.retain(|claimer| !revoked.contains(claimer));
        if !revoked.is_empty() {
            self.tell_of_claim(strap_conn, &revoked, slot, StrapClaimChange::Revoked, true);
        }
        self.view_dirty = true;
        !revoked.is_empty()
    }

    /// The slot in the room of `participant`, as the console shows it.
    fn slot_of(&self, participant: ParticipantId) -> Option<u32> {
        self.engine
            .participants()
            .find(|seen| seen.participant_id == participant)
            .map(|seen| seen.slot)
    }

    /// `strap_claim`: tells the claimer's connections (`yours`) that their claim (by the
    /// participant in `claimer_slot`) on the strap of `strap_conn` began or ended, and, with
    /// `tell_wearer`, the strap's wearer: every other connection that gets its feedback.
    fn tell_of_claim(
        &mut self,
        strap_conn: ConnId,
        claimer_conns: &[ConnId],
        claimer_slot: u32,
        change: StrapClaimChange,
        tell_wearer: bool,
    ) {
        let Some(code) = self
            .conns
            .get(&strap_conn)
            .and_then(|entry| entry.strap.as_ref())
            .map(|link| link.code.clone())
        else {
            return;
        };
        let event = |yours| {
            Encoded::new(&HubEvent::StrapClaim(StrapClaim {
                strap_code: code.clone(),
                claimer_slot,
                change,
                yours,
            }))
        };
        let yours = event(true);
        for &conn in claimer_conns {
            self.send_to_conn(conn, &yours);
        }
        if !tell_wearer {
            return;
        }
        let theirs = event(false);
        let wearer: Vec<ConnId> = self
            .claims
            .get(&strap_conn)
            .into_iter()
            .flatten()
            .copied()
            .filter(|conn| !claimer_conns.contains(conn))
            .collect();
        for conn in wearer {
            self.send_to_conn(conn, &theirs);
        }
    }

    /// Each claim as (strap code, claimer's participant), for the console.
    pub(super) fn claim_view(&self) -> Vec<(String, ParticipantId)> {
        let mut claims: Vec<(String, ParticipantId)> = self
            .claims
            .iter()
            .filter_map(|(strap_conn, claimers)| {
                let code = self.conns.get(strap_conn)?.strap.as_ref()?.code.clone();
                Some(
                    claimers
                        .iter()
                        .filter_map(|claimer| self.conns.get(claimer)?.participant)
                        .map(move |participant| (code.clone(), participant)),
                )
            })
            .flatten()
            .collect();
        claims.sort();
        claims
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
        self.view_dirty = true;
        self.claims.remove(&conn);
        for claimers in self.claims.values_mut() {
            claimers.retain(|&claimer| claimer != conn);
        }
    }
}
