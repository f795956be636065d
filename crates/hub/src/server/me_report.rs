//! `GET /api/me/report`: the participant's own report, authorised by their resume token —
//! their coherence curve against the room's median and their change from baseline, for the
//! join page once the session is over.
//!
//! The engine forgets a session's tokens when it completes, which is exactly when this is
//! wanted, so the token is looked up in the store instead (by its hash, for 24 hours after the
//! session ended; `synchub_store`'s `report_token.rs` says why that way and that long). The
//! reply is cut from the session's report (`synchub_report::Report::personal`): the holder's
//! own scores and the room's medians, never another participant's rows.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use synchub_protocol::ErrorCode;
use synchub_protocol::rest::{
    ChangeValues, ChangeWindow, ChangeWindowKind, CurvePoint, MissingChange, ParticipantChange,
    ParticipantReportBody, ReportPhase, RoomMedianPoint,
};
use synchub_report::{
    ExclusionReason, MIN_ROOM_PARTICIPANTS, PersonalReport, Phase, Report, SessionData, Window,
    WindowKind,
};
use synchub_session::SessionId;
use synchub_store::REPORT_TOKEN_LIFETIME_MS;

use super::AppState;
use super::error::AppError;
use super::me::presented_token;
use crate::convert::wire_ms;
use crate::metrics::Metrics;

/// A running session's report is built again for a participant at most this often.
const RUNNING_REBUILD_MS: i64 = 10_000;

/// The report of the session participants last asked about, built once for all of them.
///
/// When a session ends, every join page asks at once (on `session_complete`), and building the
/// report loads the whole session: about 0.7 s for 200 participants × 15 minutes
/// (`docs/performance.md`). Built per request, that is minutes of work for a hub still serving
/// the room. An ended session does not change, so its report is kept until a participant asks
/// about another session; a running one's is rebuilt at most every [`RUNNING_REBUILD_MS`].
/// One at a time: callers wait for the build in progress instead of starting their own.
#[derive(Default)]
pub struct PersonalReports(tokio::sync::Mutex<Option<Arc<BuiltReport>>>);

impl std::fmt::Debug for PersonalReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalReports").finish_non_exhaustive()
    }
}

struct BuiltReport {
    session_id: SessionId,
    built_at_ms: i64,
    data: SessionData,
    report: Report,
}

impl BuiltReport {
    fn still_serves(&self, session_id: SessionId, now_ms: i64) -> bool {
        self.session_id == session_id
            && (self.data.session.ended_at_ms.is_some()
                || now_ms - self.built_at_ms < RUNNING_REBUILD_MS)
    }
}

impl PersonalReports {
    async fn get(
        &self,
        state: &AppState,
        session_id: SessionId,
        now_ms: i64,
    ) -> Result<Arc<BuiltReport>, AppError> {
        let mut latest = self.0.lock().await;
        if let Some(built) = latest
            .as_ref()
            .filter(|built| built.still_serves(session_id, now_ms))
        {
            return Ok(built.clone());
        }
        let store = state.store.clone();
        let built = tokio::task::spawn_blocking(move || -> anyhow::Result<BuiltReport> {
            let data = SessionData::load_from_database(store.database_path(), session_id)?;
            let report = Report::build(&data, crate::report::seed_of(session_id));
            Ok(BuiltReport {
                session_id,
                built_at_ms: now_ms,
                data,
                report,
            })
        })
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("report task: {error}")))??;
        Metrics::increment(&state.metrics.participant_report_builds);
        let built = Arc::new(built);
        *latest = Some(built.clone());
        Ok(built)
    }
}

pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ParticipantReportBody>, AppError> {
    let token = presented_token(&headers)?;
    let now_ms = state.engine.clock.hub_ms();
    let store = state.store.clone();
    let holder =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(SessionId, u32)>> {
            // A participant asks the moment `session_complete` arrives: let the store catch up
            // with the session's last rows (and its end) first.
            store.flush()?;
            let Some(owner) = store.reader()?.report_token_owner(&token, now_ms)? else {
                return Ok(None);
            };
            let slot = SessionData::slot_of(
                store.database_path(),
                owner.session_id,
                owner.participant_id,
            )?;
            Ok(slot.map(|slot| (owner.session_id, slot)))
        })
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("report task: {error}")))??;
    let (session_id, slot) = holder.ok_or_else(|| {
        AppError::api(
            ErrorCode::Unauthorized,
            "unknown or expired resume token (a token opens its holder's report while the \
             session runs and for 24 hours after it ended)",
        )
    })?;
    let built = state
        .personal_reports
        .get(&state, session_id, now_ms)
        .await?;
    let personal = tokio::task::spawn_blocking(move || built.report.personal(&built.data, slot))
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("report task: {error}")))?;
    Ok(Json(body_of(session_id, &personal)))
}

fn body_of(session_id: SessionId, personal: &PersonalReport) -> ParticipantReportBody {
    let change = &personal.change;
    let window = |window: Window| ChangeWindow {
        kind: window_kind(window.kind),
        start_secs: window.start_secs,
        end_secs: window.end_secs,
    };
    ParticipantReportBody {
        session_id: session_id.to_string(),
        started_at: wire_ms(personal.started_at_ms),
        ended_at: personal.ended_at_ms.map(wire_ms),
        available_until: personal
            .ended_at_ms
            .map(|ended_ms| wire_ms(ended_ms.saturating_add(REPORT_TOKEN_LIFETIME_MS))),
        phases: personal
            .phases
            .iter()
            .map(|span| ReportPhase {
                phase: phase(span.phase),
                start_secs: span.start_secs,
                end_secs: span.end_secs,
            })
            .collect(),
        had_heart_data: personal.had_heart_data,
        your_curve: personal
            .own
            .iter()
            .map(|own| CurvePoint {
                at_secs: own.at_secs,
                coherence: own.score,
            })
            .collect(),
        room_median: personal
            .room
            .iter()
            .map(|point| RoomMedianPoint {
                at_secs: point.at_secs,
                counted: point.active,
                median: point.median,
            })
            .collect(),
        min_room_participants: MIN_ROOM_PARTICIPANTS,
        change: ParticipantChange {
            baseline: change.windows.map(|windows| window(windows.baseline)),
            end: change.windows.map(|windows| window(windows.end)),
            yours: change.own.map(|own| ChangeValues {
                baseline: own.baseline,
                end: own.end,
                change: own.change,
            }),
            yours_missing: change.own_excluded.map(missing),
            room_median_change: change.room_median_change,
            room_compared: change.room_compared,
        },
    }
}

fn phase(phase: Phase) -> synchub_protocol::SessionPhase {
    use synchub_protocol::SessionPhase as Wire;
    match phase {
        Phase::Preparation => Wire::Preparation,
        Phase::Active => Wire::Active,
        Phase::Integration => Wire::Integration,
        Phase::Complete => Wire::Complete,
    }
}

fn window_kind(kind: WindowKind) -> ChangeWindowKind {
    match kind {
        WindowKind::Preparation => ChangeWindowKind::Preparation,
        WindowKind::FirstTwoMinutesOfActive => ChangeWindowKind::FirstTwoMinutesOfActive,
        WindowKind::LastFiveMinutesOfActive => ChangeWindowKind::LastFiveMinutesOfActive,
        WindowKind::WholeActive => ChangeWindowKind::WholeActive,
        WindowKind::ActiveAfterBaseline => ChangeWindowKind::ActiveAfterBaseline,
    }
}

fn missing(reason: ExclusionReason) -> MissingChange {
    match reason {
        ExclusionReason::TooLittleBaselineData => MissingChange::TooLittleBaselineData,
        ExclusionReason::TooLittleEndData => MissingChange::TooLittleEndData,
        ExclusionReason::TooLittleDataInBoth => MissingChange::TooLittleDataInBoth,
    }
}
