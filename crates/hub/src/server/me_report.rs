//! `GET /api/me/report`: the participant's own report, authorised by their resume token —
//! their coherence curve against the room's median and their change from baseline, for the
//! join page once the session is over.
//!
//! The engine forgets a session's tokens when it completes, which is exactly when this is
//! wanted, so the token is looked up in the store instead (by its hash, for 24 hours after the
//! session ended; `synchub_store`'s `report_token.rs` says why that way and that long). The
//! reply is cut from the session's report (`synchub_report::Report::personal`): the holder's
//! own scores and the room's medians, never another participant's rows.

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

pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ParticipantReportBody>, AppError> {
    let token = presented_token(&headers)?;
    let now_ms = state.engine.clock.hub_ms();
    let store = state.store.clone();
    let built = tokio::task::spawn_blocking(
        move || -> anyhow::Result<Option<(SessionId, PersonalReport)>> {
            // A participant asks the moment `session_complete` arrives: let the store catch up
            // with the session's last rows (and its end) first.
            store.flush()?;
            let Some(owner) = store.reader()?.report_token_owner(&token, now_ms)? else {
                return Ok(None);
            };
            let database = store.database_path();
            let Some(slot) =
                SessionData::slot_of(database, owner.session_id, owner.participant_id)?
            else {
                return Ok(None);
            };
            let data = SessionData::load_from_database(database, owner.session_id)?;
            let report = Report::build(&data, crate::report::seed_of(owner.session_id));
            Ok(Some((owner.session_id, report.personal(&data, slot))))
        },
    )
    .await
    .map_err(|error| AppError::Internal(anyhow::anyhow!("report task: {error}")))??;
    let (session_id, personal) = built.ok_or_else(|| {
        AppError::api(
            ErrorCode::Unauthorized,
            "unknown or expired resume token (a token opens its holder's report while the \
             session runs and for 24 hours after it ended)",
        )
    })?;
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
