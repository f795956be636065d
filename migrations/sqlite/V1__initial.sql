-- Initial local schema: hub identity, users, sessions and phases, participants, beats, metrics, group snapshots, synchrony, erasures, sync state, research exports.
--
-- Identity: every table has an INTEGER PRIMARY KEY `id` that only grows (AUTOINCREMENT, so a
-- deleted row's id is never reused); central sync uses it as its per-table watermark, and
-- (hub.hub_id, table, id) is the row's global identity. Sessions and participants also carry
-- the engine's UUIDs. No column ever holds a raw user id, a name, a note or an IP address:
-- people appear only as pseudonyms (hex HMAC-SHA256 with the organisation secret).

CREATE TABLE hub (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_id TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pseudonym TEXT NOT NULL UNIQUE,
    first_seen_ms INTEGER NOT NULL,
    last_active_ms INTEGER NOT NULL,
    sessions_completed INTEGER NOT NULL DEFAULT 0,
    research_consent INTEGER NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL UNIQUE,
    mode TEXT NOT NULL CHECK (mode IN ('rolling', 'manual')),
    slot_start_ms INTEGER,
    started_at_ms INTEGER NOT NULL,
    preparation_secs INTEGER NOT NULL,
    active_secs INTEGER NOT NULL,
    integration_secs INTEGER NOT NULL,
    planned_end_ms INTEGER NOT NULL,
    -- The latest phase, kept here so recovery needs no scan of session_phases.
    phase TEXT NOT NULL,
    phase_started_at_ms INTEGER NOT NULL,
    phase_ends_at_ms INTEGER,
    -- NULL while the session runs; a session with NULL here at start-up was interrupted.
    ended_at_ms INTEGER,
    -- 1 when the hub closed it at start-up after a crash rather than the engine completing it.
    closed_on_recovery INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER,
    participant_count INTEGER,
    average_coherence REAL,
    peak_coherence REAL,
    secs_low REAL,
    secs_medium REAL,
    secs_high REAL,
    average_synchrony REAL
);
CREATE INDEX sessions_by_start ON sessions (started_at_ms);
CREATE INDEX sessions_running ON sessions (ended_at_ms) WHERE ended_at_ms IS NULL;

CREATE TABLE session_phases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    ends_at_ms INTEGER
);
CREATE INDEX session_phases_by_session ON session_phases (session_ref, started_at_ms);

CREATE TABLE session_participants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    intention TEXT,
    research_consent INTEGER NOT NULL,
    device TEXT NOT NULL,
    joined_at_ms INTEGER NOT NULL,
    left_at_ms INTEGER,
    peak_coherence REAL,
    high_coherence_secs REAL,
    -- The participant's resume token (16 random bytes), kept only while the session runs so a
    -- restarted hub can let phones resume; a credential, cleared at completion, never exported.
    resume_token BLOB,
    UNIQUE (session_ref, participant_id)
);
CREATE INDEX session_participants_by_pseudonym ON session_participants (pseudonym);

CREATE TABLE rr_intervals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    participant_ref INTEGER NOT NULL REFERENCES session_participants (id) ON DELETE CASCADE,
    -- The client's batch sequence number (NULL when it sent none): the unit of `rr_ack`.
    batch_seq INTEGER,
    time_ms REAL NOT NULL,
    rr_ms REAL NOT NULL,
    artifact INTEGER NOT NULL
);
CREATE INDEX rr_intervals_by_participant ON rr_intervals (participant_ref, time_ms);

CREATE TABLE hrv_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    participant_ref INTEGER NOT NULL REFERENCES session_participants (id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('hub', 'client')),
    algorithm TEXT,
    score REAL NOT NULL,
    ratio REAL,
    peak_hz REAL,
    breaths_per_min REAL,
    hr_bpm REAL,
    mean_rr_ms REAL,
    sdnn_ms REAL,
    rmssd_ms REAL,
    artifact_fraction REAL,
    quality TEXT NOT NULL
);
CREATE INDEX hrv_metrics_by_participant ON hrv_metrics (participant_ref, at_ms);

CREATE TABLE group_coherence_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    phase TEXT NOT NULL,
    participant_count INTEGER NOT NULL,
    active_count INTEGER NOT NULL,
    average_coherence REAL NOT NULL,
    median_coherence REAL NOT NULL,
    std_coherence REAL NOT NULL,
    peak_coherence REAL NOT NULL,
    coherence_phase TEXT NOT NULL,
    distribution_low INTEGER NOT NULL,
    distribution_medium INTEGER NOT NULL,
    distribution_high INTEGER NOT NULL,
    synchrony_index REAL
);
CREATE INDEX group_coherence_snapshots_by_session ON group_coherence_snapshots (session_ref, at_ms);
CREATE INDEX group_coherence_snapshots_by_time ON group_coherence_snapshots (at_ms);

CREATE TABLE synchrony_rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    participants INTEGER NOT NULL,
    synchrony_index REAL NOT NULL,
    surrogate_index REAL NOT NULL,
    mean_strength REAL NOT NULL,
    surrogate_mean_strength REAL NOT NULL,
    pairs_sampled INTEGER NOT NULL
);
CREATE INDEX synchrony_rounds_by_session ON synchrony_rounds (session_ref, at_ms);

CREATE TABLE synchronization_pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round_ref INTEGER NOT NULL REFERENCES synchrony_rounds (id) ON DELETE CASCADE,
    participant_a_ref INTEGER NOT NULL REFERENCES session_participants (id) ON DELETE CASCADE,
    participant_b_ref INTEGER NOT NULL REFERENCES session_participants (id) ON DELETE CASCADE,
    correlation REAL NOT NULL,
    plv REAL NOT NULL,
    strength REAL NOT NULL
);
CREATE INDEX synchronization_pairs_by_round ON synchronization_pairs (round_ref);
CREATE INDEX synchronization_pairs_by_a ON synchronization_pairs (participant_a_ref);
CREATE INDEX synchronization_pairs_by_b ON synchronization_pairs (participant_b_ref);

-- Tombstones of erased participants, carried to the central database by sync.
CREATE TABLE erasures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pseudonym TEXT NOT NULL,
    erased_at_ms INTEGER NOT NULL,
    participant_rows INTEGER NOT NULL,
    beat_rows INTEGER NOT NULL,
    metric_rows INTEGER NOT NULL,
    pair_rows INTEGER NOT NULL
);

-- A local cache of the central per-table watermark (the central one is authoritative).
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL UNIQUE,
    last_synced_id INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE research_exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    export_id TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    -- 'research' (consented participants in a time range) or 'participant' (one person's own data).
    scope TEXT NOT NULL CHECK (scope IN ('research', 'participant')),
    format TEXT NOT NULL CHECK (format IN ('csv', 'json', 'parquet')),
    from_ms INTEGER,
    to_ms INTEGER,
    out_dir TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    participants INTEGER NOT NULL,
    beat_rows INTEGER NOT NULL,
    total_rows INTEGER NOT NULL
);
