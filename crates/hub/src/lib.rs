//! Sync Hub's composition root: the `synchub` command and the room server that wires the pure
//! core (`synchub-hrv`, `synchub-protocol`, `synchub-session`) to sockets, the SQLite store
//! (`synchub-store`), mDNS, Bluetooth LE straps (`synchub-ble`) and the central database
//! (`synchub-cloud`).
//!
//! # Roles
//!
//! - [`serve`]: start and stop a hub ([`serve::start`] → [`serve::RunningHub`]), with its
//!   settings from [`config`].
//! - [`server`]: the axum [`server::app`] router — REST, Socket.IO at `/socket.io/`, the plain
//!   WebSocket at `/ws`, `/metrics`, the embedded web console and join page — and the edge:
//!   handshakes, limits, and client events turned into domain inputs.
//! - [`engine_task`]: the one task that owns the session engine, and carries out its effects
//!   (sends through each connection's [`peer::Peer`], broadcasts serialised once as
//!   [`encoded::Encoded`], records to the store, `rr_ack` after the store says durable). It
//!   knows no transport: it takes [`client_input::ClientInput`]s and reads time from a
//!   [`clock::Clock`].
//! - [`straps`]: hub-read Bluetooth straps (`serve --ble`): the facilitator assigns a strap to a
//!   wearer and its beats reach the engine as that wearer's beats.
//! - [`report`]: a stored session's report (`synchub-report`), for `synchub report` and the
//!   report routes.
//! - [`session_reports`]: every ended session's report of consented participants' data, kept in
//!   the store for central sync and the research export (at start, after each session, before
//!   `synchub sync` pushes).
//! - [`central`]: the background sync to the central database, as the console controls it.
//! - [`convert`]: the only place where wire types and domain types meet.
//! - Leaves every other module may use: [`clock`], [`room`] (the room's name and code),
//!   [`guessing`] (bounds on guessing room and strap codes, per address and for the room),
//!   [`metrics`] (the `/metrics` figures), [`encoded`], [`peer`], [`client_input`];
//!   [`discovery`] is the mDNS advertisement.
//! - [`commands`]: the command line — [`commands::cli`] and one module per subcommand
//!   (`analyze`, `serve`, `demo` with the default `demo` feature, `sync`, `research`, `report`,
//!   `ble`).
//!
//! ```no_run
//! use clap::Parser;
//! let cli = synchub::commands::cli::Cli::parse_from(["synchub", "analyze", "examples/settling.txt"]);
//! synchub::commands::cli::run(cli).unwrap();
//! ```
//!
//! # Invariants
//!
//! - **No raw user id, note or IP address goes past the edge**: ids are pseudonymised in
//!   [`server::edge`] before the engine sees them; notes are dropped in [`convert`]; IPs only
//!   key the wrong-code limiter in memory ([`guessing`]; the engine task holds a
//!   [`guessing::GuessCharge`], which never reveals the address); logs carry request paths, never query strings.
//! - **The engine is touched by one task only**; everything else talks to it over a channel
//!   and reads its published [`engine_task::RoomView`].
//! - **The engine task knows no transport**: no socket, axum or Socket.IO type in
//!   [`engine_task`]; wire dispatch (`hello`, the display role, acknowledgements) is the edge's.
//! - **One clock**: the hub reads time only through a [`clock::Clock`].
//! - **Nothing is dropped silently**: a full store queue holds records in order and refuses new
//!   beats with `rate_limited`; a client too slow to read is disconnected and counted.

pub mod central;
pub mod client_input;
pub mod clock;
pub mod commands;
pub mod config;
pub mod convert;
pub mod discovery;
pub mod encoded;
pub mod engine_task;
pub mod guessing;
pub mod metrics;
pub mod peer;
pub mod relays;
pub mod report;
pub mod room;
pub mod serve;
pub mod server;
pub mod session_reports;
pub mod straps;
