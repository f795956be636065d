//! The REST routes of protocol.md. The original endpoints keep their original JSON; the
//! facilitator's endpoints (behind [`super::auth`]) use the new error shape.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use synchub_protocol::rest::{
    HubInfo, PacerRequest, ParticipantList, ResearchExportBody, ResearchStats, ResearchStatsBody,
    Schedule, ScheduleMode, SessionCommandBody, SessionInfo, SyncSettingsRequest, SyncStatus,
};
use synchub_protocol::{ErrorCode, SessionPhase};
use synchub_session::SessionId;
use synchub_store::{ExportFormat, ExportRequest};

use super::AppState;
use super::error::AppError;
use super::export_files::{read_json_tables, tempfile_dir};
use crate::convert;
use crate::engine_task::AdminCommand;

/// How many sessions `GET /api/sessions` lists (newest first).
const SESSION_LIST_LIMIT: u32 = 100;
/// `GET /api/research/stats` covers the last 30 days, as the original did.
const STATS_WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Refreshes the gauges read from the store and the disk.
    super::health::store_status(&state);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

pub async fn not_found() -> AppError {
    AppError::api(ErrorCode::NotFound, "no such route")
}

fn live_session(state: &AppState) -> Option<SessionInfo> {
    let view = state.engine.view.borrow().clone();
    let session = view.session.as_ref()?;
    let group = view
        .group
        .clone()
        .filter(|group| group.session_id == session.session_id);
    Some(match group {
        Some(group) => convert::live_session_info(session, &group),
        None => {
            let mut info = convert::live_session_info(session, &convert::empty_group(session));
            info.group_metrics.timestamp = convert::wire_ms(state.engine.clock.wall_ms());
            info
        }
    })
}

pub async fn current_session(State(state): State<AppState>) -> Result<Json<SessionInfo>, AppError> {
    live_session(&state)
        .map(Json)
        .ok_or(AppError::LegacyNotFound("No active session found"))
}

/// Runs a blocking store query off the async threads.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, synchub_store::Error> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("store query task: {error}")))?
        .map_err(AppError::from)
}

