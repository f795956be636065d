//! What each synced table looks like on both sides: which local rows may leave the hub, how they
//! travel through the staging table, and how they land in the central table.
//!
//! Kept as data (one [`TableSpec`] per table) so the push loop is written once and every rule
//! about consent sits in one place, next to the SQL that enforces it.

use tokio_postgres::types::Type;

/// How a staging column travels in binary `COPY`. Three plain types keep the local reading and the
/// encoding simple; the central `INSERT … SELECT` converts (`::uuid`, `<> 0`, `to_timestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Float,
    Text,
}

impl Kind {
    pub(crate) fn postgres_type(self) -> Type {
        match self {
            Self::Int => Type::INT8,
            Self::Float => Type::FLOAT8,
            Self::Text => Type::TEXT,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Self::Int => "int8",
            Self::Float => "float8",
            Self::Text => "text",
        }
    }
}

/// One synced table.
#[derive(Debug)]
pub(crate) struct TableSpec {
    /// The table's name, the same locally and centrally.
    pub name: &'static str,
    /// Staging columns, in the order `local_select` returns them; the first is the local `id`.
    pub columns: &'static [(&'static str, Kind)],
    /// Rows that may leave the hub with `?1 < t.id <= ?2`, ordered by id.
    pub local_select: &'static str,
    /// Eligible rows with `t.id <= ?1` (the verification count).
    pub local_count: &'static str,
    /// The smallest id of a row that belongs to a session still running, if any. Sync stops
    /// below it: a running session's rows still change (consent, summaries, closing times), and a
    /// watermark that passed them would never send the final values.
    pub running_min_id: Option<&'static str>,
    /// `INSERT INTO <table> (…) SELECT … FROM staging`, with `$1` the hub id.
    pub insert: &'static str,
    /// Statements run after the insert, in the same transaction, with `$1` the hub id.
    pub after_insert: &'static [&'static str],
}

impl TableSpec {
    pub(crate) fn staging_name(&self) -> String {
        format!("staging_{}", self.name)
    }

    pub(crate) fn create_staging(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| format!("{name} {}", kind.sql()))
            .collect();
        format!(
            "CREATE TEMP TABLE {} ({}) ON COMMIT DROP",
            self.staging_name(),
            columns.join(", ")
        )
    }

    pub(crate) fn types(&self) -> Vec<Type> {
        self.columns
            .iter()
            .map(|(_, kind)| kind.postgres_type())
            .collect()
    }
}

use Kind::{Float, Int, Text};

