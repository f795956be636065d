//! The `synchub` command line: [`cli`] parses and dispatches; every other module here is one
//! subcommand, owning its arguments and its output. The hub itself (`serve`) is the library's;
//! these modules only call into it and print.

pub mod admin_token;
pub mod analyze;
pub mod ble;
pub mod cli;
#[cfg(feature = "demo")]
pub mod demo;
pub mod recording;
pub mod relay;
pub mod report;
pub mod research;
pub mod serve;
pub mod store;
pub mod sync;
