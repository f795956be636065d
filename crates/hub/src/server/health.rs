//! What the hub says about itself: `GET /health` (200 while it can do its job, 503 with the
//! reasons while it cannot), the store's part of `GET /api/hub`, and the store gauges of
//! `/metrics`, all read from the same sources: the store's health (set by its writer thread),
//! the data directory's disk, the engine task's input channel and the held-back records.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use synchub_protocol::rest::{
    Health, HealthProblem, HealthProblemCode, StoreFaultInfo, StoreFaultKind, StoreStatus,
};
use synchub_store::{StoreFaultKind as FaultKind, StoreStatus as StoreHealthStatus};

use super::AppState;
use crate::convert;
use crate::engine_task::BACKLOG_LIMIT;
use crate::metrics::Metrics;

/// `GET /health`: 200 `{"status":"ok"}`, or 503 `{"status":"unavailable","problems":[…]}`.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let problems = problems(&state);
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "unavailable"
            }
            .to_owned(),
            timestamp: convert::wire_ms(state.engine.clock.wall_ms()),
            problems,
        }),
    )
}

/// Everything that keeps the hub from doing its job right now.
pub fn problems(state: &AppState) -> Vec<HealthProblem> {
    let mut problems = Vec::new();
    if state.engine.inputs.is_closed() {
        problems.push(HealthProblem {
            code: HealthProblemCode::EngineStopped,
            message: "the session engine stopped; the hub is exiting".to_owned(),
            advice: "restart the hub (a service manager or the desktop app does it); the session resumes and nothing acknowledged is lost".to_owned(),
        });
    }
    let store = store_status(state);
    if let Some(fault) = &store.fault {
        problems.push(HealthProblem {
            code: HealthProblemCode::StoreCannotWrite,
            message: format!(
                "the store cannot write ({}): {}; new beats are refused and phones keep them",
                fault_name(fault.kind),
                fault.message
            ),
            advice: fault.advice.clone(),
        });
    }
    if let Some(free) = store.free_disk_bytes
        && free < store.min_free_disk_bytes
    {
        problems.push(HealthProblem {
            code: HealthProblemCode::DiskNearlyFull,
            message: format!(
                "{} MB free on the data directory's disk, under the {} MB threshold",
                free / (1024 * 1024),
                store.min_free_disk_bytes / (1024 * 1024)
            ),
            advice: "free space on that disk before it fills; when it is full the hub stops storing and refuses beats".to_owned(),
        });
    }
    if store.backlog >= BACKLOG_LIMIT as u64 {
        problems.push(HealthProblem {
            code: HealthProblemCode::StoreBacklogFull,
            message: format!(
                "{} records wait for the store; scores and group snapshots are being dropped",
                store.backlog
            ),
            advice: "the store has been failing or slow for long; see the store's fault, and check the disk".to_owned(),
        });
    }
    problems
}

/// The store's state for `GET /api/hub`; refreshes the store gauges of `/metrics` on the way.
pub fn store_status(state: &AppState) -> StoreStatus {
    let health = state.store.health().status();
    let disk = state.store.disk_space().ok();
    let size_bytes = std::fs::metadata(state.store.database_path())
        .ok()
        .map(|metadata| metadata.len());
    let metrics = &state.metrics;
    Metrics::set(&metrics.store_write_errors, health.write_errors_total);
    Metrics::set(&metrics.store_writable, u64::from(health.writable));
    if let Some(disk) = disk {
        Metrics::set(&metrics.free_disk_bytes, disk.free_bytes);
    }
    let min_free_disk_bytes = state.min_free_disk_bytes;
    let disk_ok = disk.is_none_or(|disk| disk.free_bytes >= min_free_disk_bytes);
    StoreStatus {
        ok: health.writable && disk_ok,
        queue_depth: metrics.store_queue_depth.load(Ordering::Relaxed),
        backlog: metrics.store_backlog.load(Ordering::Relaxed),
        size_bytes,
        free_disk_bytes: disk.map(|disk| disk.free_bytes),
        min_free_disk_bytes,
        fault: fault_info(&health),
        write_errors_total: health.write_errors_total,
        records_dropped: metrics.store_records_dropped.load(Ordering::Relaxed),
    }
}

fn fault_info(health: &StoreHealthStatus) -> Option<StoreFaultInfo> {
    let fault = health.fault.as_ref()?;
    Some(StoreFaultInfo {
        kind: match fault.kind {
            FaultKind::DiskFull => StoreFaultKind::DiskFull,
            FaultKind::ReadOnly => StoreFaultKind::ReadOnly,
            FaultKind::Locked => StoreFaultKind::Locked,
            FaultKind::Io => StoreFaultKind::IoError,
            FaultKind::Corrupt => StoreFaultKind::Corrupt,
        },
        message: fault.message.clone(),
        advice: fault.kind.advice().to_owned(),
        since_ms: convert::wire_ms(fault.since_ms),
    })
}

fn fault_name(kind: StoreFaultKind) -> &'static str {
    match kind {
        StoreFaultKind::DiskFull => "disk full",
        StoreFaultKind::ReadOnly => "read-only",
        StoreFaultKind::Locked => "locked by another program",
        StoreFaultKind::IoError => "I/O error",
        StoreFaultKind::Corrupt => "damaged database",
        _ => "unknown fault",
    }
}
