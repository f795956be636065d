//! Real store faults against a real `synchub serve`, while phones send beat batches with `seq`
//! and resend every batch until it is acknowledged, as real phones do:
//!
//! - `tmpfs`: the data directory's disk fills up, then turns read-only (a tmpfs in a private
//!   mount namespace, `unshare -m`, filled and remounted from inside it with `nsenter -m`);
//! - `ext4`: ext4 on a loop device turns read-only under the hub's open files, and then shuts
//!   down so that every call fails with EIO; repaired each time with unmount, `e2fsck` and mount;
//! - `locked`: another process holds the database's write lock for seconds.
//!
//! Afterwards every acknowledged batch is in the database exactly once, every batch a phone
//! held is acknowledged (resent and stored), the database passes `PRAGMA integrity_check`, and
//! `/health` was 503 with the reason during each fault and 200 after, with no restart.

mod ext4;
mod locked;
mod rig;
mod tmpfs;
