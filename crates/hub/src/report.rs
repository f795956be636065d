//! The session report as the hub hands it out: one stored session read from the store's
//! database file and built into `synchub-report`'s [`Report`], for `synchub report` (offline,
//! from a data directory) and `GET /api/sessions/{id}/report` (the running hub) alike.
//!
//! Both give the same report for the same session: the bootstrap seed is taken from the
//! session's id ([`seed_of`]), so a report made today and one made next year from the same
//! rows agree to the last digit.

use std::path::{Path, PathBuf};

use synchub_report::{LoadError, Report, SessionData};
use synchub_session::SessionId;

/// Which session to report on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The newest stored session (running or ended).
    Latest,
    Id(SessionId),
}

impl std::str::FromStr for Which {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("latest") {
            return Ok(Which::Latest);
        }
        uuid::Uuid::parse_str(text)
            .map(|id| Which::Id(SessionId(id)))
            .map_err(|_| {
                format!(
                    "`{text}` is neither `latest` nor a session id (a UUID such as \
                     0193a5c4-7d2e-7b3a-9f10-2c4d5e6f7a8b, as the console's history shows)"
                )
            })
    }
}

/// The page or its JSON twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page (inline SVG and CSS, no script).
    #[default]
    Html,
    /// The JSON twin of every figure (`docs/report.md`).
    Json,
}

impl ReportFormat {
    /// The report in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            ReportFormat::Html => report.to_html(),
            ReportFormat::Json => report.to_json_pretty(),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
        }
    }
}

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "no Sync Hub database at {}; pass the --data-dir that `synchub serve` used",
        path.display()
    )]
    NoDatabase { path: PathBuf },
    #[error(
        "the database at {} holds no session yet; run a session first (or check --data-dir)",
        path.display()
    )]
    NoSessions { path: PathBuf },
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Reading or writing the store around a report (the reports kept for central sync).
    #[error("the store: {0}")]
    Store(#[from] synchub_store::Error),
}

impl ReportError {
    /// Whether the session asked for does not exist (a 404 rather than a failure).
    pub fn is_unknown_session(&self) -> bool {
        matches!(
            self,
            ReportError::Load(LoadError::UnknownSession { .. }) | ReportError::NoSessions { .. }
        )
    }
}

/// The bootstrap seed of a session's report: the low 64 bits of its id, so every copy of a
/// session's report (command line, console, central) draws the same resamples.
pub fn seed_of(session_id: SessionId) -> u64 {
    let bytes = session_id.0.as_u128().to_le_bytes();
    let mut low = [0_u8; 8];
    low.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(low)
}

/// Reads the session from the database file (it must exist; it is never created here) and
/// builds its report. `room_name` goes on the page (the store does not keep it).
pub fn build(
    database_path: &Path,
    which: Which,
    room_name: Option<String>,
) -> Result<(SessionId, Report), ReportError> {
    let data = load(database_path, which)?;
    let (session_id, mut data) = data;
    data.session.room_name = room_name;
    Ok((session_id, Report::build(&data, seed_of(session_id))))
}

/// Reads the session from the database file (it must exist; it is never created here).
pub fn load(database_path: &Path, which: Which) -> Result<(SessionId, SessionData), ReportError> {
    if !database_path.is_file() {
        return Err(ReportError::NoDatabase {
            path: database_path.to_owned(),
        });
    }
    let session_id = match which {
        Which::Id(id) => id,
        Which::Latest => SessionData::latest_session_id(database_path)?.ok_or_else(|| {
            ReportError::NoSessions {
                path: database_path.to_owned(),
            }
        })?,
    };
    Ok((
        session_id,
        SessionData::load_from_database(database_path, session_id)?,
    ))
}

/// A file name for a session's report: `synchub-report-<date>-<first 8 of the id>.<ext>`.
pub fn file_name(report: &Report, session_id: SessionId, format: ReportFormat) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(report.overview.started_at_ms / 1000)
        .map(|at| at.date().to_string())
        .unwrap_or_else(|_| "undated".to_owned());
    let id = session_id.0.simple().to_string();
    format!("synchub-report-{date}-{}.{}", &id[..8], format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_reads_latest_and_uuids_and_says_what_else_is_expected() {
        assert_eq!("latest".parse::<Which>(), Ok(Which::Latest));
        assert_eq!(" LATEST ".parse::<Which>(), Ok(Which::Latest));
        let id = uuid::Uuid::from_u128(0x0193_a5c4_7d2e_7b3a_9f10_2c4d_5e6f_7a8b);
        assert_eq!(
            id.to_string().parse::<Which>(),
            Ok(Which::Id(SessionId(id)))
        );
        let error = "yesterday".parse::<Which>().unwrap_err();
        assert!(
            error.contains("`yesterday`") && error.contains("latest"),
            "{error}"
        );
    }

    #[test]
    fn the_seed_follows_the_session_id() {
        let a = SessionId(uuid::Uuid::from_u128(1));
        let b = SessionId(uuid::Uuid::from_u128(2));
        assert_eq!(seed_of(a), 1);
        assert_ne!(seed_of(a), seed_of(b));
    }

    #[test]
    fn a_missing_database_is_named_and_never_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synchub.sqlite3");
        let error = load(&path, Which::Latest).unwrap_err();
        assert!(matches!(error, ReportError::NoDatabase { .. }), "{error}");
        assert!(error.to_string().contains("--data-dir"), "{error}");
        assert!(!path.exists());
    }
}
