//! The catalogue of the stored tables that leave the hub: every table the research export writes
//! or central sync pushes, with its columns, its key and watermark, what each row belongs to, and
//! whose consent lets the row out.
//!
//! The local research export (`export.rs`) and central sync (`synchub-cloud`) build their
//! statements from it (SELECT lists, file columns, staging tables, `COPY` column lists,
//! `INSERT … ON CONFLICT`), so a column is written down once. The migrations stay the schema:
//! tests compare this catalogue with `migrations/sqlite/` (`PRAGMA table_info`, in this crate's
//! tests) and with `migrations/postgres/` (`information_schema.columns`, in `synchub-cloud`'s),
//! column by column, so the two cannot drift apart unnoticed.
//!
//! SQL fragments here follow one naming rule: the table itself is `t`, the session a row belongs
//! to `s`, its participant `p`, its synchrony round `y`, the two participants of a pair `a` and
//! `b`.

mod tables;

pub use tables::TABLES;

/// Every table's key, locally (`INTEGER PRIMARY KEY AUTOINCREMENT`) and, with [`HUB_COLUMN`],
/// centrally. Ids only grow and are never reused, so central sync also uses this column as its
/// per-table watermark.
pub const KEY_COLUMN: &str = "id";

/// The central column that tells hubs apart: the central key is `(hub_id, id)`.
pub const HUB_COLUMN: &str = "hub_id";

/// What a stored value is. Decides its type in both schemas, how it travels through central
/// sync's staging tables, and how it is written to export files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    Real,
    Text,
    /// `0`/`1` in SQLite, `boolean` centrally.
    Boolean,
    /// Hyphenated text in SQLite, `uuid` centrally.
    Uuid,
    /// A blob; never leaves the hub.
    Bytes,
}

impl ValueKind {
    /// The declared type in `migrations/sqlite/`, as `PRAGMA table_info` reports it.
    pub fn sqlite_type(self) -> &'static str {
        match self {
            Self::Integer | Self::Boolean => "INTEGER",
            Self::Real => "REAL",
            Self::Text | Self::Uuid => "TEXT",
            Self::Bytes => "BLOB",
        }
    }

    /// The type in `migrations/postgres/`, as `information_schema.columns.data_type` spells it.
    pub fn postgres_type(self) -> &'static str {
        match self {
            Self::Integer => "bigint",
            Self::Real => "double precision",
            Self::Text => "text",
            Self::Boolean => "boolean",
            Self::Uuid => "uuid",
            Self::Bytes => "bytea",
        }
    }
}

/// The central type of the time columns derived from local milliseconds.
pub const POSTGRES_TIME_TYPE: &str = "timestamp with time zone";

/// Where a column's value comes from on the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A column of the local table.
    Stored,
    /// Not stored in this table: read from the row's owner through the owner's joins (this SQL
    /// expression). Central tables keep such values so they need no joins of their own.
    Owner(&'static str),
}

/// One column of a catalogued table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ValueKind,
    pub nullable: bool,
    pub origin: Origin,
    /// Written by the research export (in an exported table). Row ids of owners are not: the
    /// export names the owner by its [`Owner::identity`] instead.
    pub exported: bool,
    /// A column of the central table, with the same name and value.
    pub central: bool,
    /// The central `timestamptz` column derived from this one (milliseconds since the epoch),
    /// which TimescaleDB partitions on.
    pub central_time: Option<&'static str>,
}

impl Column {
    /// A stored, non-null column that is exported and synced.
    const fn new(name: &'static str, kind: ValueKind) -> Self {
        Self {
            name,
            kind,
            nullable: false,
            origin: Origin::Stored,
            exported: true,
            central: true,
            central_time: None,
        }
    }

    /// The table's key (see [`KEY_COLUMN`]).
    const fn key() -> Self {
        Self::new(KEY_COLUMN, ValueKind::Integer).not_exported()
    }

    /// The local row id of the row this one belongs to. Synced as it is (central rows keep the
    /// hub's ids); the export names the owner instead.
    const fn reference(name: &'static str) -> Self {
        Self::new(name, ValueKind::Integer).not_exported()
    }

    /// A value of the owner, read through the owner's joins when the row travels.
    const fn from_owner(name: &'static str, kind: ValueKind, expression: &'static str) -> Self {
        let mut column = Self::new(name, kind).not_exported();
        column.origin = Origin::Owner(expression);
        column
    }

    const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    const fn not_exported(mut self) -> Self {
        self.exported = false;
        self
    }

    const fn not_central(mut self) -> Self {
        self.central = false;
        self
    }

    /// Kept on the hub only: neither exported nor synced.
    const fn hub_only(self) -> Self {
        self.not_exported().not_central()
    }

