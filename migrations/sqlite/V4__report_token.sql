-- A participant's own report stays reachable by their resume token for a day after the session completes: the token's SHA-256 is kept (hub only, never exported) when the token itself is cleared at completion, and cleared in turn once that day is over.
ALTER TABLE session_participants ADD COLUMN report_token_sha256 BLOB;
CREATE INDEX session_participants_by_report_token ON session_participants (report_token_sha256) WHERE report_token_sha256 IS NOT NULL;
