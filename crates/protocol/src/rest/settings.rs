//! The facilitator's view of the hub itself: `GET /api/hub` (name, version, join URL,
//! schedule, local store, central sync), the central sync's settings and status
//! (`PUT /api/sync`, `POST /api/sync`), and the room's breathing pace (`PUT /api/pacer`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sessions::Schedule;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::json::Fields;

/// State of the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    /// Whether the store's last write succeeded (and the disk is not nearly full).
    pub ok: bool,
    /// Records waiting for the writer thread, in its queue and held by the hub.
    pub queue_depth: u64,
    /// Records the hub holds back while the writer's queue is full (bounded).
    #[serde(default)]
    pub backlog: u64,
    /// Size of the database file, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Free space on the data directory's disk, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_disk_bytes: Option<u64>,
    /// Under this many free bytes `/health` is red.
    #[serde(default)]
    pub min_free_disk_bytes: u64,
    /// Why the store cannot write, while it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<StoreFaultInfo>,
    /// Failed write attempts since the hub started (each retry counts).
    #[serde(default)]
    pub write_errors_total: u64,
    /// Derived records (scores, group snapshots, synchrony) dropped because the backlog was
    /// at its bound; beats and session rows are never dropped.
    #[serde(default)]
    pub records_dropped: u64,
}

/// Why the store cannot write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreFaultInfo {
    pub kind: StoreFaultKind,
    /// The error as SQLite or the OS reported it.
    pub message: String,
    /// What the facilitator can do.
    pub advice: String,
    /// Hub time of the first failed attempt, ms since the Unix epoch.
    pub since_ms: u64,
}

/// The kinds of store write failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreFaultKind {
    /// The data directory's disk is full.
    DiskFull,
    /// The disk is read-only, or the files are not writable.
    ReadOnly,
    /// Another program holds the database's write lock.
    Locked,
    /// The disk reported an I/O error.
    IoError,
    /// The database file is damaged (`synchub store check`).
    Corrupt,
    /// A kind this build does not know (newer hub).
    #[serde(other)]
    Unknown,
}

/// State of the push to the central database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// No central database configured.
    Disabled,
    /// Configured, never run.
    Never,
    /// Not running now; the last run succeeded.
    Idle,
    /// Running now.
    Running,
    /// The last run failed (`lastError` says why).
    Failed,
}

/// Central sync status: the `sync` part of `GET /api/hub`, and the answer to `PUT /api/sync`
/// and `POST /api/sync` (status 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// What the sync is doing.
    pub state: SyncState,
    /// End of the last successful sync, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<u64>,
    /// Rows stored locally and not yet in the central database.
    pub unsynced_rows: u64,
    /// Why the last run failed (no credentials or hosts in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The central database, without its password; absent when none is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Seconds between background syncs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_secs: Option<u64>,
    /// Per-table progress of the run under way, or of the last run.
    #[serde(default)]
    pub tables: Vec<SyncTableProgress>,
}

/// One table's progress in a central sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncTableProgress {
    /// Table name, e.g. `rr_intervals`.
    pub table: String,
    /// Rows sent so far in this run.
    pub rows: u64,
    /// The table is done for this run.
    pub done: bool,
}

/// `PUT /api/sync` (facilitator): where stored sessions are synced. `databaseUrl: null` turns
/// the background sync off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettingsRequest {
    /// `postgres://user:password@host:port/database` (`?sslmode=require` for a remote one);
    /// `null` turns the sync off.
    pub database_url: Option<String>,
    /// Seconds between background syncs, `10..=86400` (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 86400))]
    pub every_secs: Option<u64>,
}

impl SyncSettingsRequest {
    /// Validates a `PUT /api/sync` body (the URL's syntax is the hub's to check).
    pub fn decode(body: &Value) -> Result<SyncSettingsRequest, DecodeError> {
        let fields = Fields::of_data("PUT /api/sync", body, false)?;
        if !body
            .as_object()
            .is_some_and(|map| map.contains_key("databaseUrl"))
        {
            return Err(fields.error("databaseUrl", DecodeErrorKind::MissingField));
        }
        let database_url = match fields.optional("databaseUrl") {
            None => None,
            Some(value) => {
                let url = fields.string("databaseUrl", value, 2048)?.trim();
                if url.is_empty() {
                    None
                } else {
                    Some(url.to_owned())
                }
            }
        };
        let every_secs = match fields.optional("everySecs") {
            None => None,
            Some(value) => {
                let secs = fields.unsigned_integer("everySecs", value)?;
                if !(10..=86_400).contains(&secs) {
                    return Err(fields.error(
                        "everySecs",
                        DecodeErrorKind::OutOfRange {
                            allowed: "10..=86400",
                        },
                    ));
                }
                Some(secs)
            }
        };
        Ok(SyncSettingsRequest {
            database_url,
            every_secs,
        })
    }
}

/// `GET /api/hub` (facilitator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HubInfo {
    /// The room's name.
    pub name: String,
    /// Hub version (semver).
    pub version: String,
    /// The room code participants must give; absent when none is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_code: Option<String>,
    /// `http://<lan-ip>:<port>/join?room=<code>`, shown as a QR code.
    pub join_url: String,
    /// The schedule in force.
    pub schedule: Schedule,
    /// Local store.
    pub store: StoreStatus,
    /// Central sync.
    pub sync: SyncStatus,
}

/// `PUT /api/pacer` (facilitator): the room's breathing pace. Answered with the new `pacer`
/// body, which every client also receives as a `pacer` event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PacerRequest {
    /// Breaths per minute, `1..=30` (6 is the classic resonance pace).
    #[schemars(range(min = 1.0, max = 30.0))]
    pub breaths_per_min: f64,
    /// Fraction of each breath spent inhaling, `0.1..=0.9`; absent keeps the current ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 0.9))]
    pub inhale_ratio: Option<f64>,
}

impl PacerRequest {
    /// Validates a `PUT /api/pacer` body.
    pub fn decode(body: &Value) -> Result<PacerRequest, DecodeError> {
        let fields = Fields::of_data("PUT /api/pacer", body, false)?;
        let value = fields.required("breathsPerMin")?;
        let breaths_per_min =
            fields.number_in("breathsPerMin", value, 1.0, false, 30.0, "1..=30")?;
        let inhale_ratio = match fields.optional("inhaleRatio") {
            None => None,
            Some(value) => {
                Some(fields.number_in("inhaleRatio", value, 0.1, false, 0.9, "0.1..=0.9")?)
            }
        };
        Ok(PacerRequest {
            breaths_per_min,
            inhale_ratio,
        })
    }
}
