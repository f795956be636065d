//! Integration tests of the store on real SQLite files in temporary directories.

// The crash test prints its seed and cycle counts for the record.
#![allow(clippy::print_stderr)]

mod util;

mod catalogue;
mod crash;
mod erasure;
mod export;
mod migrations;
mod privacy;
mod recovery;
mod report_token;
mod session_reports;
mod writer;