    const fn central_time(mut self, name: &'static str) -> Self {
        self.central_time = Some(name);
        self
    }

    /// Whether the value goes to the central database (as itself or as a time column).
    pub fn travels(&self) -> bool {
        self.central || self.central_time.is_some()
    }
}

/// What a row belongs to. Decides the joins that reach its session and participants, which
/// session it is part of (a running session's rows wait before central sync), how the export
/// names it, and whose consent lets it leave the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The row is a session.
    Session,
    /// The row belongs to the session in this column and holds no personal data.
    InSession { session: &'static str },
    /// Figures of the session in this column computed from its consented participants' data
    /// (the session report): no row about one person, so it needs no one's consent of its own,
    /// but a participant's erasure removes the figures their data went into (the hub builds
    /// them again without that participant). `made_at` is the column with the time (ms) they
    /// were made, which tells figures made before an erasure from those made after it.
    FromParticipants {
        session: &'static str,
        made_at: &'static str,
    },
    /// The row is a participant of the session in this column, with their own
    /// `research_consent`.
    IsParticipant { session: &'static str },
    /// The row belongs to the participant in this column (`p`).
    OfParticipant { participant: &'static str },
    /// The row describes two participants (`a` and `b`) in the synchrony round `round` (`y`).
    PairInRound {
        round: &'static str,
        a: &'static str,
        b: &'static str,
    },
    /// An erasure tombstone: part of no session, and it always travels, so that central sync can
    /// erase that pseudonym's rows centrally too.
    Tombstone,
}

/// A column the export writes to name a row's owner, in place of internal row ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityColumn {
    pub name: &'static str,
    pub expression: &'static str,
    pub kind: ValueKind,
}

const SESSION_ID: IdentityColumn = IdentityColumn {
    name: "session_id",
    expression: "s.session_id",
    kind: ValueKind::Uuid,
};

impl Owner {
    /// The joins that bring in the owner's aliases (`p`; `y`, `a` and `b`), after `FROM <table> t`.
    pub fn joins(&self) -> String {
        match self {
            Self::OfParticipant { participant } => {
                format!(" JOIN session_participants p ON p.id = t.{participant}")
            }
            Self::PairInRound { round, a, b } => format!(
                " JOIN synchrony_rounds y ON y.id = t.{round} \
                 JOIN session_participants a ON a.id = t.{a} \
                 JOIN session_participants b ON b.id = t.{b}"
            ),
            Self::Session
            | Self::InSession { .. }
            | Self::FromParticipants { .. }
            | Self::IsParticipant { .. }
            | Self::Tombstone => String::new(),
        }
    }

    /// The row id of the session a row is part of, after [`Owner::joins`]; `None` for rows of
    /// no session.
    pub fn session_id_expression(&self) -> Option<String> {
        match self {
            Self::Session => Some(format!("t.{KEY_COLUMN}")),
            Self::InSession { session }
            | Self::FromParticipants { session, .. }
            | Self::IsParticipant { session } => Some(format!("t.{session}")),
            Self::OfParticipant { .. } => Some("p.session_ref".to_owned()),
            Self::PairInRound { .. } => Some("y.session_ref".to_owned()),
            Self::Tombstone => None,
        }
    }

    /// The row ids of the participants whose consent the row needs, each with the alias whose
    /// `research_consent` decides; empty when the row holds no personal data.
    pub fn consenting_participants(&self) -> Vec<(String, &'static str)> {
        match self {
            Self::IsParticipant { .. } => vec![(format!("t.{KEY_COLUMN}"), "t")],
            Self::OfParticipant { participant } => vec![(format!("t.{participant}"), "p")],
            Self::PairInRound { a, b, .. } => {
                vec![(format!("t.{a}"), "a"), (format!("t.{b}"), "b")]
            }
            Self::Session
            | Self::InSession { .. }
            | Self::FromParticipants { .. }
            | Self::Tombstone => Vec::new(),
        }
    }

    /// The condition, over the row and its joins, under which it may leave the hub: every
    /// participant it describes consented to research. `None`: it holds no personal data.
    pub fn consent_condition(&self) -> Option<String> {
        let participants = self.consenting_participants();
        (!participants.is_empty()).then(|| {
            participants
                .iter()
                .map(|(_, alias)| format!("{alias}.research_consent = 1"))
                .collect::<Vec<_>>()
                .join(" AND ")
        })
    }

    /// How the export names the owner, in the first columns of each row (with `s` joined).
    pub fn identity(&self) -> &'static [IdentityColumn] {
        match self {
            Self::Session | Self::Tombstone => &[],
            Self::InSession { .. } | Self::FromParticipants { .. } | Self::IsParticipant { .. } => {
                &[SESSION_ID]
            }
            Self::OfParticipant { .. } => &[
                SESSION_ID,
                IdentityColumn {
                    name: "participant_id",
                    expression: "p.participant_id",
                    kind: ValueKind::Uuid,
                },
                IdentityColumn {
                    name: "pseudonym",
                    expression: "p.pseudonym",
                    kind: ValueKind::Text,
                },
            ],
            Self::PairInRound { .. } => &[
                SESSION_ID,
                IdentityColumn {
                    name: "at_ms",
                    expression: "y.at_ms",
                    kind: ValueKind::Integer,
                },
                IdentityColumn {
                    name: "pseudonym_a",
                    expression: "a.pseudonym",
                    kind: ValueKind::Text,
                },
                IdentityColumn {
                    name: "pseudonym_b",
                    expression: "b.pseudonym",
                    kind: ValueKind::Text,
                },
            ],
        }
    }
}

