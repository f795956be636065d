-- Session reports built from consented participants' data, for central sync and the research export: the summary figures as columns, the whole report as JSON.
--
-- One row per session and report schema, written by the store's writer when a session has
-- ended (or later, for sessions that ended before this table existed). Only participants who
-- consented to research use are in it: the slots are numbered among them, and their synchrony
-- strength counts only pairs in which both consented. A participant's erasure deletes the
-- reports of their sessions; the next build leaves them out.

CREATE TABLE session_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- `synchub-report/1`: the meaning of every figure and of the JSON.
    report_schema TEXT NOT NULL,
    -- The scoring algorithms of the scores in it (`synchub-coherence/1`), comma-separated; NULL when it holds only client scores or none.
    algorithms TEXT,
    created_at_ms INTEGER NOT NULL,
    participants INTEGER NOT NULL,
    participants_with_data INTEGER NOT NULL,
    baseline_window TEXT,
    end_window TEXT,
    coherence_n INTEGER NOT NULL,
    coherence_median_change REAL,
    coherence_change_ci_low REAL,
    coherence_change_ci_high REAL,
    coherence_p_value REAL,
    coherence_effect_size REAL,
    synchrony_n INTEGER NOT NULL,
    synchrony_median_change REAL,
    synchrony_change_ci_low REAL,
    synchrony_change_ci_high REAL,
    synchrony_p_value REAL,
    synchrony_effect_size REAL,
    synchrony_active_share_above_surrogate REAL,
    report_json TEXT NOT NULL,
    UNIQUE (session_ref, report_schema)
);
