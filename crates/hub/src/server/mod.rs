//! The hub's HTTP surface: one axum [`Router`] that serves the REST API, Socket.IO at
//! `/socket.io/`, the plain WebSocket at `/ws`, `/metrics`, `/health`, and the web console and join page.
//!
//! [`app`] builds the router from an [`AppState`] and nothing else, so tests drive it with
//! `tower::ServiceExt::oneshot` and `serve` binds it to a socket.

pub mod admin;
pub mod auth;
pub mod caps;
pub mod edge;
pub mod error;
pub mod export_files;
pub mod export_zip;
pub mod guards;
pub mod health;
pub mod listen;
pub mod me;
pub mod me_report;
pub mod origin;
pub mod relay_link;
pub mod relays;
pub mod report;
pub mod rest;
pub mod socketio;
pub mod static_files;
pub mod straps;
pub mod ws;
pub(crate) mod ws_reader;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post, put};
use synchub_store::{OrgSecret, Store};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::engine_task::EngineHandle;
use crate::guessing::{GuessGuard, GuessLimits};
use crate::metrics::Metrics;
use crate::peer::ConnId;
use crate::room::RoomSettings;

/// Everything request handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The shared part of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub engine: EngineHandle,
    pub metrics: Arc<Metrics>,
    /// Who may use the facilitator surface, and the admin token in force.
    pub admin: admin::AdminAccess,
    pub org_secret: OrgSecret,
    pub room: watch::Sender<RoomSettings>,
    pub store: Arc<Store>,
    /// `http://<lan-ip>:<port>`: the base of the join URL and the hub's own origin.
    pub public_base_url: String,
    /// Origins allowed by CORS: the hub's own addresses and the desktop app.
    pub allowed_origins: Vec<HeaderValue>,
    /// Wrong room and strap codes, per address and for the whole room.
    pub guesses: Arc<GuessGuard>,
    /// The background sync to the central database.
    pub central: Arc<crate::central::CentralControl>,
    /// Hub-read Bluetooth straps (a room that says why when Bluetooth is off).
    pub straps: Arc<crate::straps::StrapRoom>,
    /// Under this much free space on the data directory's disk `/health` is red.
    pub min_free_disk_bytes: u64,
    /// Connections and participants per address, displays.
    pub caps: Arc<caps::Caps>,
    /// The session report participants last asked for, built once for all of them.
    pub personal_reports: me_report::PersonalReports,
    next_conn: AtomicU64,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: EngineHandle,
        metrics: Arc<Metrics>,
        admin: admin::AdminAccess,
        org_secret: OrgSecret,
        room: watch::Sender<RoomSettings>,
        store: Arc<Store>,
        public_base_url: String,
        allowed_origins: Vec<HeaderValue>,
        central: Arc<crate::central::CentralControl>,
        straps: Arc<crate::straps::StrapRoom>,
        min_free_disk_bytes: u64,
        caps: Arc<caps::Caps>,
    ) -> Self {
        AppState(Arc::new(Shared {
            engine,
            metrics,
            admin,
            org_secret,
            room,
            store,
            public_base_url,
            allowed_origins,
            guesses: Arc::new(GuessGuard::new(GuessLimits::default())),
            central,
            straps,
            min_free_disk_bytes,
            caps,
            personal_reports: me_report::PersonalReports::default(),
            next_conn: AtomicU64::new(1),
        }))
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.0.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn room(&self) -> RoomSettings {
        self.0.room.borrow().clone()
    }

    /// `http://<lan-ip>:<port>/join?room=<code>` (without `room` when no code is required).
    pub fn join_url(&self) -> String {
        match self.room().code {
            Some(code) => format!("{}/join?room={code}", self.0.public_base_url),
            None => format!("{}/join", self.0.public_base_url),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The client's address, when the server was started with connect info (never logged or
/// stored; used only to bound wrong room and strap codes per address).
pub fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip())
}

/// The hub's router. `socketio_layer` comes from [`socketio::layer`], which registers the
/// Socket.IO handlers on the same state.
pub fn app(state: AppState) -> Router {
    let socketio_layer = socketio::layer(state.clone());
    let facilitator = Router::new()
        .route("/api/hub", get(rest::hub_info))
        .route("/api/schedule", put(rest::put_schedule))
        .route("/api/pacer", put(rest::put_pacer))
        .route("/api/sync", put(rest::put_sync).post(rest::sync_now))
        .route("/api/straps", get(straps::list))
        .route(
            "/api/straps/{id}/assign",
            post(straps::assign).delete(straps::release),
        )
        .route(
            "/api/straps/{id}/claims/{slot}",
            axum::routing::delete(straps::revoke_claim),
        )
        .route("/api/relays", get(relays::list).post(relays::create))
        .route("/api/relays/{name}", axum::routing::delete(relays::revoke))
        .route("/api/sessions", post(rest::start_session))
        .route("/api/sessions/{id}/advance", post(rest::advance_session))
        .route("/api/sessions/{id}/end", post(rest::end_session))
        .route("/api/sessions/{id}/report", get(report::session_report))
        .route("/api/participants", get(rest::participants))
        .route("/api/research/export", get(rest::research_export))
        .route("/api/research/stats", get(rest::research_stats))
        .route("/api/admin-token/rotate", post(admin::rotate));
    #[cfg(feature = "fault-injection")]
    let facilitator = facilitator.route("/api/faults/engine-panic", post(inject_engine_panic));
    let facilitator = facilitator
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ))
        // Outermost: a remote request is refused before its token is even looked at.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::local_unless_remote,
        ));
    let console = Router::new()
        .route("/", get(static_files::index))
        .route("/index.html", get(static_files::index))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::local_unless_remote,
        ));
    let public = Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(rest::metrics))
        .route("/api/sessions/current", get(rest::current_session))
        .route("/api/sessions", get(rest::list_sessions))
        .route("/api/sessions/{id}", get(rest::session_by_id))
        .route("/api/me/export", get(me::export))
        .route("/api/me/report", get(me_report::report))
        .route("/api/me", axum::routing::delete(me::erase))
        .route("/ws", get(ws::upgrade))
        .route("/join", get(static_files::join))
        .route("/assets/{*file}", get(static_files::assets))
        .route("/{file}", get(static_files::root_file));
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.allowed_origins.clone()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    public
        .merge(facilitator)
        .merge(console)
        .fallback(rest::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            synchub_protocol::limits::MAX_FRAME_BYTES,
        ))
        .layer(socketio_layer)
        // Outside Socket.IO's layer, so a foreign page's Socket.IO request is refused too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::require_own_origin,
        ))
        .layer(cors)
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            origin::content_security_policy(&state.allowed_origins),
        ))
        .layer(
            // Method and path only: query strings can carry user ids and room codes.
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

/// `POST /api/faults/engine-panic` (test builds only, feature `fault-injection`): makes the
/// engine task panic.
#[cfg(feature = "fault-injection")]
async fn inject_engine_panic(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::http::StatusCode {
    match state
        .engine
        .inputs
        .send(crate::engine_task::Input::InjectPanic)
        .await
    {
        Ok(()) => axum::http::StatusCode::ACCEPTED,
        Err(_) => axum::http::StatusCode::GONE,
    }
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