/// The tables in dependency order: parents before the rows that refer to them, tombstones last
/// (so an erasure also removes rows sent earlier in the same push).
pub(crate) const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "sessions",
        columns: &[
            ("id", Int),
            ("session_id", Text),
            ("mode", Text),
            ("slot_start_ms", Int),
            ("started_at_ms", Int),
            ("preparation_secs", Int),
            ("active_secs", Int),
            ("integration_secs", Int),
            ("planned_end_ms", Int),
            ("ended_at_ms", Int),
            ("closed_on_recovery", Int),
            ("duration_ms", Int),
            ("participant_count", Int),
            ("average_coherence", Float),
            ("peak_coherence", Float),
            ("secs_low", Float),
            ("secs_medium", Float),
            ("secs_high", Float),
            ("average_synchrony", Float),
        ],
        local_select: "SELECT t.id, t.session_id, t.mode, t.slot_start_ms, t.started_at_ms, \
             t.preparation_secs, t.active_secs, t.integration_secs, t.planned_end_ms, \
             t.ended_at_ms, t.closed_on_recovery, t.duration_ms, t.participant_count, \
             t.average_coherence, t.peak_coherence, t.secs_low, t.secs_medium, t.secs_high, \
             t.average_synchrony \
             FROM sessions t WHERE t.id > ?1 AND t.id <= ?2 ORDER BY t.id",
        local_count: "SELECT count(*) FROM sessions t WHERE t.id <= ?1",
        running_min_id: Some("SELECT min(t.id) FROM sessions t WHERE t.ended_at_ms IS NULL"),
        insert: "INSERT INTO sessions (hub_id, id, session_id, mode, slot_start_ms, \
             started_at_ms, started_at, preparation_secs, active_secs, integration_secs, \
             planned_end_ms, ended_at_ms, closed_on_recovery, duration_ms, participant_count, \
             average_coherence, peak_coherence, secs_low, secs_medium, secs_high, \
             average_synchrony) \
             SELECT $1, id, session_id::uuid, mode, slot_start_ms, started_at_ms, \
             to_timestamp(started_at_ms / 1000.0), preparation_secs, active_secs, \
             integration_secs, planned_end_ms, ended_at_ms, closed_on_recovery <> 0, \
             duration_ms, participant_count, average_coherence, peak_coherence, secs_low, \
             secs_medium, secs_high, average_synchrony FROM staging_sessions \
             ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "session_phases",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("phase", Text),
            ("started_at_ms", Int),
            ("ends_at_ms", Int),
        ],
        local_select: "SELECT t.id, t.session_ref, t.phase, t.started_at_ms, t.ends_at_ms \
             FROM session_phases t WHERE t.id > ?1 AND t.id <= ?2 ORDER BY t.id",
        local_count: "SELECT count(*) FROM session_phases t WHERE t.id <= ?1",
        running_min_id: Some(
            "SELECT min(t.id) FROM session_phases t WHERE t.session_ref IN \
             (SELECT s.id FROM sessions s WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO session_phases (hub_id, id, session_ref, phase, started_at_ms, \
             ends_at_ms) SELECT $1, id, session_ref, phase, started_at_ms, ends_at_ms \
             FROM staging_session_phases ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "session_participants",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("participant_id", Text),
            ("pseudonym", Text),
            ("intention", Text),
            ("device", Text),
            ("joined_at_ms", Int),
            ("left_at_ms", Int),
            ("peak_coherence", Float),
            ("high_coherence_secs", Float),
        ],
        // Consent: only participants who agreed to research leave the hub. The resume token
        // (a credential) is never selected.
        local_select: "SELECT t.id, t.session_ref, t.participant_id, t.pseudonym, t.intention, \
             t.device, t.joined_at_ms, t.left_at_ms, t.peak_coherence, t.high_coherence_secs \
             FROM session_participants t \
             WHERE t.id > ?1 AND t.id <= ?2 AND t.research_consent = 1 ORDER BY t.id",
        local_count: "SELECT count(*) FROM session_participants t \
             WHERE t.id <= ?1 AND t.research_consent = 1",
        running_min_id: Some(
            "SELECT min(t.id) FROM session_participants t WHERE t.session_ref IN \
             (SELECT s.id FROM sessions s WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO session_participants (hub_id, id, session_ref, participant_id, \
             pseudonym, intention, research_consent, device, joined_at_ms, left_at_ms, \
             peak_coherence, high_coherence_secs) \
             SELECT $1, id, session_ref, participant_id::uuid, pseudonym, intention, TRUE, \
             device, joined_at_ms, left_at_ms, peak_coherence, high_coherence_secs \
             FROM staging_session_participants ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "rr_intervals",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("participant_ref", Int),
            ("time_ms", Float),
            ("rr_ms", Float),
            ("artifact", Int),
        ],
        local_select: "SELECT t.id, p.session_ref, t.participant_ref, t.time_ms, t.rr_ms, \
             t.artifact FROM rr_intervals t \
             JOIN session_participants p ON p.id = t.participant_ref \
             WHERE t.id > ?1 AND t.id <= ?2 AND p.research_consent = 1 ORDER BY t.id",
        local_count: "SELECT count(*) FROM rr_intervals t \
             JOIN session_participants p ON p.id = t.participant_ref \
             WHERE t.id <= ?1 AND p.research_consent = 1",
        running_min_id: Some(
            "SELECT min(t.id) FROM rr_intervals t WHERE t.participant_ref IN \
             (SELECT p.id FROM session_participants p JOIN sessions s ON s.id = p.session_ref \
             WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO rr_intervals (hub_id, id, session_ref, participant_ref, at, \
             time_ms, rr_ms, artifact) \
             SELECT $1, id, session_ref, participant_ref, to_timestamp(time_ms / 1000.0), \
             time_ms, rr_ms, artifact <> 0 FROM staging_rr_intervals ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "hrv_metrics",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("participant_ref", Int),
            ("at_ms", Int),
            ("source", Text),
            ("algorithm", Text),
            ("score", Float),
            ("ratio", Float),
            ("peak_hz", Float),
            ("breaths_per_min", Float),
            ("hr_bpm", Float),
            ("mean_rr_ms", Float),
            ("sdnn_ms", Float),
            ("rmssd_ms", Float),
            ("artifact_fraction", Float),
            ("quality", Text),
        ],
        local_select: "SELECT t.id, p.session_ref, t.participant_ref, t.at_ms, t.source, \
             t.algorithm, t.score, t.ratio, t.peak_hz, t.breaths_per_min, t.hr_bpm, \
             t.mean_rr_ms, t.sdnn_ms, t.rmssd_ms, t.artifact_fraction, t.quality \
             FROM hrv_metrics t JOIN session_participants p ON p.id = t.participant_ref \
             WHERE t.id > ?1 AND t.id <= ?2 AND p.research_consent = 1 ORDER BY t.id",
        local_count: "SELECT count(*) FROM hrv_metrics t \
             JOIN session_participants p ON p.id = t.participant_ref \
             WHERE t.id <= ?1 AND p.research_consent = 1",
        running_min_id: Some(
            "SELECT min(t.id) FROM hrv_metrics t WHERE t.participant_ref IN \
             (SELECT p.id FROM session_participants p JOIN sessions s ON s.id = p.session_ref \
             WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO hrv_metrics (hub_id, id, session_ref, participant_ref, at, at_ms, \
             source, algorithm, score, ratio, peak_hz, breaths_per_min, hr_bpm, mean_rr_ms, \
             sdnn_ms, rmssd_ms, artifact_fraction, quality) \
             SELECT $1, id, session_ref, participant_ref, to_timestamp(at_ms / 1000.0), at_ms, \
             source, algorithm, score, ratio, peak_hz, breaths_per_min, hr_bpm, mean_rr_ms, \
             sdnn_ms, rmssd_ms, artifact_fraction, quality FROM staging_hrv_metrics \
             ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "group_coherence_snapshots",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("at_ms", Int),
            ("phase", Text),
            ("participant_count", Int),
            ("active_count", Int),
            ("average_coherence", Float),
            ("median_coherence", Float),
            ("std_coherence", Float),
            ("peak_coherence", Float),
            ("coherence_phase", Text),
            ("distribution_low", Int),
            ("distribution_medium", Int),
            ("distribution_high", Int),
            ("synchrony_index", Float),
        ],
        // Group figures hold no personal data: every snapshot travels.
        local_select: "SELECT t.id, t.session_ref, t.at_ms, t.phase, t.participant_count, \
             t.active_count, t.average_coherence, t.median_coherence, t.std_coherence, \
             t.peak_coherence, t.coherence_phase, t.distribution_low, t.distribution_medium, \
             t.distribution_high, t.synchrony_index FROM group_coherence_snapshots t \
             WHERE t.id > ?1 AND t.id <= ?2 ORDER BY t.id",
        local_count: "SELECT count(*) FROM group_coherence_snapshots t WHERE t.id <= ?1",
        running_min_id: Some(
            "SELECT min(t.id) FROM group_coherence_snapshots t WHERE t.session_ref IN \
             (SELECT s.id FROM sessions s WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO group_coherence_snapshots (hub_id, id, session_ref, at, at_ms, \
             phase, participant_count, active_count, average_coherence, median_coherence, \
             std_coherence, peak_coherence, coherence_phase, distribution_low, \
             distribution_medium, distribution_high, synchrony_index) \
             SELECT $1, id, session_ref, to_timestamp(at_ms / 1000.0), at_ms, phase, \
             participant_count, active_count, average_coherence, median_coherence, \
             std_coherence, peak_coherence, coherence_phase, distribution_low, \
             distribution_medium, distribution_high, synchrony_index \
             FROM staging_group_coherence_snapshots ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "synchrony_rounds",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("at_ms", Int),
            ("participants", Int),
            ("synchrony_index", Float),
            ("surrogate_index", Float),
            ("mean_strength", Float),
            ("surrogate_mean_strength", Float),
            ("pairs_sampled", Int),
        ],
        local_select: "SELECT t.id, t.session_ref, t.at_ms, t.participants, t.synchrony_index, \
             t.surrogate_index, t.mean_strength, t.surrogate_mean_strength, t.pairs_sampled \
             FROM synchrony_rounds t WHERE t.id > ?1 AND t.id <= ?2 ORDER BY t.id",
        local_count: "SELECT count(*) FROM synchrony_rounds t WHERE t.id <= ?1",
        running_min_id: Some(
            "SELECT min(t.id) FROM synchrony_rounds t WHERE t.session_ref IN \
             (SELECT s.id FROM sessions s WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO synchrony_rounds (hub_id, id, session_ref, at, at_ms, participants, \
             synchrony_index, surrogate_index, mean_strength, surrogate_mean_strength, \
             pairs_sampled) \
             SELECT $1, id, session_ref, to_timestamp(at_ms / 1000.0), at_ms, participants, \
             synchrony_index, surrogate_index, mean_strength, surrogate_mean_strength, \
             pairs_sampled <> 0 FROM staging_synchrony_rounds ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "synchronization_pairs",
        columns: &[
            ("id", Int),
            ("session_ref", Int),
            ("round_ref", Int),
            ("at_ms", Int),
            ("participant_a_ref", Int),
            ("participant_b_ref", Int),
            ("correlation", Float),
            ("plv", Float),
            ("strength", Float),
        ],
        // A pair describes two people: it leaves the hub only when both consented.
        local_select: "SELECT t.id, r.session_ref, t.round_ref, r.at_ms, t.participant_a_ref, \
             t.participant_b_ref, t.correlation, t.plv, t.strength \
             FROM synchronization_pairs t JOIN synchrony_rounds r ON r.id = t.round_ref \
             JOIN session_participants a ON a.id = t.participant_a_ref \
             JOIN session_participants b ON b.id = t.participant_b_ref \
             WHERE t.id > ?1 AND t.id <= ?2 AND a.research_consent = 1 \
             AND b.research_consent = 1 ORDER BY t.id",
        local_count: "SELECT count(*) FROM synchronization_pairs t \
             JOIN session_participants a ON a.id = t.participant_a_ref \
             JOIN session_participants b ON b.id = t.participant_b_ref \
             WHERE t.id <= ?1 AND a.research_consent = 1 AND b.research_consent = 1",
        running_min_id: Some(
            "SELECT min(t.id) FROM synchronization_pairs t WHERE t.round_ref IN \
             (SELECT r.id FROM synchrony_rounds r JOIN sessions s ON s.id = r.session_ref \
             WHERE s.ended_at_ms IS NULL)",
        ),
        insert: "INSERT INTO synchronization_pairs (hub_id, id, session_ref, round_ref, at, \
             participant_a_ref, participant_b_ref, correlation, plv, strength) \
             SELECT $1, id, session_ref, round_ref, to_timestamp(at_ms / 1000.0), \
             participant_a_ref, participant_b_ref, correlation, plv, strength \
             FROM staging_synchronization_pairs ON CONFLICT DO NOTHING",
        after_insert: &[],
    },
    TableSpec {
        name: "erasures",
        columns: &[("id", Int), ("pseudonym", Text), ("erased_at_ms", Int)],
        local_select: "SELECT t.id, t.pseudonym, t.erased_at_ms FROM erasures t \
             WHERE t.id > ?1 AND t.id <= ?2 ORDER BY t.id",
        local_count: "SELECT count(*) FROM erasures t WHERE t.id <= ?1",
        running_min_id: None,
        insert: "INSERT INTO erasures (hub_id, id, pseudonym, erased_at_ms) \
             SELECT $1, id, pseudonym, erased_at_ms FROM staging_erasures ON CONFLICT DO NOTHING",
        // The hub erased every row of this person that existed at the time; do the same to this
        // hub's central rows (a later session of the same pseudonym is a new consent and stays).
        after_insert: &[
            "DELETE FROM rr_intervals r USING session_participants p, staging_erasures e \
             WHERE r.hub_id = $1 AND p.hub_id = $1 AND p.id = r.participant_ref \
             AND p.pseudonym = e.pseudonym AND p.joined_at_ms <= e.erased_at_ms",
            "DELETE FROM hrv_metrics m USING session_participants p, staging_erasures e \
             WHERE m.hub_id = $1 AND p.hub_id = $1 AND p.id = m.participant_ref \
             AND p.pseudonym = e.pseudonym AND p.joined_at_ms <= e.erased_at_ms",
            "DELETE FROM synchronization_pairs x USING session_participants p, staging_erasures e \
             WHERE x.hub_id = $1 AND p.hub_id = $1 \
             AND (p.id = x.participant_a_ref OR p.id = x.participant_b_ref) \
             AND p.pseudonym = e.pseudonym AND p.joined_at_ms <= e.erased_at_ms",
            "DELETE FROM session_participants p USING staging_erasures e \
             WHERE p.hub_id = $1 AND p.pseudonym = e.pseudonym \
             AND p.joined_at_ms <= e.erased_at_ms",
        ],
    },
];

/// The names of the synced tables, in push order.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|spec| spec.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_its_local_id_and_names_its_staging_table() {
        for spec in TABLES {
            assert_eq!(spec.columns[0], ("id", Int), "{}", spec.name);
            assert!(
                spec.insert
                    .contains(&format!("FROM {} ", spec.staging_name())),
                "{} inserts from its own staging table",
                spec.name
            );
            assert!(
                spec.insert.ends_with("ON CONFLICT DO NOTHING"),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn participant_linked_tables_filter_on_consent() {
        for name in [
            "session_participants",
            "rr_intervals",
            "hrv_metrics",
            "synchronization_pairs",
        ] {
            let spec = TABLES.iter().find(|spec| spec.name == name).expect(name);
            assert!(spec.local_select.contains("research_consent = 1"), "{name}");
            assert!(spec.local_count.contains("research_consent = 1"), "{name}");
        }
    }
}
