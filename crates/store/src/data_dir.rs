//! The data directory and the secrets that live in it.
//!
//! Everything a hub keeps on disk sits in one directory: the database, the hub's id, the
//! organisation secret that keys pseudonyms, and the facilitator's admin token. The default is
//! the platform's data directory (via `directories`); the hub overrides it with `--data-dir` or
//! `SYNCHUB_DATA_DIR`. The directory is 0700 and secrets are created on first use with mode 0600
//! (written whole or not at all, `private_files`), so another user of the laptop cannot read
//! them and a crash while creating one never leaves it empty.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::Error;
use crate::private_files;

/// The environment variable that overrides the default data directory (read by the hub).
pub const DATA_DIR_ENV: &str = "SYNCHUB_DATA_DIR";
/// The environment variable that sets the organisation secret (64 hex characters), so that all
/// hubs of one organisation give one person the same pseudonym.
pub const ORG_SECRET_ENV: &str = "SYNCHUB_ORG_SECRET";

const DATABASE_FILE: &str = "synchub.sqlite3";
const HUB_ID_FILE: &str = "hub_id";
const ORG_SECRET_FILE: &str = "org_secret";
const ADMIN_TOKEN_FILE: &str = "admin_token";
/// The shortest admin token accepted from the file (a generated one has 64 hex characters).
const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Where one hub keeps its database and secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The platform's default: `~/.local/share/synchub` on Linux, `~/Library/Application
    /// Support/org.synchub.synchub` on macOS, `%APPDATA%\synchub\synchub\data` on Windows.
    pub fn platform_default() -> Result<Self, Error> {
        directories::ProjectDirs::from("org", "synchub", "synchub")
            .map(|dirs| Self::new(dirs.data_dir()))
            .ok_or(Error::NoHomeDirectory)
    }

    /// `explicit` when given (the `--data-dir` flag or `SYNCHUB_DATA_DIR`, resolved by the
    /// caller), the platform default otherwise.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, Error> {
        match explicit {
            Some(root) => Ok(Self::new(root)),
            None => Self::platform_default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database file (its `-wal` and `-shm` companions sit next to it).
    pub fn database_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Creates the directory if it does not exist yet, and makes it private (mode 0700 on Unix)
    /// whatever mode it had.
    pub fn ensure_exists(&self) -> Result<(), Error> {
        private_files::private_dir(&self.root).map_err(|source| Error::Io {
            path: self.root.clone(),
            source,
        })
    }

    /// Makes the database and its `-wal`/`-shm` companions private (0600 on Unix) whatever mode
    /// they had: they hold resume tokens and heart data. Missing files are fine.
    pub fn secure_database_files(&self) -> Result<(), Error> {
        let database = self.database_path();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = database.clone().into_os_string();
            name.push(suffix);
            let path = PathBuf::from(name);
            private_files::private_file(&path).map_err(|source| Error::Io { path, source })?;
        }
        Ok(())
    }

    /// The hub's id, created (UUIDv4) on first run and stable afterwards.
    pub fn hub_id(&self) -> Result<uuid::Uuid, Error> {
        let text = self.read_or_create(HUB_ID_FILE, || uuid::Uuid::new_v4().to_string())?;
        uuid::Uuid::parse_str(text.trim()).map_err(|_| Error::Corrupt {
            path: self.root.join(HUB_ID_FILE),
            what: "not a UUID",
        })
    }

    /// The organisation secret: `SYNCHUB_ORG_SECRET` when set, otherwise the `org_secret` file,
    /// created with 32 random bytes on first run.
    pub fn org_secret(&self) -> Result<OrgSecret, Error> {
        if let Ok(hex_text) = std::env::var(ORG_SECRET_ENV) {
            return OrgSecret::from_hex(&hex_text);
        }
        let text = self.read_or_create(ORG_SECRET_FILE, || hex::encode(random_bytes::<32>()))?;
        OrgSecret::from_hex(&text).map_err(|_| Error::Corrupt {
            path: self.root.join(ORG_SECRET_FILE),
            what: "not 64 hex characters",
        })
    }

    /// The facilitator's admin token (32 random bytes as hex), created on first run. A file
    /// that holds no usable token (empty, too short, spaces inside: a failed write by an older
    /// hub, an editor accident) is an error that says what to do, never an empty token.
    pub fn admin_token(&self) -> Result<AdminToken, Error> {
        let text = self.read_or_create(ADMIN_TOKEN_FILE, || hex::encode(random_bytes::<32>()))?;
        let token = text.trim();
        if token.len() < MIN_ADMIN_TOKEN_LEN
            || !token.chars().all(|character| character.is_ascii_graphic())
        {
            return Err(Error::Corrupt {
                path: self.root.join(ADMIN_TOKEN_FILE),
                what: "holds no usable admin token (it must be at least 32 visible characters, \
                       no spaces); delete the file and start the hub again to get a new token, \
                       then give the console the token it prints",
            });
        }
        Ok(AdminToken(token.to_owned()))
    }

    /// The path of the admin token file, for a running hub to notice a rotation by another
    /// process.
    pub fn admin_token_path(&self) -> PathBuf {
        self.root.join(ADMIN_TOKEN_FILE)
    }

    /// Replaces the admin token with a fresh one and returns it: the old one stops working as
    /// soon as a hub reads the file again (a running hub checks it on every facilitator
    /// request). Written whole or not at all (temporary file, fsync, rename), so a reader sees
    /// the old token or the new one, never half of one.
    pub fn rotate_admin_token(&self) -> Result<AdminToken, Error> {
        self.ensure_exists()?;
        let token = hex::encode(random_bytes::<32>());
        let path = self.admin_token_path();
        private_files::write_private(&path, token.as_bytes()).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(AdminToken(token))
    }

    /// Reads `name`, or first creates it with `create()` (mode 0600, written whole or not at
    /// all) if it does not exist. A file created by a concurrent first run wins, so two
    /// processes agree.
    fn read_or_create(&self, name: &str, create: impl FnOnce() -> String) -> Result<String, Error> {
        self.ensure_exists()?;
        let path = self.root.join(name);
        let io_error = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            private_files::create_private(&path, create().as_bytes()).map_err(io_error)?;
        }
        fs::read_to_string(&path).map_err(io_error)
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    // The OS random source failing is not something a hub can recover from or work around.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes
}

