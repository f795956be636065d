//! The relays' tokens, kept across restarts in `relays.json` in the data directory (written
//! whole or not at all, owner-only). Only a keyed hash of each token is kept: the file alone
//! does not let anyone connect as a relay.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use synchub_store::OrgSecret;
use synchub_store::private_files::write_private;

use crate::guessing::constant_time_eq;

/// The file in the data directory.
pub const RELAYS_FILE: &str = "relays.json";

/// One relay's entry in the file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct StoredRelay {
    name: String,
    /// `hex(HMAC-SHA256(org secret, "relay-token:" + token))`.
    token_hash: String,
    created_at_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RelaysFile {
    relays: Vec<StoredRelay>,
}

/// Why a token could not be created or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "a relay named {0:?} exists already; revoke it first (DELETE /api/relays/{0}) or choose another name"
    )]
    NameTaken(String),
    #[error("no relay is named {0:?}; list them with GET /api/relays")]
    UnknownRelay(String),
    #[error("writing {path}: {source}; check that the data directory is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The relays with a token.
pub struct RelayTokens {
    path: Option<PathBuf>,
    secret: OrgSecret,
    relays: Vec<StoredRelay>,
}

impl std::fmt::Debug for RelayTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RelayTokens")
            .field("relays", &self.relays.len())
            .finish_non_exhaustive()
    }
}

impl RelayTokens {
    /// Reads `relays.json` from `data_dir` (none yet: no relays). A file that cannot be read
    /// is reported and the hub runs without relays rather than not at all.
    pub fn load(data_dir: &Path, secret: OrgSecret) -> RelayTokens {
        let path = data_dir.join(RELAYS_FILE);
        let relays = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<RelaysFile>(&bytes) {
                Ok(file) => file.relays,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "the relays file is not readable; relays must be added again");
                    Vec::new()
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "the relays file is not readable; relays must be added again");
                Vec::new()
            }
        };
        RelayTokens {
            path: Some(path),
            secret,
            relays,
        }
    }

    /// Tokens kept in memory only (tests of the router).
    pub fn in_memory(secret: OrgSecret) -> RelayTokens {
        RelayTokens {
            path: None,
            secret,
            relays: Vec::new(),
        }
    }

    fn hash(&self, token: &str) -> String {
        self.secret.pseudonym(&format!("relay-token:{token}"))
    }

    fn save(&self) -> Result<(), TokenError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = RelaysFile {
            relays: self.relays.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
        write_private(path, &bytes).map_err(|source| TokenError::Write {
            path: path.clone(),
            source,
        })
    }

    /// A new relay: its token (32 random bytes, hex), kept only as a hash.
    pub fn create(&mut self, name: &str, now_ms: i64) -> Result<String, TokenError> {
        if self.relays.iter().any(|relay| relay.name == name) {
            return Err(TokenError::NameTaken(name.to_owned()));
        }
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        let token = hex::encode(bytes);
        self.relays.push(StoredRelay {
            name: name.to_owned(),
            token_hash: self.hash(&token),
            created_at_ms: now_ms,
        });
        if let Err(error) = self.save() {
            self.relays.retain(|relay| relay.name != name);
            return Err(error);
        }
        Ok(token)
    }

    /// Forgets the relay: its token no longer connects.
    pub fn revoke(&mut self, name: &str) -> Result<(), TokenError> {
        let before = self.relays.len();
        let kept: Vec<StoredRelay> = self
            .relays
            .iter()
            .filter(|relay| relay.name != name)
            .cloned()
            .collect();
        if kept.len() == before {
            return Err(TokenError::UnknownRelay(name.to_owned()));
        }
        let previous = std::mem::replace(&mut self.relays, kept);
        if let Err(error) = self.save() {
            self.relays = previous;
            return Err(error);
        }
        Ok(())
    }

    /// The name of the relay whose token this is (every hash compared in constant time).
    pub fn relay_of(&self, token: &str) -> Option<String> {
        let hash = self.hash(token);
        let mut found = None;
        for relay in &self.relays {
            if constant_time_eq(relay.token_hash.as_bytes(), hash.as_bytes()) {
                found = Some(relay.name.clone());
            }
        }
        found
    }

    /// Every relay's name, in the order they were created.
    pub fn names(&self) -> Vec<String> {
        self.relays.iter().map(|relay| relay.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> OrgSecret {
        OrgSecret::from_hex(&"07".repeat(32)).unwrap()
    }

    #[test]
    fn a_token_survives_a_restart_and_only_its_hash_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let token = RelayTokens::load(dir.path(), secret())
            .create("back-row", 0)
            .unwrap();
        let on_disk = std::fs::read_to_string(dir.path().join(RELAYS_FILE)).unwrap();
        assert!(!on_disk.contains(&token));
        let again = RelayTokens::load(dir.path(), secret());
        assert_eq!(again.relay_of(&token).as_deref(), Some("back-row"));
        assert_eq!(again.relay_of("not the token"), None);
    }

    #[test]
    fn a_revoked_token_no_longer_connects_and_a_name_is_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut tokens = RelayTokens::load(dir.path(), secret());
        let token = tokens.create("a", 0).unwrap();
        assert!(matches!(
            tokens.create("a", 0),
            Err(TokenError::NameTaken(_))
        ));
        tokens.revoke("a").unwrap();
        assert_eq!(
            RelayTokens::load(dir.path(), secret()).relay_of(&token),
            None
        );
        assert!(matches!(
            tokens.revoke("a"),
            Err(TokenError::UnknownRelay(_))
        ));
    }
}
