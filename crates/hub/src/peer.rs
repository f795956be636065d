//! How the engine task reaches one connection without knowing its transport: a [`Peer`] takes
//! events and can be closed, the shape of ripgrep's `Sink`. The `/ws` and Socket.IO edges
//! (`server/`) implement it over their sockets; a hub-read strap's connection implements it
//! with nothing behind; tests implement it by recording what they are sent.

use std::sync::Arc;

use crate::encoded::Encoded;

/// A client's network address as the engine task may know it: a keyed hash (the key is random
/// per process), so no IP address passes the edge. Used only to count participants per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(pub u64);

/// Identifies one connection for the lifetime of the hub process.
pub type ConnId = u64;

/// One connection as the engine task sees it.
pub trait Peer: std::fmt::Debug + Send + Sync {
    /// Queues `event` for the connection without waiting.
    fn send(&self, event: &Arc<Encoded>) -> Result<(), SendFailure>;
    /// Ends the connection from the hub's side (already closed is fine).
    fn close(&self);
}

/// Why a send did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The client does not read fast enough; the engine task closes the connection.
    Slow,
    /// The connection is already gone.
    Closed,
}
