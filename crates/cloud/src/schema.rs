//! The central schema: SQL migrations from `migrations/postgres/`, then the TimescaleDB step.
//!
//! The migrations are plain PostgreSQL and run everywhere (refinery, the same library that
//! migrates the hub's SQLite). TimescaleDB is optional, so its statements cannot live in a
//! migration file that must succeed on every server; instead [`migrate`] runs a guarded step
//! afterwards: when `timescaledb` is in `pg_available_extensions` it creates the extension, turns
//! the time-series tables into hypertables (their primary key gains the time column `at`, which
//! TimescaleDB requires of unique constraints; re-sent rows carry the same `at`, so
//! `ON CONFLICT DO NOTHING` still makes them harmless), enables compression, and replaces the
//! plain view `research.group_coherence_per_minute` by a continuous aggregate with the same
//! columns. Every statement checks what already exists, so the step is idempotent and runs on
//! each sync. Without the extension it logs one WARN line and the plain tables stay.

use tokio_postgres::Client;

use crate::Error;

mod embedded {
    refinery::embed_migrations!("../../migrations/postgres");
}

/// The tables that become hypertables, partitioned on `at`.
const HYPERTABLES: &[&str] = &[
    "rr_intervals",
    "hrv_metrics",
    "group_coherence_snapshots",
    "synchronization_pairs",
];

/// Whether the TimescaleDB features are in use on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timescale {
    /// Hypertables, compression and the continuous aggregate are set up.
    On,
    /// The extension is not available: plain tables with their indexes.
    Off,
}

/// Applies the pending migrations, then the TimescaleDB step. Safe to call on every sync.
pub async fn migrate(client: &mut Client) -> Result<Timescale, Error> {
    let report = embedded::migrations::runner().run_async(client).await?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied a central migration");
    }
    apply_timescale(client).await
}

async fn apply_timescale(client: &mut Client) -> Result<Timescale, Error> {
    let available: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
            &[],
        )
        .await?
        .get(0);
    if !available {
        tracing::warn!(
            "TimescaleDB features are off: the extension is not available on this server, so \
             rr_intervals, hrv_metrics, group_coherence_snapshots and synchronization_pairs stay \
             plain tables (no hypertables, compression or continuous aggregate)"
        );
        return Ok(Timescale::Off);
    }
    let transaction = client.transaction().await?;
    transaction
        .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .await?;
    for table in HYPERTABLES {
        let is_hypertable: bool = transaction
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables \
                 WHERE hypertable_schema = 'public' AND hypertable_name = $1)",
                &[table],
            )
            .await?
            .get(0);
        if is_hypertable {
            continue;
        }
        transaction
            .batch_execute(&format!(
                "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY (hub_id, id, at);
                 SELECT create_hypertable('{table}', by_range('at', INTERVAL '1 day'), migrate_data => true);
                 ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'hub_id', timescaledb.compress_orderby = 'at');
                 SELECT add_compression_policy('{table}', INTERVAL '7 days', if_not_exists => true);"
            ))
            .await?;
        tracing::info!(table, "made a TimescaleDB hypertable with compression");
    }
    let has_aggregate: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates \
             WHERE view_schema = 'research' AND view_name = 'group_coherence_per_minute')",
            &[],
        )
        .await?
        .get(0);
    transaction.commit().await?;
    if !has_aggregate {
        // A continuous aggregate cannot be created inside a transaction block.
        client
            .batch_execute(
                "DROP VIEW IF EXISTS research.group_coherence_per_minute;
                 CREATE MATERIALIZED VIEW research.group_coherence_per_minute
                 WITH (timescaledb.continuous) AS
                 SELECT g.hub_id, g.session_ref, time_bucket(INTERVAL '1 minute', g.at) AS minute,
                        avg(g.average_coherence) AS average_coherence,
                        max(g.peak_coherence) AS peak_coherence, count(*) AS snapshots
                 FROM group_coherence_snapshots g
                 GROUP BY g.hub_id, g.session_ref, time_bucket(INTERVAL '1 minute', g.at)
                 WITH NO DATA;
                 SELECT add_continuous_aggregate_policy('research.group_coherence_per_minute',
                     start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 minute',
                     schedule_interval => INTERVAL '5 minutes', if_not_exists => true);",
            )
            .await?;
        tracing::info!("created the continuous aggregate of group coherence per minute");
    }
    Ok(Timescale::On)
}
