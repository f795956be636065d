//! Integration tests of the wire contract: one binary, one module per feature.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod clock;
mod decode;
mod discovery;
mod fuzz;
mod original;
mod rest;
mod schema;
mod transcript;
mod util;
