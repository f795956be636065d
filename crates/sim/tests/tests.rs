//! Integration tests of `synchub-sim`: simulated participants and the bench binary against a
//! stand-in hub on loopback (the real hub's tests use this crate against the real server).

mod bench;
mod client;
mod util;