/// One catalogued table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The same on the hub and centrally.
    pub name: &'static str,
    pub owner: Owner,
    /// The key first; exported columns in the order the export writes them (after the owner's
    /// identity). Migrations are compared by name, not by position.
    pub columns: &'static [Column],
    /// Central-only columns the central server fills itself (`timestamptz DEFAULT now()`).
    pub central_defaults: &'static [&'static str],
    /// The export's row order (`ORDER BY` over `t` and `s`); `None`: not exported.
    pub export_order: Option<&'static str>,
}

impl Table {
    /// The table's key (see [`KEY_COLUMN`]).
    pub fn key(&self) -> &'static str {
        KEY_COLUMN
    }

    /// The column central sync keeps its per-table watermark on (see [`KEY_COLUMN`]).
    pub fn watermark(&self) -> &'static str {
        KEY_COLUMN
    }

    pub fn is_exported(&self) -> bool {
        self.export_order.is_some()
    }

    /// The columns stored in the local table.
    pub fn stored_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns
            .iter()
            .filter(|column| column.origin == Origin::Stored)
    }

    /// The columns central sync reads locally and stages, in catalogue order.
    pub fn travelling_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|column| column.travels())
    }

    /// What `migrations/sqlite/` should declare for this table.
    pub fn sqlite_shape(&self) -> Vec<ColumnShape> {
        self.stored_columns()
            .map(|column| ColumnShape {
                name: column.name.to_owned(),
                sql_type: column.kind.sqlite_type().to_owned(),
                nullable: column.nullable,
                key: column.name == KEY_COLUMN,
            })
            .collect()
    }

    /// What `migrations/postgres/` should declare for this table.
    pub fn postgres_shape(&self) -> Vec<ColumnShape> {
        let shape = |name: &str, sql_type: &str, nullable: bool| ColumnShape {
            name: name.to_owned(),
            sql_type: sql_type.to_owned(),
            nullable,
            key: name == HUB_COLUMN || name == KEY_COLUMN,
        };
        let mut columns = vec![shape(HUB_COLUMN, ValueKind::Uuid.postgres_type(), false)];
        for column in self.columns {
            if column.central {
                columns.push(shape(
                    column.name,
                    column.kind.postgres_type(),
                    column.nullable,
                ));
            }
            if let Some(time) = column.central_time {
                columns.push(shape(time, POSTGRES_TIME_TYPE, column.nullable));
            }
        }
        for name in self.central_defaults {
            columns.push(shape(name, POSTGRES_TIME_TYPE, false));
        }
        columns
    }
}

/// A column as a schema declares it, for comparing the catalogue with the migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnShape {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
    /// Part of the primary key.
    pub key: bool,
}

impl std::fmt::Display for ColumnShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql_type)?;
        if !self.nullable {
            f.write_str(" NOT NULL")?;
        }
        if self.key {
            f.write_str(" (key)")?;
        }
        Ok(())
    }
}

/// Where `table`'s columns in the catalogue (`expected`) and in a migrated database
/// (`migrated`) differ, one line per column, naming the table and the column.
pub fn differences(table: &str, expected: &[ColumnShape], migrated: &[ColumnShape]) -> Vec<String> {
    let mut lines = Vec::new();
    for column in expected {
        match migrated.iter().find(|found| found.name == column.name) {
            None => lines.push(format!(
                "{table}.{}: the catalogue has it ({column}), the migrations do not",
                column.name
            )),
            Some(found) if found != column => lines.push(format!(
                "{table}.{}: the catalogue says {column}, the migrations say {found}",
                column.name
            )),
            Some(_) => {}
        }
    }
    for found in migrated {
        if !expected.iter().any(|column| column.name == found.name) {
            lines.push(format!(
                "{table}.{}: the migrations have it ({found}), the catalogue does not",
                found.name
            ));
        }
    }
    lines
}

/// The catalogued table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|table| table.name == name)
}
