-- Session reports of consented participants' data from every hub, and research.session_summary: one row per session with its baseline-to-active change, test and synchrony above chance.
--
-- `session_reports` mirrors the hub's table (keyed by (hub_id, id) like every synced table);
-- `report_json` is the whole report (docs/report.md documents it). A hub builds a report only
-- from participants who consented; an erasure tombstone deletes the reports of the erased
-- participant's sessions that were made before the erasure (the hub sends a new one without
-- them).

CREATE TABLE session_reports (
    hub_id UUID NOT NULL,
    id BIGINT NOT NULL,
    session_ref BIGINT NOT NULL,
    report_schema TEXT NOT NULL,
    algorithms TEXT,
    created_at_ms BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    participants BIGINT NOT NULL,
    participants_with_data BIGINT NOT NULL,
    baseline_window TEXT,
    end_window TEXT,
    coherence_n BIGINT NOT NULL,
    coherence_median_change DOUBLE PRECISION,
    coherence_change_ci_low DOUBLE PRECISION,
    coherence_change_ci_high DOUBLE PRECISION,
    coherence_p_value DOUBLE PRECISION,
    coherence_effect_size DOUBLE PRECISION,
    synchrony_n BIGINT NOT NULL,
    synchrony_median_change DOUBLE PRECISION,
    synchrony_change_ci_low DOUBLE PRECISION,
    synchrony_change_ci_high DOUBLE PRECISION,
    synchrony_p_value DOUBLE PRECISION,
    synchrony_effect_size DOUBLE PRECISION,
    synchrony_active_share_above_surrogate DOUBLE PRECISION,
    report_json TEXT NOT NULL,
    PRIMARY KEY (hub_id, id)
);
CREATE INDEX session_reports_by_session ON session_reports (hub_id, session_ref, id);

-- One row per session: its newest report (a hub that rebuilt a report after an erasure sent a
-- newer one). `n` is the number of participants compared baseline vs. end; the change is the
-- median of their `end - baseline` mean coherence with its 95 % bootstrap interval, `p_value`
-- the two-sided Wilcoxon signed-rank test and `effect_size` the matched-pairs rank-biserial
-- correlation; the same for synchrony strength; `synchrony_share_above_surrogate` is the
-- share of the active phase's synchrony rounds above the surrogates' 95th percentile.
CREATE VIEW research.session_summary AS
SELECT DISTINCT ON (r.hub_id, r.session_ref)
       r.hub_id, s.session_id, s.started_at, (s.started_at AT TIME ZONE 'UTC')::date AS date,
       s.duration_ms, r.participants, r.participants_with_data,
       r.coherence_n AS n, r.baseline_window, r.end_window,
       r.coherence_median_change AS median_change,
       r.coherence_change_ci_low AS median_change_ci_low,
       r.coherence_change_ci_high AS median_change_ci_high,
       r.coherence_p_value AS p_value, r.coherence_effect_size AS effect_size,
       r.synchrony_n, r.synchrony_median_change, r.synchrony_change_ci_low,
       r.synchrony_change_ci_high, r.synchrony_p_value, r.synchrony_effect_size,
       r.synchrony_active_share_above_surrogate AS synchrony_share_above_surrogate,
       r.report_schema, r.algorithms, r.created_at
FROM session_reports r
JOIN sessions s ON s.hub_id = r.hub_id AND s.id = r.session_ref
ORDER BY r.hub_id, r.session_ref, r.id DESC;
