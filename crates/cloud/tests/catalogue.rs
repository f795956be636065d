//! The store's catalogue of synced tables matches `migrations/postgres/`, column by column, on a
//! real database migrated the way a push migrates it.

use synchub_store::catalogue::{self, ColumnShape};

use crate::util::TestDatabase;

/// Central tables that are not copies of a hub's tables.
const CENTRAL_ONLY_TABLES: &[&str] = &["hubs", "hub_sync_state", "refinery_schema_history"];

async fn migrated() -> (TestDatabase, tokio_postgres::Client) {
    let database = TestDatabase::create().await;
    let mut client = database.client().await;
    synchub_cloud::migrate(&mut client).await.expect("migrate");
    (database, client)
}

/// The columns of `table` as the migrated central database declares them.
async fn migrated_columns(client: &tokio_postgres::Client, table: &str) -> Vec<ColumnShape> {
    client
        .query(
            "SELECT c.column_name::text, c.data_type::text, c.is_nullable = 'YES', \
             EXISTS (SELECT 1 FROM information_schema.table_constraints k \
                 JOIN information_schema.key_column_usage u \
                 ON u.constraint_name = k.constraint_name AND u.table_schema = k.table_schema \
                 WHERE k.constraint_type = 'PRIMARY KEY' AND k.table_schema = 'public' \
                 AND k.table_name = c.table_name AND u.column_name = c.column_name) \
             FROM information_schema.columns c \
             WHERE c.table_schema = 'public' AND c.table_name = $1 ORDER BY c.ordinal_position",
            &[&table],
        )
        .await
        .expect("information_schema.columns")
        .iter()
        .map(|row| ColumnShape {
            name: row.get(0),
            sql_type: row.get(1),
            nullable: row.get(2),
            key: row.get(3),
        })
        .collect()
}

#[tokio::test]
async fn every_catalogued_table_has_the_columns_of_the_postgres_migrations() {
    let (_database, client) = migrated().await;
    let mut differences = Vec::new();
    for table in catalogue::TABLES {
        differences.extend(catalogue::differences(
            table.name,
            &table.postgres_shape(),
            &migrated_columns(&client, table.name).await,
        ));
    }
    assert!(
        differences.is_empty(),
        "crates/store/src/catalogue/tables.rs and migrations/postgres/ disagree; correct the catalogue, \
         or add a migration:\n{}",
        differences.join("\n")
    );
}

#[tokio::test]
async fn every_central_table_is_catalogued_or_central_only() {
    let (_database, client) = migrated().await;
    let unknown: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
            &[],
        )
        .await
        .expect("information_schema.tables")
        .iter()
        .map(|row| row.get::<_, String>(0))
        .filter(|name| {
            catalogue::table(name).is_none() && !CENTRAL_ONLY_TABLES.contains(&name.as_str())
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "central tables neither in crates/store/src/catalogue/tables.rs nor central-only: {unknown:?}; \
         catalogue them if hubs push them, else list them here"
    );
}
