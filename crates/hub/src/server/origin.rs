//! Which web pages may open a socket to the hub. A browser sends `Origin` with every WebSocket
//! upgrade and every Socket.IO request, and lets any page open a WebSocket to any host: without
//! this check, a page on the venue's Wi-Fi (or any site a participant visits) could join the
//! room, or open the console's display feed, from inside the participant's browser.
//!
//! Allowed: no `Origin` at all (native apps, the projector, the simulator — not browsers), the
//! hub's own origins and the desktop app's ([`AppState::allowed_origins`]), and the origin the
//! request names itself in `Host` (the join page reached by another of the hub's names, e.g.
//! its mDNS host name). Everything else gets 403 `not_allowed` before any upgrade.
//!
//! The page's own `connect-src` ([`content_security_policy`]) names the same origins.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use synchub_protocol::ErrorCode;

use super::AppState;
use super::error::AppError;

/// Refuses a socket request (a WebSocket upgrade, or anything under `/socket.io/`) from a
/// foreign origin.
pub async fn require_own_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if is_socket_request(&request)
        && let Some(origin) = request.headers().get(header::ORIGIN)
        && !is_allowed(&state, origin, request.headers().get(header::HOST))
    {
        return Err(AppError::api(
            ErrorCode::NotAllowed,
            format!(
                "a page from {} may not connect to this hub; open the join page from the hub itself",
                origin.to_str().unwrap_or("another origin")
            ),
        ));
    }
    Ok(next.run(request).await)
}

fn is_socket_request(request: &Request) -> bool {
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    upgrade || request.uri().path().starts_with("/socket.io")
}

fn is_allowed(state: &AppState, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    if state
        .allowed_origins
        .iter()
        .any(|allowed| allowed == origin)
    {
        return true;
    }
    // Same origin: the page was served by this hub under the name the request uses.
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host))
}

/// The content security policy of the hub's pages: scripts, styles and images from the hub
/// only; sockets to the hub's own origins only (`'self'` for the page's own host, and the
/// `ws://` twins of the hub's addresses, which `'self'` does not cover in every browser);
/// no `<base>`, no plugins, no framing.
pub fn content_security_policy(allowed_origins: &[HeaderValue]) -> HeaderValue {
    let sockets: Vec<String> = allowed_origins
        .iter()
        .filter_map(|origin| origin.to_str().ok())
        .filter_map(|origin| origin.strip_prefix("http://"))
        .filter(|host| !host.starts_with("tauri."))
        .map(|host| format!("ws://{host}"))
        .collect();
    let policy = format!(
        "default-src 'self'; connect-src 'self' {}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        sockets.join(" ")
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
    })
}
