//! How much room the file system holding the data directory has, and whether it is read-only:
//! the writer names its failures with it and the hub reports it (`/health`, `/metrics`).
//!
//! `statvfs` through rustix, because std has no portable free-space call and the workspace
//! denies `unsafe`.

use std::path::Path;

/// Below this much free space a failed write is called "disk full" (SQLite needs a few pages
/// of room for a commit; the exact figure is not important, the order of magnitude is).
pub(crate) const NEARLY_FULL_BYTES: u64 = 1024 * 1024;

/// The file system's state as seen by an unprivileged writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes a non-root process may still write.
    pub free_bytes: u64,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The state of the file system holding `path`.
pub fn disk_space(path: &Path) -> std::io::Result<DiskSpace> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(DiskSpace {
        free_bytes: stat.f_bavail.saturating_mul(stat.f_frsize),
        read_only: stat.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_directory_has_room_and_is_writable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let space = disk_space(dir.path()).expect("statvfs");
        assert!(!space.read_only);
        assert!(space.free_bytes > 0, "{space:?}");
    }
}
