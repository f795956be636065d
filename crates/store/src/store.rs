//! The open store: one database, one writer thread, and the operations the hub and the CLI call.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use rusqlite::params;
use synchub_session::ids::{ParticipantId, SessionId};
use synchub_session::record::SessionSummary;

use crate::disk::{DiskSpace, disk_space};
use crate::export::{self, ExportProgress, ExportReport, ExportRequest, ExportScope};
use crate::health::StoreHealth;
use crate::reader::Reader;
use crate::recovery::{self, RecoveredSession};
use crate::session_reports::{SavedReport, SessionReportRow};
use crate::writer::{self, CommitReport, Control, ErasureReport, WriterConfig, WriterHandle};
use crate::{DataDir, Error, ExportFormat, schema};

/// An open local store. Dropping it commits what is queued and stops the writer.
#[derive(Debug)]
pub struct Store {
    database_path: PathBuf,
    health: StoreHealth,
    hub_id: uuid::Uuid,
    writer: WriterHandle,
    commits: Receiver<CommitReport>,
    thread: Option<JoinHandle<()>>,
    recovered: Option<RecoveredSession>,
}

impl Store {
    /// Opens (creating on first run) the store in `data_dir`: migrates the schema, records the
    /// hub id, looks for an interrupted session and starts the writer thread.
    ///
    /// If several sessions were left open (a hub that crashed repeatedly without resuming),
    /// all but the newest are closed here with the time of their last stored activity; the
    /// newest is returned by [`Store::recovered`].
    pub fn open(data_dir: &DataDir, config: WriterConfig) -> Result<Self, Error> {
        data_dir.ensure_exists()?;
        let hub_id = data_dir.hub_id()?;
        let database_path = data_dir.database_path();
        let connection = schema::open_for_writing(&database_path)?;
        // The database and its WAL/SHM exist now; whatever mode they had, they become private.
        data_dir.secure_database_files()?;
        connection.execute(
            "INSERT INTO hub (hub_id, created_at_ms) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM hub WHERE hub_id = ?1)",
            params![hub_id.to_string(), now_ms()],
        )?;
        let mut interrupted = recovery::interrupted_sessions(&connection)?;
        let recovered = interrupted.pop();
        let health = StoreHealth::default();
        let (writer, commits, thread) =
            writer::spawn(connection, database_path.clone(), &config, health.clone())?;
        let store = Self {
            database_path,
            health,
            hub_id,
            writer,
            commits,
            thread: Some(thread),
            recovered,
        };
        for stale in interrupted {
            tracing::warn!(session = %stale.session_id(), "closing a session left open by an earlier crash");
            store.close_interrupted(stale.session_id(), stale.last_activity_ms)?;
        }
        if let Some(session) = &store.recovered {
            tracing::info!(
                session = %session.session_id(),
                participants = session.restored.participants.len(),
                "found a session interrupted by a stop of the hub"
            );
        }
        Ok(store)
    }

    pub fn hub_id(&self) -> uuid::Uuid {
        self.hub_id
    }

    pub fn database_path(&self) -> &std::path::Path {
        &self.database_path
    }

    /// The session that was running when the hub stopped, if any. The hub resumes it, or closes
    /// it with [`Store::close_interrupted`] when [`RecoveredSession::has_ended_by`] says so.
    pub fn recovered(&self) -> Option<&RecoveredSession> {
        self.recovered.as_ref()
    }

    /// A sender of records to the writer thread.
    pub fn writer(&self) -> WriterHandle {
        self.writer.clone()
    }

    /// One [`CommitReport`] per commit, in commit order. Clones share the stream: each report
    /// goes to one receiver, so the hub should read it from one place.
    pub fn commits(&self) -> Receiver<CommitReport> {
        self.commits.clone()
    }

    /// Whether the store can write, and why not.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// The state of the file system holding the database.
    pub fn disk_space(&self) -> std::io::Result<DiskSpace> {
        disk_space(
            self.database_path
                .parent()
                .unwrap_or(std::path::Path::new(".")),
        )
    }

    /// The hub is stopping: a writer retrying a failed commit gives up after
    /// [`crate::STOP_GRACE`] instead of holding the stop for as long as the disk fails.
    pub fn begin_stop(&self) {
        self.writer.begin_stop();
    }

    /// A new read-only connection.
    pub fn reader(&self) -> Result<Reader, Error> {
        Reader::open(&self.database_path)
    }

    /// Closes an interrupted session as the engine would have: summary from the stored group
    /// snapshots, open participants marked left at `ended_at_ms`. Goes through the writer.
    pub fn close_interrupted(
        &self,
        session_id: SessionId,
        ended_at_ms: i64,
    ) -> Result<SessionSummary, Error> {
        self.writer.call(|reply| Control::CloseInterrupted {
            session_id,
            ended_at_ms,
            reply,
        })
    }

