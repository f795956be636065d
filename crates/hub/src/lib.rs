//! Sync Hub's composition root: the `synchub` command and the room server that wires the pure
//! core (`synchub-hrv`, `synchub-protocol`, `synchub-session`) to sockets, the SQLite store
//! (`synchub-store`), mDNS, Bluetooth LE straps (`synchub-ble`) and the central database
//! (`synchub-cloud`).
//!
//! # Roles
//!
//! - [`serve`]: start and stop a hub ([`serve::start`] → [`serve::RunningHub`]); `synchub serve`.
//! - [`server`]: the axum [`server::app`] router — REST, Socket.IO at `/socket.io/`, the plain
//!   WebSocket at `/ws`, `/metrics`, the embedded web console and join page — and the edge
//!   checks both transports share (room code, rate limit, frame size).
//! - [`engine_task`]: the one task that owns the session engine, reading time from the hub's
//!   [`clock::Clock`], and carries out its effects (sends, broadcasts serialised once, records to the store, `rr_ack` after the
//!   store says durable).
//! - [`straps`]: hub-read Bluetooth straps (`serve --ble`): the facilitator assigns a strap to a
//!   wearer and its beats reach the engine as that wearer's `rr_intervals`.
//! - [`central`]: the background sync to the central database, as the console controls it.
//! - [`convert`]: the only place where wire types and domain types meet.
//! - [`connections`], [`discovery`], [`config`]: per-connection state and guards, the mDNS
//!   advertisement, and `serve`'s settings.
//! - [`room`], [`metrics`]: the room's name and code, and the `/metrics` figures — leaves the
//!   engine task, the server and mDNS all use.
//! - [`commands`]: the command line — [`commands::cli`] and one module per subcommand
//!   (`analyze`, `serve`, `demo` with the default `demo` feature, `sync`, `research`, `ble`).
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
//!   key the wrong-room-code limiter in memory; logs carry request paths, never query strings.
//! - **The engine is touched by one task only**; everything else talks to it over a channel
//!   and reads its published [`engine_task::RoomView`].
//! - **Nothing is dropped silently**: a full store queue holds records in order and refuses new
//!   beats with `rate_limited`; a client too slow to read is disconnected and counted.

pub mod central;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connections;
pub mod convert;
pub mod discovery;
pub mod engine_task;
pub mod metrics;
pub mod room;
pub mod serve;
pub mod server;
pub mod straps;