/// The key of the pseudonym HMAC. Never printed: its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgSecret([u8; 32]);

impl OrgSecret {
    /// 32 fresh random bytes.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// From 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| Error::InvalidOrgSecret)?;
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `hex(HMAC-SHA256(key = secret, message = user_id))`: what the store knows a person by.
    /// Without the secret the raw id cannot be recovered even when ids are guessable.
    pub fn pseudonym(&self, user_id: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(user_id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A key for `purpose` other than pseudonyms (e.g. strap codes): SHA-256 of a fixed label,
    /// the purpose and the secret. Deliberately not an HMAC under the secret: anyone can obtain
    /// the pseudonym of an id of their choosing (in their own data export), so a key that was
    /// `pseudonym(purpose)` would be public.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use sha2::Digest as _;
        let mut hash = Sha256::new();
        hash.update(b"synchub derived key\0");
        hash.update(purpose.as_bytes());
        hash.update([0]);
        hash.update(self.0);
        hash.finalize().into()
    }
}

impl fmt::Debug for OrgSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrgSecret(<redacted>)")
    }
}

/// The token facilitator endpoints require. Its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token as the admin token file holds it (surrounding whitespace is not part of it).
    pub fn from_file_text(text: &str) -> Self {
        Self(text.trim().to_owned())
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_is_hmac_sha256_of_the_user_id_keyed_by_the_secret() {
        // Reference value from Python: hmac.new(b"\x00" * 32, b"user-1", hashlib.sha256).
        let secret = OrgSecret([0; 32]);
        assert_eq!(
            secret.pseudonym("user-1"),
            "0db11465ff5d649790db1f2b4e1427c4bab24852fc4319f6e35d47967f10ffc8"
        );
        assert_eq!(secret.pseudonym("user-1").len(), 64);
        assert_ne!(secret.pseudonym("user-1"), secret.pseudonym("user-2"));
        assert_ne!(
            secret.pseudonym("user-1"),
            OrgSecret([1; 32]).pseudonym("user-1")
        );
    }

    #[test]
    fn secret_round_trips_through_hex_and_rejects_bad_text() {
        let secret = OrgSecret::generate();
        assert_eq!(OrgSecret::from_hex(&secret.to_hex()).unwrap(), secret);
        assert!(OrgSecret::from_hex("abc").is_err());
        assert!(OrgSecret::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn an_unusable_admin_token_file_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = DataDir::new(dir.path());
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        for bad in [
            "",
            "\n",
            "short",
            &format!("{} {}", "a".repeat(20), "b".repeat(20)),
        ] {
            fs::write(&path, bad).expect("a bad token file");
            let error = data_dir.admin_token().expect_err("refused").to_string();
            assert!(error.contains("admin_token"), "names the file: {error}");
            assert!(
                error.contains("delete the file"),
                "says what to do: {error}"
            );
        }
        fs::remove_file(&path).expect("removed");
        let fresh = data_dir.admin_token().expect("a new token");
        assert_eq!(fresh.as_str().len(), 64);
        assert_eq!(data_dir.admin_token().expect("read again"), fresh);
    }

    #[cfg(unix)]
    #[test]
    fn opening_the_store_makes_the_data_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| fs::metadata(path).expect("exists").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("data");
        fs::create_dir(&root).expect("a data directory made by hand");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod");
        let data_dir = DataDir::new(&root);
        // A database left readable by others (an older hub, a copy from a backup).
        drop(crate::Store::open(&data_dir, crate::WriterConfig::default()).expect("opens"));
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", data_dir.database_path().display()));
            if path.exists() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
            }
        }
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod");

        let store = crate::Store::open(&data_dir, crate::WriterConfig::default()).expect("opens");
        assert_eq!(mode(&root), 0o700, "the data directory");
        assert_eq!(mode(&data_dir.database_path()), 0o600, "the database");
        for suffix in ["-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", data_dir.database_path().display()));
            assert!(
                path.exists(),
                "{} exists while the store is open",
                path.display()
            );
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        data_dir.admin_token().expect("a token");
        data_dir.org_secret().expect("a secret");
        for secret in [ADMIN_TOKEN_FILE, ORG_SECRET_FILE, HUB_ID_FILE] {
            assert_eq!(mode(&root.join(secret)), 0o600, "{secret}");
        }
        drop(store);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let secret = OrgSecret::from_hex(&"ab".repeat(32)).unwrap();
        assert!(!format!("{secret:?}").contains("abab"));
        assert!(!format!("{:?}", AdminToken("s3cret".into())).contains("s3cret"));
    }
}
