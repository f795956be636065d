-- Central schema: every hub's consented sessions, keyed by (hub_id, id), per-hub sync watermarks, and the research.* views.
--
-- Identity: `id` is the row's id in the hub's local SQLite table (it only grows there), so
-- (hub_id, id) is the row's global identity and the primary key here. Re-sending a row is
-- harmless: sync inserts with ON CONFLICT DO NOTHING. `*_ref` columns are local ids of the parent
-- rows of the same hub. There are no foreign keys: a hub pushes its tables in dependency order,
-- erasure deletes a participant's rows in one transaction, and bulk COPY stays fast.
--
-- Time: the time-series tables carry `at` (timestamptz, derived from the local milliseconds)
-- so that TimescaleDB can partition on it. The TimescaleDB step (hypertables, compression, a
-- continuous aggregate) is not in this file: it runs from Rust after the migrations, only when
-- the extension is available (see crates/cloud/src/schema.rs). Without it these stay plain tables.
--
-- Personal data: participants appear only as pseudonyms (HMAC-SHA256 with the organisation
-- secret); only consented participants' rows are ever sent; resume tokens never leave the hub.

CREATE TABLE hubs (
    hub_id UUID PRIMARY KEY,
    created_at_ms BIGINT NOT NULL,
    first_sync_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sync_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The authoritative per-hub, per-table watermark: the highest local id already pushed.
-- Advanced in the same transaction as the rows it covers.
CREATE TABLE hub_sync_state (
    hub_id UUID NOT NULL,
    table_name TEXT NOT NULL,
    watermark BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (hub_id, table_name)
);

CREATE TABLE sessions (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_id UUID NOT NULL,
    mode TEXT NOT NULL,
    slot_start_ms BIGINT,
    started_at_ms BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    preparation_secs BIGINT NOT NULL,
    active_secs BIGINT NOT NULL,
    integration_secs BIGINT NOT NULL,
    planned_end_ms BIGINT NOT NULL,
    ended_at_ms BIGINT,
    closed_on_recovery BOOLEAN NOT NULL,
    duration_ms BIGINT,
    participant_count BIGINT,
    average_coherence DOUBLE PRECISION,
    peak_coherence DOUBLE PRECISION,
    secs_low DOUBLE PRECISION,
    secs_medium DOUBLE PRECISION,
    secs_high DOUBLE PRECISION,
    average_synchrony DOUBLE PRECISION,
    PRIMARY KEY (hub_id, id),
    UNIQUE (session_id)
);
CREATE INDEX sessions_by_start ON sessions (started_at);

CREATE TABLE session_phases (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    phase TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    ends_at_ms BIGINT,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX session_phases_by_session ON session_phases (hub_id, session_ref);

CREATE TABLE session_participants (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    participant_id UUID NOT NULL,
    pseudonym TEXT NOT NULL,
    intention TEXT,
    -- Always true for rows sync sends; the research views still filter on it, so a row that
    -- reached this table any other way stays invisible to researchers.
    research_consent BOOLEAN NOT NULL,
    device TEXT NOT NULL,
    joined_at_ms BIGINT NOT NULL,
    left_at_ms BIGINT,
    peak_coherence DOUBLE PRECISION,
    high_coherence_secs DOUBLE PRECISION,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX session_participants_by_session ON session_participants (hub_id, session_ref);
CREATE INDEX session_participants_by_pseudonym ON session_participants (pseudonym);

CREATE TABLE rr_intervals (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    participant_ref BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    time_ms DOUBLE PRECISION NOT NULL,
    rr_ms DOUBLE PRECISION NOT NULL,
    artifact BOOLEAN NOT NULL,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX rr_intervals_by_session ON rr_intervals (hub_id, session_ref, participant_ref, at);
CREATE INDEX rr_intervals_by_time ON rr_intervals (at);

CREATE TABLE hrv_metrics (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    participant_ref BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    algorithm TEXT,
    score DOUBLE PRECISION NOT NULL,
    ratio DOUBLE PRECISION,
    peak_hz DOUBLE PRECISION,
    breaths_per_min DOUBLE PRECISION,
    hr_bpm DOUBLE PRECISION,
    mean_rr_ms DOUBLE PRECISION,
    sdnn_ms DOUBLE PRECISION,
    rmssd_ms DOUBLE PRECISION,
    artifact_fraction DOUBLE PRECISION,
    quality TEXT NOT NULL,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX hrv_metrics_by_session ON hrv_metrics (hub_id, session_ref, participant_ref, at);
CREATE INDEX hrv_metrics_by_time ON hrv_metrics (at);

CREATE TABLE group_coherence_snapshots (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    at_ms BIGINT NOT NULL,
    phase TEXT NOT NULL,
    participant_count BIGINT NOT NULL,
    active_count BIGINT NOT NULL,
    average_coherence DOUBLE PRECISION NOT NULL,
    median_coherence DOUBLE PRECISION NOT NULL,
    std_coherence DOUBLE PRECISION NOT NULL,
    peak_coherence DOUBLE PRECISION NOT NULL,
    coherence_phase TEXT NOT NULL,
    distribution_low BIGINT NOT NULL,
    distribution_medium BIGINT NOT NULL,
    distribution_high BIGINT NOT NULL,
    synchrony_index DOUBLE PRECISION,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX group_coherence_snapshots_by_session ON group_coherence_snapshots (hub_id, session_ref, at);
CREATE INDEX group_coherence_snapshots_by_time ON group_coherence_snapshots (at);

CREATE TABLE synchrony_rounds (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    at_ms BIGINT NOT NULL,
    participants BIGINT NOT NULL,
    synchrony_index DOUBLE PRECISION NOT NULL,
    surrogate_index DOUBLE PRECISION NOT NULL,
    mean_strength DOUBLE PRECISION NOT NULL,
    surrogate_mean_strength DOUBLE PRECISION NOT NULL,
    pairs_sampled BOOLEAN NOT NULL,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX synchrony_rounds_by_session ON synchrony_rounds (hub_id, session_ref, at);

CREATE TABLE synchronization_pairs (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    round_ref BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    participant_a_ref BIGINT NOT NULL,
    participant_b_ref BIGINT NOT NULL,
    correlation DOUBLE PRECISION NOT NULL,
    plv DOUBLE PRECISION NOT NULL,
    strength DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX synchronization_pairs_by_session ON synchronization_pairs (hub_id, session_ref, at);
CREATE INDEX synchronization_pairs_by_time ON synchronization_pairs (at);

-- Tombstones received from hubs. Applying one deletes that hub's rows of the participant who
-- joined before the erasure; keeping it makes a re-sent tombstone a no-op and leaves an audit trail.
CREATE TABLE erasures (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    pseudonym TEXT NOT NULL,
    erased_at_ms BIGINT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (hub_id, id)
);

-- Research views: consented participants only, people as pseudonyms, no hub-internal columns.
CREATE SCHEMA research;

CREATE VIEW research.sessions AS
SELECT s.hub_id, s.session_id, s.mode, s.started_at, s.started_at_ms, s.ended_at_ms,
       s.duration_ms, s.participant_count, s.average_coherence, s.peak_coherence,
       s.secs_low, s.secs_medium, s.secs_high, s.average_synchrony
FROM sessions s;

CREATE VIEW research.participants AS
SELECT p.hub_id, s.session_id, p.participant_id, p.pseudonym, p.intention, p.device,
       p.joined_at_ms, p.left_at_ms, p.peak_coherence, p.high_coherence_secs
FROM session_participants p
JOIN sessions s ON s.hub_id = p.hub_id AND s.id = p.session_ref
WHERE p.research_consent;

CREATE VIEW research.rr_intervals AS
SELECT r.hub_id, s.session_id, p.participant_id, p.pseudonym, r.at, r.time_ms, r.rr_ms, r.artifact
FROM rr_intervals r
JOIN session_participants p ON p.hub_id = r.hub_id AND p.id = r.participant_ref
JOIN sessions s ON s.hub_id = r.hub_id AND s.id = r.session_ref
WHERE p.research_consent;

CREATE VIEW research.hrv_metrics AS
SELECT m.hub_id, s.session_id, p.participant_id, p.pseudonym, m.at, m.at_ms, m.source,
       m.algorithm, m.score, m.ratio, m.peak_hz, m.breaths_per_min, m.hr_bpm, m.mean_rr_ms,
       m.sdnn_ms, m.rmssd_ms, m.artifact_fraction, m.quality
FROM hrv_metrics m
JOIN session_participants p ON p.hub_id = m.hub_id AND p.id = m.participant_ref
JOIN sessions s ON s.hub_id = m.hub_id AND s.id = m.session_ref
WHERE p.research_consent;

CREATE VIEW research.group_coherence AS
SELECT g.hub_id, s.session_id, g.at, g.at_ms, g.phase, g.participant_count, g.active_count,
       g.average_coherence, g.median_coherence, g.std_coherence, g.peak_coherence,
       g.coherence_phase, g.distribution_low, g.distribution_medium, g.distribution_high,
       g.synchrony_index
FROM group_coherence_snapshots g
JOIN sessions s ON s.hub_id = g.hub_id AND s.id = g.session_ref;

CREATE VIEW research.synchronization_pairs AS
SELECT x.hub_id, s.session_id, x.at, a.pseudonym AS pseudonym_a, b.pseudonym AS pseudonym_b,
       x.correlation, x.plv, x.strength
FROM synchronization_pairs x
JOIN session_participants a ON a.hub_id = x.hub_id AND a.id = x.participant_a_ref
JOIN session_participants b ON b.hub_id = x.hub_id AND b.id = x.participant_b_ref
JOIN sessions s ON s.hub_id = x.hub_id AND s.id = x.session_ref
WHERE a.research_consent AND b.research_consent;

-- Group coherence per minute. A plain view here; with TimescaleDB the Rust-side step replaces
-- it by a continuous aggregate of the same name and columns.
CREATE VIEW research.group_coherence_per_minute AS
SELECT g.hub_id, g.session_ref, date_trunc('minute', g.at) AS minute,
       avg(g.average_coherence) AS average_coherence, max(g.peak_coherence) AS peak_coherence,
       count(*) AS snapshots
FROM group_coherence_snapshots g
GROUP BY g.hub_id, g.session_ref, date_trunc('minute', g.at);
