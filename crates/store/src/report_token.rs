//! How a participant's resume token keeps opening their own report after the session.
//!
//! The resume token is a credential for rejoining a running session, so the writer clears it
//! when the session completes (nobody can resume into a completed session). But that is the
//! moment a participant wants their own curve. So the store keeps the token's SHA-256 beside
//! it from the join on (`session_participants.report_token_sha256`, hub only, never exported)
//! and keeps that for [`REPORT_TOKEN_LIFETIME_MS`] after the session ended:
//!
//! - **Looked up in the store, not kept in the hub's memory**, so the report still opens after
//!   the hub restarts (a laptop closed at the end of the evening, opened the next morning).
//! - **Hashed**: a copy of the database (a backup, a repair's salvage) holds nothing that
//!   resumes or authenticates anyone once the running session's raw tokens are cleared. The
//!   token is 128 random bits, so a plain SHA-256 is enough (no salt or slow hash is needed
//!   against guessing: there is nothing to guess from). The lookup is an equality on the hash
//!   through an index: its timing can only tell an attacker about hashes, never about tokens,
//!   so no constant-time comparison is needed here.
//! - **For a day**: long enough to look again that evening or the next morning, short enough
//!   that a phone left on a table does not show someone's heart data for long. The writer
//!   clears older hashes whenever a session completes; the lookup refuses them regardless.
//! - **Only the holder's own rows**: the hash names one session's one participant row, as the
//!   running session's token did; erasing that row (`DELETE /api/me`, or the facilitator by
//!   pseudonym) removes the hash with it.

use rusqlite::OptionalExtension as _;
use sha2::{Digest as _, Sha256};
use synchub_session::TokenOwner;
use synchub_session::ids::{ParticipantId, ResumeToken, SessionId};

use crate::recovery::parse_uuid;
use crate::{Error, Reader};

/// How long after its session ended a resume token still opens its holder's own report:
/// 24 hours of hub time.
pub const REPORT_TOKEN_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// What the store keeps of a resume token for the report: its SHA-256.
pub(crate) fn report_token_hash(token: &ResumeToken) -> [u8; 32] {
    Sha256::digest(token.0).into()
}

impl Reader {
    /// The participant row (of a running session, or of one that ended less than
    /// [`REPORT_TOKEN_LIFETIME_MS`] before `now_ms`) whose resume token this is, if any.
    /// `now_ms` is hub time.
    pub fn report_token_owner(
        &self,
        token: &ResumeToken,
        now_ms: i64,
    ) -> Result<Option<TokenOwner>, Error> {
        let found = self
            .connection()
            .query_row(
                "SELECT s.session_id, p.participant_id, p.pseudonym \
                 FROM session_participants p JOIN sessions s ON s.id = p.session_ref \
                 WHERE p.report_token_sha256 = ?1 \
                 AND (s.ended_at_ms IS NULL OR s.ended_at_ms > ?2)",
                rusqlite::params![
                    &report_token_hash(token)[..],
                    now_ms.saturating_sub(REPORT_TOKEN_LIFETIME_MS)
                ],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?;
        found
            .map(|(session, participant, pseudonym)| {
                Ok(TokenOwner {
                    session_id: SessionId(parse_uuid(&session)?),
                    participant_id: ParticipantId(parse_uuid(&participant)?),
                    pseudonym,
                })
            })
            .transpose()
    }
}
