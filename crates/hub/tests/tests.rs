//! Integration tests of the `synchub` command, run as a real process.

mod analyze;
mod util;
