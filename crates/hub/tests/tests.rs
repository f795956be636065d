//! Integration tests of the `synchub` command and the hub: the real process, the router
//! without a socket, and real clients over loopback sockets.

// The fault tests print what they measured (time to recover, rows kept) and why they skip.
#![allow(clippy::print_stderr)]

mod access;
mod analyze;
mod attacks;
mod central_sync;
mod crowd;
mod faults;
mod mdns;
mod me_report;
mod relay;
mod report;
mod research;
mod rest;
mod resume;
mod session_reports;
mod shutdown;
mod socketio;
mod store_repair;
mod strap_adapters;
mod straps;
mod supervision;
mod util;
mod ws;
