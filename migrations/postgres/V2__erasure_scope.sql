-- Erasure tombstones scoped to one session: a participant's own erasure (by resume token) reaches only that hub's session row with this participant id; NULL in both columns means every row of the pseudonym that existed at the erasure (the facilitator's erasure).
ALTER TABLE erasures ADD COLUMN session_ref BIGINT;
ALTER TABLE erasures ADD COLUMN participant_id UUID;