pub async fn list_sessions(
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionInfo>>, AppError> {
    let store = state.store.clone();
    // Flushed first, so a list read after a command (end, start) shows its effect.
    let stored = blocking(move || {
        store.flush()?;
        store.reader()?.recent_sessions(SESSION_LIST_LIMIT)
    })
    .await?;
    let live = live_session(&state);
    let mut sessions: Vec<SessionInfo> = stored
        .iter()
        .map(|overview| match &live {
            Some(live) if live.session_id == overview.session_id.to_string() => live.clone(),
            _ => convert::stored_session_info(overview),
        })
        .collect();
    // The running session is listed even before the store has committed its first row.
    if let Some(live) = live
        && !sessions
            .iter()
            .any(|session| session.session_id == live.session_id)
    {
        sessions.insert(0, live);
    }
    Ok(Json(sessions))
}

pub async fn session_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionInfo>, AppError> {
    const NOT_FOUND: &str = "Session not found";
    if let Some(live) = live_session(&state).filter(|live| live.session_id == id) {
        return Ok(Json(live));
    }
    let session_id = parse_session_id(&id).ok_or(AppError::LegacyNotFound(NOT_FOUND))?;
    let store = state.store.clone();
    let detail = blocking(move || {
        store.flush()?;
        store.reader()?.session(session_id)
    })
    .await?;
    detail
        .map(|detail| Json(convert::stored_session_info(&detail.overview)))
        .ok_or(AppError::LegacyNotFound(NOT_FOUND))
}

fn parse_session_id(text: &str) -> Option<SessionId> {
    uuid::Uuid::parse_str(text).ok().map(SessionId)
}

pub async fn hub_info(State(state): State<AppState>) -> Json<HubInfo> {
    let room = state.room();
    let schedule = state
        .engine
        .view
        .borrow()
        .schedule
        .map_or(Schedule::ORIGINAL, |schedule| {
            convert::schedule_to_wire(&schedule)
        });
    Json(HubInfo {
        name: room.name,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        room_code: room.code,
        join_url: state.join_url(),
        schedule,
        store: super::health::store_status(&state),
        sync: state.central.status(),
    })
}

/// `PUT /api/sync {databaseUrl, everySecs?}`: where stored sessions go from now on (`null`: off).
pub async fn put_sync(
    State(state): State<AppState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<SyncStatus>, AppError> {
    let Json(body) =
        body.map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let request = SyncSettingsRequest::decode(&body)
        .map_err(|error| AppError::api(error.code(), error.to_string()))?;
    state
        .central
        .configure(
            request.database_url,
            request.every_secs.map(std::time::Duration::from_secs),
        )
        .await
        .map_err(|error| match error {
            crate::central::SettingsError::BadUrl(_) => {
                AppError::api(ErrorCode::InvalidPayload, error.to_string())
            }
            crate::central::SettingsError::Save(_) => AppError::Internal(error.into()),
        })?;
    Ok(Json(state.central.status()))
}

/// `POST /api/sync`: sync now rather than at the next interval.
pub async fn sync_now(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    if !state.central.sync_now() {
        return Err(AppError::api(
            ErrorCode::Conflict,
            "no central database is configured; set one with PUT /api/sync {\"databaseUrl\": …} or start the hub with --database-url",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(state.central.status())))
}

fn engine_gone() -> AppError {
    AppError::Internal(anyhow::anyhow!("the engine task has stopped"))
}

fn engine_refusal(error: &synchub_session::EngineError) -> AppError {
    AppError::api(convert::engine_error_code(error), error.to_string())
}

pub async fn put_schedule(
    State(state): State<AppState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Schedule>, AppError> {
    let Json(body) =
        body.map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let schedule =
        Schedule::decode(&body).map_err(|error| AppError::api(error.code(), error.to_string()))?;
    if schedule.mode == ScheduleMode::Rolling
        && schedule.phases.total_secs() != u64::from(schedule.slot_minutes) * 60
    {
        return Err(AppError::api(
            ErrorCode::InvalidPayload,
            "PUT /api/schedule: field `phases`: a rolling slot is its phases back to back, so preparation + active + integration must equal slotMinutes × 60",
        ));
    }
    let domain = convert::schedule_from_wire(&schedule);
    state
        .engine
        .admin(|reply| AdminCommand::SetSchedule(domain, reply))
        .await
        .ok_or_else(engine_gone)?
        .map_err(|error| engine_refusal(&error))?;
    Ok(Json(schedule))
}

/// `PUT /api/pacer`: the room's breathing pace; everyone gets the new `pacer` at once.
pub async fn put_pacer(
    State(state): State<AppState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<synchub_protocol::Pacer>, AppError> {
    let Json(body) =
        body.map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let request = PacerRequest::decode(&body)
        .map_err(|error| AppError::api(error.code(), error.to_string()))?;
    let pacer = state
        .engine
        .admin(|reply| AdminCommand::SetPacer {
            breaths_per_min: request.breaths_per_min,
            inhale_ratio: request.inhale_ratio,
            reply,
        })
        .await
        .ok_or_else(engine_gone)?
        .map_err(|error| engine_refusal(&error))?;
    Ok(Json(convert::pacer(&pacer)))
}

pub async fn start_session(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let session_id = state
        .engine
        .admin(AdminCommand::StartSession)
        .await
        .ok_or_else(engine_gone)?
        .map_err(|error| engine_refusal(&error))?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCommandBody {
            phase: SessionPhase::Preparation,
            session_id: session_id.to_string(),
        }),
    ))
}

pub async fn advance_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionCommandBody>, AppError> {
    let session_id = parse_session_id(&id)
        .ok_or_else(|| AppError::api(ErrorCode::NotFound, "no such session"))?;
    let phase = state
        .engine
        .admin(|reply| AdminCommand::Advance(session_id, reply))
        .await
        .ok_or_else(engine_gone)?
        .map_err(|error| engine_refusal(&error))?;
    Ok(Json(SessionCommandBody {
        phase: convert::phase(phase),
        session_id: id,
    }))
}

pub async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionCommandBody>, AppError> {
    let session_id = parse_session_id(&id)
        .ok_or_else(|| AppError::api(ErrorCode::NotFound, "no such session"))?;
    state
        .engine
        .admin(|reply| AdminCommand::End(session_id, reply))
        .await
        .ok_or_else(engine_gone)?
        .map_err(|error| engine_refusal(&error))?;
    Ok(Json(SessionCommandBody {
        phase: SessionPhase::Complete,
        session_id: id,
    }))
}

pub async fn participants(State(state): State<AppState>) -> Json<ParticipantList> {
    let view = state.engine.view.borrow().clone();
    Json(ParticipantList {
        participants: view
            .participants
            .iter()
            .map(|participant| {
                let mut summary = convert::participant_summary(participant);
                if let Some((_, code)) = view
                    .strap_codes
                    .iter()
                    .find(|(id, _)| *id == participant.participant_id)
                {
                    summary.strap_battery = state.straps.battery_of_code(code);
                    summary.strap_code = Some(code.clone());
                }
                summary
            })
            .collect(),
    })
}

pub async fn research_stats(
    State(state): State<AppState>,
) -> Result<Json<ResearchStatsBody>, AppError> {
    let store = state.store.clone();
    let since_ms = state.engine.clock.wall_ms() - STATS_WINDOW_MS;
    let (sessions, counts) = blocking(move || {
        let reader = store.reader()?;
        Ok((reader.recent_sessions(u32::MAX)?, reader.research_stats()?))
    })
    .await?;
    let recent: Vec<_> = sessions
        .iter()
        .filter(|session| session.started_at_ms >= since_ms)
        .collect();
    let averages: Vec<f64> = recent
        .iter()
        .filter_map(|session| session.summary.as_ref()?.average_coherence)
        .collect();
    let peaks = recent
        .iter()
        .filter_map(|session| session.summary.as_ref()?.peak_coherence);
    #[allow(clippy::cast_precision_loss)]
    let mean = |values: &[f64]| {
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let participant_counts: Vec<f64> = recent
        .iter()
        .map(|session| f64::from(session.participants))
        .collect();
    Ok(Json(ResearchStatsBody {
        success: true,
        stats: ResearchStats {
            total_sessions: u64::try_from(recent.len()).unwrap_or(u64::MAX),
            total_users: counts.users,
            avg_group_coherence: mean(&averages),
            max_group_coherence: peaks.fold(0.0, f64::max),
            avg_participants: mean(&participant_counts),
        },
    }))
}

/// `?start&end` (ms since the Unix epoch, both optional) and `format` (`json`, the default,
/// `csv` or `parquet`).
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    start: Option<i64>,
    end: Option<i64>,
    format: Option<String>,
}

/// `GET /api/research/export`: consented data only. JSON comes back as one document (the
/// original endpoint's shape, with the tables inside); CSV and Parquet are one file per
/// table, so they download as a zip of those files.
pub async fn research_export(
    State(state): State<AppState>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, AppError> {
    let Query(query) = query
        .map_err(|rejection| AppError::api(ErrorCode::InvalidPayload, rejection.body_text()))?;
    let format = match query.format.as_deref() {
        None | Some("json") => ExportFormat::Json,
        Some("csv") => ExportFormat::Csv,
        Some("parquet") => ExportFormat::Parquet,
        Some(other) => {
            return Err(AppError::api(
                ErrorCode::InvalidPayload,
                format!("format: `{other}` is not an export format; use json, csv or parquet"),
            ));
        }
    };
    let request = ExportRequest {
        from_ms: query.start,
        to_ms: query.end,
        format,
        out_dir: std::path::PathBuf::new(),
    };
    if format == ExportFormat::Json {
        return Ok(Json(json_export(&state, request).await?).into_response());
    }
    super::export_zip::download(&state, request).await
}

async fn json_export(
    state: &AppState,
    mut request: ExportRequest,
) -> Result<ResearchExportBody, AppError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<ResearchExportBody> {
        request.out_dir = tempfile_dir()?;
        let report = store.export(&request, &mut |_| {})?;
        let tables = read_json_tables(&report);
        let _ = std::fs::remove_dir_all(&request.out_dir);
        let tables = tables?;
        Ok(ResearchExportBody {
            export_id: report.export_id.to_string(),
            participants: report.participants,
            sessions: report.sessions,
            success: true,
            tables,
        })
    })
    .await
    .map_err(|error| AppError::Internal(anyhow::anyhow!("export task: {error}")))?
    .map_err(AppError::Internal)
}
