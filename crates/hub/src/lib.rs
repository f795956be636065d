//! Sync Hub's composition root: the `synchub` command and, as the product grows, the room
//! server that wires the pure core (`synchub-hrv`, `synchub-protocol`, `synchub-session`) to
//! sockets, the SQLite store, Bluetooth and the central database.
//!
//! Today it holds the command line and `synchub analyze`, the offline report of one recording:
//!
//! ```no_run
//! use clap::Parser;
//! let cli = synchub::cli::Cli::parse_from(["synchub", "analyze", "examples/paced-breathing.txt"]);
//! synchub::cli::run(cli).unwrap();
//! ```

pub mod analyze;
pub mod cli;
pub mod recording;
