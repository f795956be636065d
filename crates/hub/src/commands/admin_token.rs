//! `synchub admin-token`: where the facilitator's admin token is, and `--rotate` to replace it.
//!
//! A rotation rewrites the token file; a hub running on the same data directory reads the file
//! again on its next facilitator request (see `server::admin`), so the old token is refused at
//! once without this command having to find the running hub.

use std::path::PathBuf;

use anyhow::Context as _;
use synchub_store::DataDir;

#[derive(Debug, clap::Args)]
pub struct AdminTokenArgs {
    /// The hub's data directory [default: the platform's data directory].
    #[arg(long, env = "SYNCHUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Replace the token with a new random one; the old one stops working at once, also for a
    /// hub that is running.
    #[arg(long)]
    pub rotate: bool,
    /// Print the token itself instead of where it is kept.
    #[arg(long)]
    pub show: bool,
}

/// `synchub admin-token`.
#[allow(clippy::print_stdout)] // The command's output.
pub fn run(args: &AdminTokenArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::resolve(args.data_dir.clone())?;
    let token = if args.rotate {
        let token = data_dir.rotate_admin_token().with_context(|| {
            format!("rotating the admin token in {}", data_dir.root().display())
        })?;
        println!(
            "rotated: the previous admin token is refused from now on; consoles must enter the \
             new one"
        );
        token
    } else {
        data_dir.admin_token().context("reading the admin token")?
    };
    if args.show {
        println!("{}", token.as_str());
    } else {
        println!("admin token: {}", data_dir.admin_token_path().display());
    }
    Ok(())
}
