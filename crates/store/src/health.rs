//! Whether the store can write right now, as the writer thread last found out: the hub reads it
//! for `/health`, `GET /api/hub`, the console's banner and `/metrics`, and refuses new beats
//! with `store_unavailable` while it says the store cannot write.
//!
//! The writer thread is the only one that updates it; everyone else reads a snapshot
//! ([`StoreHealth::status`]). A plain mutex is enough: it is written once per commit at most
//! and read per request, and the writer never holds it across I/O.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What kind of write failure the store is in, so the facilitator is told what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreFaultKind {
    /// The disk (or the file system holding the data directory) is full.
    DiskFull,
    /// The file system is read-only, or the files are not writable.
    ReadOnly,
    /// Another process holds the database's write lock.
    Locked,
    /// The disk reported an I/O error, or the database file could not be opened.
    Io,
    /// The database file is damaged.
    Corrupt,
}

impl StoreFaultKind {
    /// A stable name for logs, metrics labels and the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DiskFull => "disk_full",
            Self::ReadOnly => "read_only",
            Self::Locked => "locked",
            Self::Io => "io_error",
            Self::Corrupt => "corrupt",
        }
    }

    /// What the facilitator can do about it (shown on the console's banner).
    pub fn advice(self) -> &'static str {
        match self {
            Self::DiskFull => {
                "free space on the disk that holds the data directory; the hub retries by itself and nothing acknowledged is lost"
            }
            Self::ReadOnly => {
                "make the data directory writable again (remount the disk read-write or fix its permissions); the hub retries by itself"
            }
            Self::Locked => {
                "another program holds the database open for writing (a second hub, or a tool like sqlite3); close it; the hub retries by itself"
            }
            Self::Io => {
                "the disk reports errors; check it and its connection; the hub retries by itself, and phones keep unacknowledged beats"
            }
            Self::Corrupt => {
                "stop the hub and run `synchub store check`, then `synchub store recover` if it reports damage"
            }
        }
    }
}

/// The current write failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFault {
    pub kind: StoreFaultKind,
    /// The error as SQLite or the OS reported it.
    pub message: String,
    /// Wall-clock milliseconds of the first failed attempt of this episode.
    pub since_ms: i64,
}

/// A snapshot of the store's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// The last write attempt committed (or nothing was written yet).
    pub writable: bool,
    /// Why it cannot write, while it cannot.
    pub fault: Option<StoreFault>,
    /// Failed write attempts since the store opened (each retry counts).
    pub write_errors_total: u64,
    /// Episodes that ended with the store writing again.
    pub recoveries_total: u64,
}

#[derive(Debug, Default)]
struct Inner {
    failing: AtomicBool,
    fault: Mutex<Option<StoreFault>>,
    write_errors_total: AtomicU64,
    recoveries_total: AtomicU64,
}

/// Shared between the writer thread (which updates it) and the hub (which reads it).
#[derive(Debug, Clone, Default)]
pub struct StoreHealth(Arc<Inner>);

impl StoreHealth {
    /// False while the writer's last attempt failed. One atomic load: the engine task asks it
    /// for every beat batch.
    pub fn is_writable(&self) -> bool {
        !self.0.failing.load(Ordering::Acquire)
    }

    pub fn status(&self) -> StoreStatus {
        let fault = self
            .0
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        StoreStatus {
            writable: fault.is_none(),
            fault,
            write_errors_total: self.0.write_errors_total.load(Ordering::Relaxed),
            recoveries_total: self.0.recoveries_total.load(Ordering::Relaxed),
        }
    }

    /// A write attempt failed; keeps the start of the episode.
    pub(crate) fn failed(&self, kind: StoreFaultKind, message: String, now_ms: i64) {
        self.0.write_errors_total.fetch_add(1, Ordering::Relaxed);
        let mut fault = self.0.fault.lock().unwrap_or_else(PoisonError::into_inner);
        let since_ms = fault.as_ref().map_or(now_ms, |fault| fault.since_ms);
        *fault = Some(StoreFault {
            kind,
            message,
            since_ms,
        });
        self.0.failing.store(true, Ordering::Release);
    }

    /// A write committed. Returns true when this ended a failure episode.
    pub(crate) fn succeeded(&self) -> bool {
        if !self.0.failing.load(Ordering::Acquire) {
            return false;
        }
        let mut fault = self.0.fault.lock().unwrap_or_else(PoisonError::into_inner);
        *fault = None;
        self.0.failing.store(false, Ordering::Release);
        self.0.recoveries_total.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Whether `error` means the storage failed (retry the whole transaction later) rather than
/// that this one record is wrong (reject it and go on).
pub(crate) fn storage_fault(error: &crate::Error) -> Option<StoreFaultKind> {
    use rusqlite::ErrorCode as Code;
    match error {
        crate::Error::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => match failure.code {
            Code::DiskFull => Some(StoreFaultKind::DiskFull),
            Code::ReadOnly => Some(StoreFaultKind::ReadOnly),
            Code::DatabaseBusy | Code::DatabaseLocked => Some(StoreFaultKind::Locked),
            // SQLite reports a full or read-only disk during a WAL write as an I/O error; the
            // writer refines the kind with `refine` from what the file system says.
            Code::SystemIoFailure | Code::CannotOpen | Code::FileLockingProtocolFailed => {
                Some(StoreFaultKind::Io)
            }
            Code::DatabaseCorrupt | Code::NotADatabase => Some(StoreFaultKind::Corrupt),
            _ => None,
        },
        crate::Error::Io { .. } => Some(StoreFaultKind::Io),
        _ => None,
    }
}

/// An I/O failure is named by what the file system holding `directory` says now: read-only,
/// or out of space; otherwise it stays what SQLite said.
pub(crate) fn refine(kind: StoreFaultKind, directory: &std::path::Path) -> StoreFaultKind {
    if !matches!(kind, StoreFaultKind::Io | StoreFaultKind::DiskFull) {
        return kind;
    }
    match crate::disk::disk_space(directory) {
        Ok(space) if space.read_only => StoreFaultKind::ReadOnly,
        Ok(space) if space.free_bytes < crate::disk::NEARLY_FULL_BYTES => StoreFaultKind::DiskFull,
        _ => kind,
    }
}
