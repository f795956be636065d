//! The facilitator's side of the edge: who may reach the facilitator API and the console, and
//! the admin token they present.
//!
//! - **Loopback only by default.** The admin token would cross the room's Wi-Fi in clear text
//!   (the hub speaks plain HTTP), so the facilitator routes and the console answer only
//!   connections from the hub's own computer (the desktop app and a browser on the laptop),
//!   unless the hub was started with `--admin-remote`. The join page, Socket.IO, `/ws` and
//!   `/health` stay on the LAN.
//! - **A token that can be rotated.** `POST /api/admin-token/rotate` (behind the current token)
//!   and `synchub admin-token --rotate` replace it; the old one is refused at once. The file is
//!   the one source of truth: the hub compares the file's identity (inode, size, mtime) on every
//!   facilitator request and re-reads it when it changed, so a rotation by the CLI (another
//!   process) takes effect with the very next request, without the CLI having to find and
//!   reach the running hub.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::AdminTokenBody;
use synchub_store::{AdminToken, DataDir};

use super::AppState;
use super::error::AppError;

/// Who may use the facilitator surface, and with which token.
#[derive(Debug)]
pub struct AdminAccess {
    /// `--admin-remote`: answer facilitator requests from any address, not only loopback.
    pub remote: bool,
    pub tokens: AdminTokens,
}

/// The admin token in force, following its file.
#[derive(Debug)]
pub struct AdminTokens {
    data_dir: DataDir,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    token: AdminToken,
    /// The file as it was when `token` was read from it.
    stamp: Option<FileStamp>,
}

/// What tells one version of the token file from another: a rotation renames a new file over
/// the old one (a new inode), and an edit in place changes the size or the mtime.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

impl AdminTokens {
    /// `token` was just read from `data_dir`'s token file.
    pub fn new(data_dir: DataDir, token: AdminToken) -> Self {
        let stamp = stamp_of(&data_dir.admin_token_path());
        Self {
            data_dir,
            current: Mutex::new(Current { token, stamp }),
        }
    }

    /// The token in force: the file's, re-read when it changed since it was last read. A
    /// `stat` per facilitator request (a handful a second at most) is cheap next to the
    /// request; blocking briefly on a local file is acceptable here. When the file cannot be
    /// read (deleted, unreadable), the last token read stays in force and the hub says so.
    pub fn current(&self) -> AdminToken {
        let path = self.data_dir.admin_token_path();
        let stamp = stamp_of(&path);
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stamp.is_some() && stamp != current.stamp {
            match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => {
                    current.token = AdminToken::from_file_text(&text);
                    current.stamp = stamp;
                    tracing::info!("the admin token file changed: the new token is in force");
                }
                Ok(_) => tracing::warn!(
                    path = %path.display(),
                    "the admin token file is empty; the previous token stays in force"
                ),
                Err(error) => tracing::warn!(
                    %error,
                    path = %path.display(),
                    "cannot read the admin token file; the previous token stays in force"
                ),
            }
        }
        current.token.clone()
    }

    /// Replaces the token (file and memory) and returns the new one; the old one is refused
    /// from now on.
    pub fn rotate(&self) -> Result<AdminToken, synchub_store::Error> {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let token = self.data_dir.rotate_admin_token()?;
        current.token = token.clone();
        current.stamp = stamp_of(&self.data_dir.admin_token_path());
        Ok(token)
    }
}

/// Whether the request came from this computer. A request with no peer address was handed to
/// the router in process (tests, no socket at all), which is as local as it gets.
fn from_loopback(request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none_or(|info| is_loopback(info.0.ip()))
}

/// Loopback, including IPv4 loopback reached over an IPv6 socket (`::ffff:127.0.0.1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// What a refused remote facilitator request is told.
const LOOPBACK_ONLY: &str = "the facilitator console and API answer only on the hub's own \
    computer (open http://127.0.0.1:<port>/ there, or use the desktop app); to open them to the \
    network, restart the hub with --admin-remote (the admin token then crosses the network in \
    clear text)";

/// Refuses facilitator pages and routes to other computers unless `--admin-remote`.
pub async fn local_unless_remote(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if state.admin.remote || from_loopback(&request) {
        Ok(next.run(request).await)
    } else {
        Err(AppError::api(ErrorCode::NotAllowed, LOOPBACK_ONLY))
    }
}

/// `POST /api/admin-token/rotate` (facilitator): a new admin token; the presented one stops
/// working at once. The console keeps the new one for the tab (the desktop app for the window).
pub async fn rotate(State(state): State<AppState>) -> Result<Json<AdminTokenBody>, AppError> {
    let access = state.clone();
    let token = tokio::task::spawn_blocking(move || access.admin.tokens.rotate())
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("rotating the token: {error}")))??;
    tracing::info!("the admin token was rotated from the console");
    Ok(Json(AdminTokenBody {
        admin_token: token.as_str().to_owned(),
    }))
}
