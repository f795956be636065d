//! Files only the hub's user may read, written so that a crash, a full disk or a pulled plug
//! never leaves half of one behind.
//!
//! A secret or a settings file is written to a temporary file in the same directory (mode 0600
//! from its creation: `tempfile` creates it so), fsynced, renamed over the old one and the
//! directory fsynced: a reader sees the old file or the new one, never an empty or partial one.
//! The data directory is 0700 and the database with its `-wal`/`-shm` files 0600, set every time
//! the store opens, whatever mode they had before (a directory made by hand, an older hub, a
//! copy from a backup): they hold resume tokens and heart data.
//!
//! Permissions are Unix modes; on other systems the functions that set them do nothing, and the
//! files inherit the user profile's access rules.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// Writes `contents` to `path` (readable by the owner only), atomically and durably: a
/// temporary file beside it, fsynced, renamed over `path`, the directory fsynced.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temp = private_temp_beside(path, contents)?;
    temp.persist(path).map_err(|error| error.error)?;
    sync_parent(path)
}

/// Like [`write_private`], but only when `path` does not exist yet: a file that appeared
/// meanwhile (another process's first run) wins, and `Ok(false)` says so.
pub fn create_private(path: &Path, contents: &[u8]) -> io::Result<bool> {
    let temp = private_temp_beside(path, contents)?;
    match temp.persist_noclobber(path) {
        Ok(_) => {
            sync_parent(path)?;
            Ok(true)
        }
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}

/// Makes `dir` (and its parents) if needed, and gives it mode 0700 whatever it had.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if !dir.is_dir() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    set_mode(dir, 0o700)
}

/// Gives an existing file mode 0600 whatever it had; a missing file is fine.
pub fn private_file(path: &Path) -> io::Result<()> {
    match set_mode(path, 0o600) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        result => result,
    }
}

fn private_temp_beside(path: &Path, contents: &[u8]) -> io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot-name says what it is if a crash ever leaves one (it is removed on every error).
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("exists").permissions().mode() & 0o777
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("readable")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_private_write_replaces_the_whole_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("settings.toml");
        fs::write(&path, "old = true\n").expect("an old file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, b"new = true\n").expect("written");
        assert_eq!(fs::read_to_string(&path).expect("read"), "new = true\n");
        assert_eq!(mode(&path), 0o600, "the new file is private");
        assert_eq!(
            names(dir.path()),
            ["settings.toml"],
            "no temporary file left"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // The target is a non-empty directory: the rename fails after the temporary file was
        // written, as a real failure between write and rename would.
        let path = dir.path().join("admin_token");
        fs::create_dir(&path).expect("a directory in the way");
        fs::write(path.join("keep"), "x").expect("a file inside");
        assert!(write_private(&path, b"secret").is_err());
        assert_eq!(
            names(dir.path()),
            ["admin_token"],
            "the temporary file is removed"
        );
        assert_eq!(names(&path), ["keep"]);
    }

    #[test]
    fn the_first_creation_wins() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("org_secret");
        assert!(create_private(&path, b"first").expect("created"));
        assert!(!create_private(&path, b"second").expect("not an error"));
        assert_eq!(fs::read_to_string(&path).expect("read"), "first");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(names(dir.path()), ["org_secret"]);
    }

    #[test]
    fn modes_are_tightened_whatever_they_were() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("a directory");
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&data).expect("made private");
        assert_eq!(mode(&data), 0o700);
        let file = data.join("synchub.sqlite3");
        fs::write(&file, "x").expect("a file");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).expect("chmod");
        private_file(&file).expect("made private");
        assert_eq!(mode(&file), 0o600);
        private_file(&data.join("missing-wal")).expect("a missing file is fine");
        let fresh = dir.path().join("new/nested");
        private_dir(&fresh).expect("created");
        assert_eq!(mode(&fresh), 0o700);
    }
}
