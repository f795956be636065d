-- Erasure tombstones scoped to one session: a participant's own erasure (by resume token) reaches only the session row its token was issued for; NULL in both columns means every session of the pseudonym (the facilitator's erasure).
ALTER TABLE erasures ADD COLUMN session_ref INTEGER;
ALTER TABLE erasures ADD COLUMN participant_id TEXT;
