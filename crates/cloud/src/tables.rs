//! Central sync's statements for each table, built from the store's catalogue
//! (`synchub_store::catalogue`): which local rows may leave the hub, how they travel through the
//! staging table, and how they land in the central table.
//!
//! The catalogue says what each table holds, what its rows belong to and whose consent they
//! need; this module turns that into SQL once per process, so the push loop is written once and
//! every consent rule comes from one place.

use std::sync::LazyLock;

use synchub_store::catalogue::{self, Column, KEY_COLUMN, Owner, Table, ValueKind};
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
    fn of(value: ValueKind) -> Self {
        match value {
            ValueKind::Integer | ValueKind::Boolean => Self::Int,
            ValueKind::Real => Self::Float,
            // Bytes never travel (the catalogue keeps them on the hub); text is their safe form.
            ValueKind::Text | ValueKind::Uuid | ValueKind::Bytes => Self::Text,
        }
    }

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

/// One synced table's statements.
#[derive(Debug)]
pub(crate) struct TableSpec {
    /// The table's name, the same locally and centrally.
    pub name: &'static str,
    /// Staging columns, in the order `local_select` returns them; the first is the local `id`.
    pub columns: Vec<(&'static str, Kind)>,
    /// Rows that may leave the hub with `?1 < t.id <= ?2`, ordered by id.
    pub local_select: String,
    /// Eligible rows with `t.id <= ?1` (the verification count).
    pub local_count: String,
    /// The smallest id of a row that belongs to a session still running, if any. Sync stops
    /// below it: a running session's rows still change (consent, summaries, closing times), and a
    /// watermark that passed them would never send the final values.
    pub running_min_id: Option<String>,
    /// `CREATE TEMP TABLE staging_<table> …`, dropped at commit.
    pub create_staging: String,
    /// `COPY staging_<table> FROM STDIN BINARY`.
    pub copy_in: String,
    /// `INSERT INTO <table> (…) SELECT … FROM staging`, with `$1` the hub id.
    pub insert: String,
    /// Statements run after the insert, in the same transaction, with `$1` the hub id.
    pub after_insert: Vec<String>,
}

/// Every catalogued table in dependency order (the catalogue's order).
pub(crate) static TABLES: LazyLock<Vec<TableSpec>> =
    LazyLock::new(|| catalogue::TABLES.iter().map(TableSpec::new).collect());

impl TableSpec {
    fn new(table: &'static Table) -> Self {
        let travelling: Vec<&Column> = table.travelling_columns().collect();
        let staging = format!("staging_{}", table.name);
        let joins = table.owner.joins();
        let consent = table
            .owner
            .consent_condition()
            .map(|condition| format!(" AND {condition}"))
            .unwrap_or_default();
        let key = table.watermark();
        let local_select = format!(
            "SELECT {} FROM {} t{joins} WHERE t.{key} > ?1 AND t.{key} <= ?2{consent} \
             ORDER BY t.{key}",
            travelling
                .iter()
                .map(|column| match column.origin {
                    catalogue::Origin::Stored => format!("t.{}", column.name),
                    catalogue::Origin::Owner(expression) => expression.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            table.name,
        );
        let local_count = format!(
            "SELECT count(*) FROM {} t{joins} WHERE t.{key} <= ?1{consent}",
            table.name
        );
        let create_staging = format!(
            "CREATE TEMP TABLE {staging} ({}) ON COMMIT DROP",
            travelling
                .iter()
                .map(|column| format!("{} {}", column.name, Kind::of(column.kind).sql()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut central_names = vec![catalogue::HUB_COLUMN.to_owned()];
        let mut central_values = vec!["$1".to_owned()];
        for column in &travelling {
            if column.central {
                central_names.push(column.name.to_owned());
                central_values.push(match column.kind {
                    ValueKind::Uuid => format!("{}::uuid", column.name),
                    ValueKind::Boolean => format!("{} <> 0", column.name),
                    _ => column.name.to_owned(),
                });
            }
            if let Some(time) = column.central_time {
                central_names.push(time.to_owned());
                central_values.push(format!("to_timestamp({} / 1000.0)", column.name));
            }
        }
        let insert = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {staging} ON CONFLICT DO NOTHING",
            table.name,
            central_names.join(", "),
            central_values.join(", ")
        );
        Self {
            name: table.name,
            columns: travelling
                .iter()
                .map(|column| (column.name, Kind::of(column.kind)))
                .collect(),
            local_select,
            local_count,
            running_min_id: running_min_id(table),
            copy_in: format!("COPY {staging} FROM STDIN BINARY"),
            create_staging,
            insert,
            after_insert: if table.owner == Owner::Tombstone {
                erasure_deletes(&staging)
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn types(&self) -> Vec<Type> {
        self.columns
            .iter()
            .map(|(_, kind)| kind.postgres_type())
            .collect()
    }
}

/// The first row of `table` that belongs to a running session: its owner is (in) a session whose
/// `ended_at_ms` is still NULL. Written as `owner IN (…)` so that SQLite answers from the owner
/// index instead of joining every row.
fn running_min_id(table: &Table) -> Option<String> {
    const RUNNING: &str = "SELECT s.id FROM sessions s WHERE s.ended_at_ms IS NULL";
    let (column, owners) = match table.owner {
        Owner::Session => (KEY_COLUMN, RUNNING.to_owned()),
        Owner::InSession { session }
        | Owner::FromParticipants { session, .. }
        | Owner::IsParticipant { session } => (session, RUNNING.to_owned()),
        Owner::OfParticipant { participant } => (
            participant,
            format!("SELECT p.id FROM session_participants p WHERE p.session_ref IN ({RUNNING})"),
        ),
        Owner::PairInRound { round, .. } => (
            round,
            format!("SELECT y.id FROM synchrony_rounds y WHERE y.session_ref IN ({RUNNING})"),
        ),
        Owner::Tombstone => return None,
    };
    Some(format!(
        "SELECT min(t.{KEY_COLUMN}) FROM {} t WHERE t.{column} IN ({owners})",
        table.name
    ))
}

/// The hub erased every row of this person that existed at the time, or (a participant's own
/// erasure, with `session_ref` and `participant_id`) their row of that one session; do the same
/// to this hub's central rows (a later session of the same pseudonym is a new consent and
/// stays): the rows of every table with personal data, and the figures made from them before
/// the erasure (the hub sends them again, made without this person), participants last since
/// the others find theirs through them.
fn erasure_deletes(staging: &str) -> Vec<String> {
    const ERASED: &str = "p.hub_id = $1 AND p.pseudonym = e.pseudonym \
                          AND p.joined_at_ms <= e.erased_at_ms \
                          AND (e.session_ref IS NULL OR (p.session_ref = e.session_ref \
                          AND p.participant_id = e.participant_id::uuid))";
    catalogue::TABLES
        .iter()
        .rev()
        .filter_map(|table| match table.owner {
            Owner::IsParticipant { .. } => Some(format!(
                "DELETE FROM {} p USING {staging} e WHERE {ERASED}",
                table.name
            )),
            Owner::OfParticipant { .. } | Owner::PairInRound { .. } => {
                let theirs = table
                    .owner
                    .consenting_participants()
                    .iter()
                    .map(|(participant, _)| format!("p.id = {participant}"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                Some(format!(
                    "DELETE FROM {} t USING session_participants p, {staging} e \
                     WHERE t.hub_id = $1 AND ({theirs}) AND {ERASED}",
                    table.name
                ))
            }
            Owner::FromParticipants { session, made_at } => Some(format!(
                "DELETE FROM {} t USING session_participants p, {staging} e \
                 WHERE t.hub_id = $1 AND t.{session} = p.session_ref \
                 AND t.{made_at} <= e.erased_at_ms AND {ERASED}",
                table.name
            )),
            Owner::Session | Owner::InSession { .. } | Owner::Tombstone => None,
        })
        .collect()
}

/// The names of the synced tables, in push order.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    catalogue::TABLES.iter().map(|table| table.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> &'static TableSpec {
        TABLES.iter().find(|spec| spec.name == name).expect(name)
    }

    const PERSONAL: &[&str] = &[
        "session_participants",
        "rr_intervals",
        "hrv_metrics",
        "synchronization_pairs",
    ];

    #[test]
    fn every_table_stages_its_local_id_first_and_inserts_from_its_own_staging_table() {
        for spec in TABLES.iter() {
            assert_eq!(spec.columns[0], ("id", Kind::Int), "{}", spec.name);
            assert!(
                spec.insert
                    .contains(&format!("FROM staging_{} ", spec.name)),
                "{}",
                spec.insert
            );
            assert!(
                spec.insert.ends_with("ON CONFLICT DO NOTHING"),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn rows_about_people_leave_only_with_the_consent_of_everyone_they_describe() {
        for spec in TABLES.iter() {
            let personal = PERSONAL.contains(&spec.name);
            for sql in [&spec.local_select, &spec.local_count] {
                assert_eq!(sql.contains("research_consent = 1"), personal, "{sql}");
            }
        }
        assert!(
            spec("synchronization_pairs")
                .local_select
                .contains("a.research_consent = 1 AND b.research_consent = 1")
        );
    }

    #[test]
    fn beats_travel_with_their_session_and_land_with_a_timestamp() {
        let beats = spec("rr_intervals");
        assert_eq!(
            beats.local_select,
            "SELECT t.id, p.session_ref, t.participant_ref, t.time_ms, t.rr_ms, t.artifact \
             FROM rr_intervals t JOIN session_participants p ON p.id = t.participant_ref \
             WHERE t.id > ?1 AND t.id <= ?2 AND p.research_consent = 1 ORDER BY t.id"
        );
        assert_eq!(
            beats.insert,
            "INSERT INTO rr_intervals (hub_id, id, session_ref, participant_ref, time_ms, at, \
             rr_ms, artifact) SELECT $1, id, session_ref, participant_ref, time_ms, \
             to_timestamp(time_ms / 1000.0), rr_ms, artifact <> 0 FROM staging_rr_intervals \
             ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn an_erasure_deletes_the_person_from_every_table_about_people_participants_last() {
        let deletes = &spec("erasures").after_insert;
        let tables: Vec<&str> = deletes
            .iter()
            .map(|sql| sql.split_whitespace().nth(2).expect(sql))
            .collect();
        assert_eq!(tables.len(), PERSONAL.len() + 1, "{deletes:#?}");
        assert!(
            PERSONAL.iter().all(|name| tables.contains(name)),
            "{tables:?}"
        );
        assert!(tables.contains(&"session_reports"), "{tables:?}");
        assert_eq!(tables.last(), Some(&"session_participants"));
        for spec in TABLES.iter().filter(|spec| spec.name != "erasures") {
            assert!(spec.after_insert.is_empty(), "{}", spec.name);
        }
    }

    #[test]
    fn every_table_but_the_tombstones_waits_for_running_sessions() {
        for spec in TABLES.iter() {
            assert_eq!(
                spec.running_min_id.is_none(),
                spec.name == "erasures",
                "{}",
                spec.name
            );
        }
    }
}
