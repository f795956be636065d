//! The catalogue of exported and synced tables: consistent with itself, and with
//! `migrations/sqlite/` column by column (`synchub-cloud`'s tests compare it with
//! `migrations/postgres/`).

use ValueKind::{Bytes, Integer};
use synchub_store::catalogue::{
    self, Column, ColumnShape, KEY_COLUMN, Origin, Owner, TABLES, Table, ValueKind, table,
};

use crate::util;

/// Tables of the hub's database that neither the export nor central sync reads.
const HUB_ONLY_TABLES: &[&str] = &[
    "hub",
    "users",
    "sync_state",
    "research_exports",
    // SQLite's and refinery's own.
    "sqlite_sequence",
    "refinery_schema_history",
];

/// The columns of `table` as the migrated database declares them.
fn migrated_columns(connection: &rusqlite::Connection, table: &str) -> Vec<ColumnShape> {
    let mut statement = connection
        .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")
        .unwrap();
    statement
        .query_map([table], |row| {
            let key = row.get::<_, i64>(3)? > 0;
            Ok(ColumnShape {
                name: row.get(0)?,
                sql_type: row.get(1)?,
                // An INTEGER PRIMARY KEY is the rowid: never NULL, though not declared NOT NULL.
                nullable: !(row.get::<_, bool>(2)? || key),
                key,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_catalogued_table_has_the_columns_of_the_sqlite_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let connection = util::sql(&store);
    let differences: Vec<String> = TABLES
        .iter()
        .flat_map(|table| {
            catalogue::differences(
                table.name,
                &table.sqlite_shape(),
                &migrated_columns(&connection, table.name),
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "crates/store/src/catalogue/tables.rs and migrations/sqlite/ disagree; correct the catalogue, \
         or add a migration:\n{}",
        differences.join("\n")
    );
}

#[test]
fn every_sqlite_table_is_catalogued_or_known_to_stay_on_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let store = util::open(dir.path());
    let connection = util::sql(&store);
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let unknown: Vec<String> = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|name| table(name).is_none() && !HUB_ONLY_TABLES.contains(&name.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "tables neither in crates/store/src/catalogue/tables.rs nor known to stay on the hub: {unknown:?}; \
         catalogue them if the export or central sync should carry them, else list them here"
    );
}

/// The catalogued table behind each alias of the SQL fragments.
fn table_of_alias(alias: &str) -> &'static Table {
    let name = match alias {
        "s" => "sessions",
        "p" | "a" | "b" => "session_participants",
        "y" => "synchrony_rounds",
        other => panic!("unknown alias {other}"),
    };
    table(name).expect(name)
}

/// The catalogued column an `alias.column` expression reads.
fn column_of(expression: &str) -> &'static Column {
    let (alias, name) = expression.split_once('.').expect(expression);
    let table = table_of_alias(alias);
    table
        .columns
        .iter()
        .find(|column| column.name == name)
        .unwrap_or_else(|| panic!("{expression}: {} has no column {name}", table.name))
}

#[test]
fn every_table_starts_with_its_never_null_integer_key() {
    for table in TABLES {
        let key = table.columns[0];
        assert_eq!(
            (
                key.name,
                key.kind,
                key.nullable,
                key.origin,
                key.exported,
                key.central
            ),
            (KEY_COLUMN, Integer, false, Origin::Stored, false, true),
            "{}",
            table.name
        );
        assert_eq!(
            table
                .columns
                .iter()
                .filter(|column| column.name == KEY_COLUMN)
                .count(),
            1,
            "{}",
            table.name
        );
    }
}

#[test]
fn owners_come_before_the_rows_that_belong_to_them() {
    let position = |name: &str| TABLES.iter().position(|table| table.name == name);
    for (index, table) in TABLES.iter().enumerate() {
        let owners: &[&str] = match table.owner {
            Owner::Session | Owner::Tombstone => &[],
            Owner::InSession { .. }
            | Owner::FromParticipants { .. }
            | Owner::IsParticipant { .. } => &["sessions"],
            Owner::OfParticipant { .. } => &["session_participants"],
            Owner::PairInRound { .. } => &["synchrony_rounds", "session_participants"],
        };
        for owner in owners {
            assert!(
                position(owner) < Some(index),
                "{owner} before {}",
                table.name
            );
        }
    }
    assert_eq!(
        TABLES.last().map(|table| table.owner),
        Some(Owner::Tombstone)
    );
}

#[test]
fn owner_references_are_integer_columns_of_the_table() {
    for table in TABLES {
        let references: Vec<&str> = match table.owner {
            Owner::Session | Owner::Tombstone => Vec::new(),
            Owner::InSession { session } | Owner::IsParticipant { session } => vec![session],
            Owner::FromParticipants { session, made_at } => {
                let made_at = table.columns.iter().find(|column| column.name == made_at);
                assert_eq!(
                    made_at.map(|column| (column.kind, column.nullable, column.central)),
                    Some((Integer, false, true)),
                    "{}: when its figures were made, synced as it is",
                    table.name
                );
                vec![session]
            }
            Owner::OfParticipant { participant } => vec![participant],
            Owner::PairInRound { round, a, b } => vec![round, a, b],
        };
        for reference in references {
            let column = table
                .stored_columns()
                .find(|column| column.name == reference);
            assert_eq!(
                column.map(|column| (column.kind, column.exported)),
                Some((Integer, false)),
                "{}.{reference}",
                table.name
            );
        }
    }
}

#[test]
fn values_read_from_owners_match_the_owners_columns_and_are_not_exported() {
    for table in TABLES {
        for column in table.columns {
            if let Origin::Owner(expression) = column.origin {
                assert_eq!(column_of(expression).kind, column.kind, "{expression}");
                assert!(!column.exported, "{}.{}", table.name, column.name);
            }
        }
        for identity in table.owner.identity() {
            assert_eq!(
                column_of(identity.expression).kind,
                identity.kind,
                "{}",
                identity.expression
            );
        }
    }
}

#[test]
fn credentials_and_blobs_never_leave_the_hub() {
    for table in TABLES {
        for column in table.columns {
            if column.kind == Bytes || column.name == "resume_token" {
                assert!(
                    !column.exported && !column.travels(),
                    "{}.{}",
                    table.name,
                    column.name
                );
            }
        }
    }
}

#[test]
fn rows_about_people_need_the_consent_of_everyone_they_describe() {
    let check = |name: &str, condition: Option<&str>| {
        let table = table(name).expect(name);
        assert_eq!(
            table.owner.consent_condition().as_deref(),
            condition,
            "{name}"
        );
    };
    check("sessions", None);
    check("session_phases", None);
    check("session_participants", Some("t.research_consent = 1"));
    check("rr_intervals", Some("p.research_consent = 1"));
    check("hrv_metrics", Some("p.research_consent = 1"));
    check("group_coherence_snapshots", None);
    check("synchrony_rounds", None);
    check(
        "synchronization_pairs",
        Some("a.research_consent = 1 AND b.research_consent = 1"),
    );
    check("erasures", None);
}

#[test]
fn exported_tables_belong_to_a_session() {
    for table in TABLES.iter().filter(|table| table.is_exported()) {
        assert!(
            table.owner.session_id_expression().is_some(),
            "{}",
            table.name
        );
    }
}
