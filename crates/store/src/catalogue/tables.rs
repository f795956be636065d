//! The catalogue's data: every table the research export writes or central sync pushes, column by
//! column, in dependency order. What the fields mean is documented on [`Table`] and [`Column`].
//! This crate's `tests/catalogue.rs` compares it with `migrations/sqlite/`, `synchub-cloud`'s
//! with `migrations/postgres/`.

use super::ValueKind::{Boolean, Bytes, Integer, Real, Text, Uuid};
use super::{Column, Owner, Table};

/// The catalogued tables in dependency order: parents before the rows that refer to them,
/// tombstones last (so that an erasure also removes rows sent earlier in the same push).
pub const TABLES: &[Table] = &[
    Table {
        name: "sessions",
        owner: Owner::Session,
        columns: &[
            Column::key(),
            Column::new("session_id", Uuid),
            Column::new("mode", Text),
            Column::new("slot_start_ms", Integer).nullable(),
            Column::new("started_at_ms", Integer).central_time("started_at"),
            Column::new("ended_at_ms", Integer).nullable(),
            Column::new("preparation_secs", Integer),
            Column::new("active_secs", Integer),
            Column::new("integration_secs", Integer),
            Column::new("planned_end_ms", Integer),
            // The latest phase is the running hub's (recovery reads it); `session_phases` has
            // the history.
            Column::new("phase", Text).hub_only(),
            Column::new("phase_started_at_ms", Integer).hub_only(),
            Column::new("phase_ends_at_ms", Integer)
                .nullable()
                .hub_only(),
            Column::new("closed_on_recovery", Boolean).not_exported(),
            Column::new("duration_ms", Integer).nullable(),
            Column::new("participant_count", Integer).nullable(),
            Column::new("average_coherence", Real).nullable(),
            Column::new("peak_coherence", Real).nullable(),
            Column::new("secs_low", Real).nullable(),
            Column::new("secs_medium", Real).nullable(),
            Column::new("secs_high", Real).nullable(),
            Column::new("average_synchrony", Real).nullable(),
        ],
        central_defaults: &[],
        export_order: Some("t.started_at_ms, t.id"),
    },
    Table {
        name: "session_phases",
        owner: Owner::InSession {
            session: "session_ref",
        },
        columns: &[
            Column::key(),
            Column::reference("session_ref"),
            Column::new("phase", Text),
            Column::new("started_at_ms", Integer),
            Column::new("ends_at_ms", Integer).nullable(),
        ],
        central_defaults: &[],
        export_order: None,
    },
    Table {
        name: "session_participants",
        owner: Owner::IsParticipant {
            session: "session_ref",
        },
        columns: &[
            Column::key(),
            Column::reference("session_ref"),
            Column::new("participant_id", Uuid),
            Column::new("pseudonym", Text),
            Column::new("intention", Text).nullable(),
            Column::new("research_consent", Boolean),
            Column::new("device", Text),
            Column::new("joined_at_ms", Integer),
            Column::new("left_at_ms", Integer).nullable(),
            Column::new("peak_coherence", Real).nullable(),
            Column::new("high_coherence_secs", Real).nullable(),
            // A credential for resuming a running session: never leaves the hub.
            Column::new("resume_token", Bytes).nullable().hub_only(),
            // The token's SHA-256, for the participant's own report for a day after the
            // session (report_token.rs): a credential too, never leaves the hub.
            Column::new("report_token_sha256", Bytes)
                .nullable()
                .hub_only(),
        ],
        central_defaults: &[],
        export_order: Some("s.started_at_ms, t.id"),
    },
    Table {
        name: "rr_intervals",
        owner: Owner::OfParticipant {
            participant: "participant_ref",
        },
        columns: &[
            Column::key(),
            Column::from_owner("session_ref", Integer, "p.session_ref"),
            Column::reference("participant_ref"),
            // The client's batch number, the unit of `rr_ack`: of no use centrally.
            Column::new("batch_seq", Integer).nullable().not_central(),
            Column::new("time_ms", Real).central_time("at"),
            Column::new("rr_ms", Real),
            Column::new("artifact", Boolean),
        ],
        central_defaults: &[],
        export_order: Some("t.participant_ref, t.time_ms, t.id"),
    },
    Table {
        name: "hrv_metrics",
        owner: Owner::OfParticipant {
            participant: "participant_ref",
        },
        columns: &[
            Column::key(),
            Column::from_owner("session_ref", Integer, "p.session_ref"),
            Column::reference("participant_ref"),
            Column::new("at_ms", Integer).central_time("at"),
            Column::new("source", Text),
            Column::new("algorithm", Text).nullable(),
            Column::new("score", Real),
            Column::new("ratio", Real).nullable(),
            Column::new("peak_hz", Real).nullable(),
            Column::new("breaths_per_min", Real).nullable(),
            Column::new("hr_bpm", Real).nullable(),
            Column::new("mean_rr_ms", Real).nullable(),
            Column::new("sdnn_ms", Real).nullable(),
            Column::new("rmssd_ms", Real).nullable(),
            Column::new("artifact_fraction", Real).nullable(),
            Column::new("quality", Text),
        ],
        central_defaults: &[],
        export_order: Some("t.participant_ref, t.at_ms, t.id"),
    },
    Table {
        name: "group_coherence_snapshots",
        owner: Owner::InSession {
            session: "session_ref",
        },
        columns: &[
            Column::key(),
            Column::reference("session_ref"),
            Column::new("at_ms", Integer).central_time("at"),
            Column::new("phase", Text),
            Column::new("participant_count", Integer),
            Column::new("active_count", Integer),
            Column::new("average_coherence", Real),
            Column::new("median_coherence", Real),
            Column::new("std_coherence", Real),
            Column::new("peak_coherence", Real),
            Column::new("coherence_phase", Text),
            Column::new("distribution_low", Integer),
            Column::new("distribution_medium", Integer),
            Column::new("distribution_high", Integer),
            Column::new("synchrony_index", Real).nullable(),
        ],
        central_defaults: &[],
        export_order: Some("t.session_ref, t.at_ms, t.id"),
    },
    Table {
        name: "synchrony_rounds",
        owner: Owner::InSession {
            session: "session_ref",
        },
        columns: &[
            Column::key(),
            Column::reference("session_ref"),
            Column::new("at_ms", Integer).central_time("at"),
            Column::new("participants", Integer),
            Column::new("synchrony_index", Real),
            Column::new("surrogate_index", Real),
            Column::new("mean_strength", Real),
            Column::new("surrogate_mean_strength", Real),
            Column::new("pairs_sampled", Boolean),
        ],
        central_defaults: &[],
        export_order: Some("t.session_ref, t.at_ms, t.id"),
    },
    Table {
        name: "synchronization_pairs",
        owner: Owner::PairInRound {
            round: "round_ref",
            a: "participant_a_ref",
            b: "participant_b_ref",
        },
        columns: &[
            Column::key(),
            Column::from_owner("session_ref", Integer, "y.session_ref"),
            Column::reference("round_ref"),
            // The round's time travels only to give the central row its `at`.
            Column::from_owner("at_ms", Integer, "y.at_ms")
                .not_central()
                .central_time("at"),
            Column::reference("participant_a_ref"),
            Column::reference("participant_b_ref"),
            Column::new("correlation", Real),
            Column::new("plv", Real),
            Column::new("strength", Real),
        ],
        central_defaults: &[],
        export_order: Some("t.round_ref, t.id"),
    },
    Table {
        name: "session_reports",
        owner: Owner::FromParticipants {
            session: "session_ref",
            made_at: "created_at_ms",
        },
        columns: &[
            Column::key(),
            Column::reference("session_ref"),
            Column::new("report_schema", Text),
            Column::new("algorithms", Text).nullable(),
            Column::new("created_at_ms", Integer).central_time("created_at"),
            Column::new("participants", Integer),
            Column::new("participants_with_data", Integer),
            Column::new("baseline_window", Text).nullable(),
            Column::new("end_window", Text).nullable(),
            Column::new("coherence_n", Integer),
            Column::new("coherence_median_change", Real).nullable(),
            Column::new("coherence_change_ci_low", Real).nullable(),
            Column::new("coherence_change_ci_high", Real).nullable(),
            Column::new("coherence_p_value", Real).nullable(),
            Column::new("coherence_effect_size", Real).nullable(),
            Column::new("synchrony_n", Integer),
            Column::new("synchrony_median_change", Real).nullable(),
            Column::new("synchrony_change_ci_low", Real).nullable(),
            Column::new("synchrony_change_ci_high", Real).nullable(),
            Column::new("synchrony_p_value", Real).nullable(),
            Column::new("synchrony_effect_size", Real).nullable(),
            Column::new("synchrony_active_share_above_surrogate", Real).nullable(),
            // The whole report travels centrally; the export's files hold the summary columns
            // (`synchub report --format json` gives the whole report of a session).
            Column::new("report_json", Text).not_exported(),
        ],
        central_defaults: &[],
        export_order: Some("s.started_at_ms, t.id"),
    },
    Table {
        name: "erasures",
        owner: Owner::Tombstone,
        columns: &[
            Column::key(),
            Column::new("pseudonym", Text).not_exported(),
            Column::new("erased_at_ms", Integer).not_exported(),
            // A participant's own erasure reaches one session row (both set); the facilitator's
            // every row of the pseudonym (both NULL).
            Column::new("session_ref", Integer)
                .nullable()
                .not_exported(),
            Column::new("participant_id", Uuid)
                .nullable()
                .not_exported(),
            // What the erasure removed on this hub, for its own audit.
            Column::new("participant_rows", Integer).hub_only(),
            Column::new("beat_rows", Integer).hub_only(),
            Column::new("metric_rows", Integer).hub_only(),
            Column::new("pair_rows", Integer).hub_only(),
        ],
        central_defaults: &["applied_at"],
        export_order: None,
    },
];