    /// Deletes every row of the participant known as `pseudonym`, in every session, and
    /// records a tombstone in `erasures` for central sync. Records queued before this call are
    /// stored (and then erased) first.
    pub fn erase_participant(&self, pseudonym: &str) -> Result<ErasureReport, Error> {
        let pseudonym = pseudonym.to_owned();
        let at_ms = now_ms();
        self.writer.call(|reply| Control::Erase {
            pseudonym,
            at_ms,
            reply,
        })
    }

    /// Deletes the rows of one participant of one session (what a participant's own resume
    /// token proves: not the other sessions that share their pseudonym) and records a tombstone
    /// scoped to that session for central sync. An unknown participant erases nothing (and
    /// records no tombstone).
    pub fn erase_session_participant(
        &self,
        session_id: SessionId,
        participant_id: ParticipantId,
    ) -> Result<ErasureReport, Error> {
        let at_ms = now_ms();
        self.writer.call(|reply| Control::EraseInSession {
            session_id,
            participant_id,
            at_ms,
            reply,
        })
    }

    /// Research export: the consented participants of the sessions that started in
    /// `[from_ms, to_ms)` (everything when both are `None`), written to `out_dir` in `format`,
    /// plus plain RR files. Logged in `research_exports`. `progress` is called as rows are
    /// written (the CLI prints it to stderr).
    pub fn export(
        &self,
        request: &ExportRequest,
        progress: &mut dyn FnMut(&ExportProgress),
    ) -> Result<ExportReport, Error> {
        self.flush()?;
        let reader = self.reader()?;
        let report = export::run(
            reader.connection(),
            &ExportScope::Research {
                from_ms: request.from_ms,
                to_ms: request.to_ms,
            },
            request.format,
            &request.out_dir,
            progress,
        )?;
        self.log_export(
            &report,
            "research",
            request.format,
            request.from_ms,
            request.to_ms,
        )?;
        Ok(report)
    }

    /// A participant's own data (right of access) in every session of their pseudonym,
    /// whatever their research consent: for the facilitator answering a request.
    pub fn export_participant(
        &self,
        pseudonym: &str,
        format: ExportFormat,
        out_dir: &std::path::Path,
        progress: &mut dyn FnMut(&ExportProgress),
    ) -> Result<ExportReport, Error> {
        let scope = ExportScope::Participant {
            pseudonym: pseudonym.to_owned(),
        };
        self.export_scope(&scope, "participant", format, out_dir, progress)
    }

    /// One participant's own data in one session, whatever their research consent: what a
    /// participant's resume token reaches (other sessions of the same pseudonym stay out).
    pub fn export_session_participant(
        &self,
        session_id: SessionId,
        participant_id: ParticipantId,
        format: ExportFormat,
        out_dir: &std::path::Path,
        progress: &mut dyn FnMut(&ExportProgress),
    ) -> Result<ExportReport, Error> {
        let scope = ExportScope::SessionParticipant {
            session_id,
            participant_id,
        };
        // `research_exports.scope` knows research and participant exports; this is the latter.
        self.export_scope(&scope, "participant", format, out_dir, progress)
    }

    fn export_scope(
        &self,
        scope: &ExportScope,
        name: &'static str,
        format: ExportFormat,
        out_dir: &std::path::Path,
        progress: &mut dyn FnMut(&ExportProgress),
    ) -> Result<ExportReport, Error> {
        self.flush()?;
        let reader = self.reader()?;
        let report = export::run(reader.connection(), scope, format, out_dir, progress)?;
        self.log_export(&report, name, format, None, None)?;
        Ok(report)
    }

    fn log_export(
        &self,
        report: &ExportReport,
        scope: &'static str,
        format: ExportFormat,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<(), Error> {
        let entry = writer::ExportLogEntry {
            export_id: report.export_id,
            created_at_ms: now_ms(),
            scope,
            format: format.name(),
            from_ms,
            to_ms,
            out_dir: report.out_dir.display().to_string(),
            sessions: report.sessions,
            participants: report.participants,
            beat_rows: report.beat_rows,
            total_rows: report.total_rows(),
        };
        self.writer
            .call(|reply| Control::LogExport { entry, reply })
    }

    /// Stores a session's report for central sync and the research export (one per session
    /// and report schema), through the writer. See [`SavedReport`] for why it may not be.
    pub fn save_session_report(&self, row: SessionReportRow) -> Result<SavedReport, Error> {
        let created_at_ms = now_ms();
        self.writer.call(|reply| Control::SaveReport {
            row: Box::new(row),
            created_at_ms,
            reply,
        })
    }

    /// Waits until every record queued so far is committed.
    pub fn flush(&self) -> Result<(), Error> {
        self.writer.flush()
    }

    /// Commits what is queued and stops the writer thread. Handles still held elsewhere get
    /// [`crate::SendError::Closed`] afterwards.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), Error> {
        if let Some(thread) = self.thread.take() {
            self.writer.shutdown();
            thread.join().map_err(|_| Error::WriterStopped)?;
        }
        Ok(())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::error!(%error, "the store's writer did not stop cleanly");
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
