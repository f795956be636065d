//! Integration tests of the `synchub` command and the hub: the real process, the router
//! without a socket, and real clients over loopback sockets.

mod analyze;
mod central_sync;
mod crowd;
mod mdns;
mod report;
mod research;
mod rest;
mod resume;
mod shutdown;
mod socketio;
mod straps;
mod util;
mod ws;
