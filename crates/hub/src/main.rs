//! The `synchub` command: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = synchub::commands::cli::Cli::parse();
    match synchub::commands::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, the whole context chain: what failed, why, and what to do.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("synchub: error: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}
