//! Renders the report of a stored session to a file with this crate alone (a fixed seed, the
//! room's name as given). `synchub report` is the product's way to do it (seeded by the
//! session's id, so it agrees with the hub's REST route); this stays for working on the crate
//! without building the hub.
//!
//! ```sh
//! cargo run -p synchub-report --example render -- --data-dir DIR --session latest \
//!     --out report.html [--format html|json] [--room-name NAME] [--seed N]
//! ```

#![allow(clippy::print_stderr)]

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use synchub_report::{Report, SessionData};
use synchub_session::ids::SessionId;
use synchub_store::DataDir;

fn main() -> anyhow::Result<()> {
    let mut data_dir = None;
    let mut session = "latest".to_owned();
    let mut out = None;
    let mut format = "html".to_owned();
    let mut room_name = None;
    let mut seed = 1_u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--session" => session = value()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--format" => format = value()?,
            "--room-name" => room_name = Some(value()?),
            "--seed" => seed = value()?.parse().context("--seed takes a whole number")?,
            other => {
                bail!("unknown argument {other}; see the usage at the top of examples/render.rs")
            }
        }
    }
    let data_dir =
        DataDir::new(data_dir.context("--data-dir DIR is required (the hub's data directory)")?);
    let out = out.context("--out FILE is required")?;
    let database = data_dir.database_path();
    let session_id = if session == "latest" {
        SessionData::latest_session_id(&database)?
            .with_context(|| format!("{} holds no session yet", database.display()))?
    } else {
        SessionId(session.parse().with_context(|| {
            format!("--session takes a session id (a UUID) or `latest`, not {session:?}")
        })?)
    };
    let mut data = SessionData::load_from_database(&database, session_id)?;
    data.session.room_name = room_name;
    let report = Report::build(&data, seed);
    let text = match format.as_str() {
        "html" => report.to_html(),
        "json" => report.to_json_pretty(),
        other => bail!("--format is html or json, not {other}"),
    };
    std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} ({session_id})", out.display());
    Ok(())
}
