//! The operator's figures at `GET /metrics`, in the Prometheus text format.
//!
//! A handful of atomics written by the engine task and the connection handlers; rendering is a
//! string built on request. No metrics crate: the set is small and fixed, and the text format is
//! a few lines.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use synchub_protocol::ErrorCode;

/// Every counter and gauge the hub exports.
#[derive(Debug, Default)]
pub struct Metrics {
    pub ws_connections: AtomicU64,
    pub socketio_connections: AtomicU64,
    pub participants: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub broadcasts: AtomicU64,
    /// Sleeps of the computer the engine task noticed (the session went on across each).
    pub clock_sleeps: AtomicU64,
    /// Steps of the system's wall clock the engine task noticed (hub time did not follow).
    pub clock_steps: AtomicU64,
    /// Connections closed because they did not read their messages fast enough.
    pub slow_client_disconnects: AtomicU64,
    /// Records waiting for the store's writer (its channel plus the engine task's backlog).
    pub store_queue_depth: AtomicU64,
    /// Times the engine task found the store's queue full (the record waits, never dropped).
    pub store_backpressure_events: AtomicU64,
    /// `rr_intervals` refused because the store is behind.
    pub store_refused_batches: AtomicU64,
    /// Records the engine task holds back while the writer's queue is full.
    pub store_backlog: AtomicU64,
    /// Derived records dropped at the backlog's bound.
    pub store_records_dropped: AtomicU64,
    /// Beat batches the store reported as not stored.
    pub store_batches_rejected: AtomicU64,
    /// Set from the store's health when `/metrics` is read: failed write attempts.
    pub store_write_errors: AtomicU64,
    /// Set when `/metrics` is read: 1 while the store can write.
    pub store_writable: AtomicU64,
    /// Set when `/metrics` is read: free bytes on the data directory's disk.
    pub free_disk_bytes: AtomicU64,
    pub store_commits: AtomicU64,
    pub store_commit_micros_total: AtomicU64,
    pub store_rows_committed: AtomicU64,
    pub rr_acks: AtomicU64,
    /// Connections closed at once, and joins refused, because their address held its share.
    pub connections_refused: AtomicU64,
    /// Sockets closed for a missing first frame, an unanswered ping or a stuck write.
    pub timeouts: AtomicU64,
    /// Session reports built for `GET /api/me/report` (one serves every participant).
    pub participant_report_builds: AtomicU64,
    errors: Mutex<Vec<(ErrorCode, u64)>>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn increment(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn decrement(counter: &AtomicU64) {
        counter.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// One `error` event sent to a client, by code.
    pub fn count_error(&self, code: ErrorCode) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match errors.iter_mut().find(|(known, _)| *known == code) {
            Some((_, count)) => *count += 1,
            None => errors.push((code, 1)),
        }
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(2048);
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "synchub_ws_connections",
            "gauge",
            "Open plain WebSocket connections.",
            get(&self.ws_connections),
        );
        metric(
            "synchub_socketio_connections",
            "gauge",
            "Open Socket.IO connections.",
            get(&self.socketio_connections),
        );
        metric(
            "synchub_participants",
            "gauge",
            "Participants in the current session.",
            get(&self.participants),
        );
        metric(
            "synchub_messages_in_total",
            "counter",
            "Client messages received.",
            get(&self.messages_in),
        );
        metric(
            "synchub_messages_out_total",
            "counter",
            "Messages sent to clients.",
            get(&self.messages_out),
        );
        metric(
            "synchub_broadcasts_total",
            "counter",
            "Broadcasts serialised (once each).",
            get(&self.broadcasts),
        );
        metric(
            "synchub_clock_sleeps_total",
            "counter",
            "Sleeps of the computer noticed (the session went on with each as a gap).",
            get(&self.clock_sleeps),
        );
        metric(
            "synchub_clock_steps_total",
            "counter",
            "Steps of the system wall clock noticed (hub time did not follow them).",
            get(&self.clock_steps),
        );
        metric(
            "synchub_slow_client_disconnects_total",
            "counter",
            "Connections closed for not reading.",
            get(&self.slow_client_disconnects),
        );
        metric(
            "synchub_store_queue_depth",
            "gauge",
            "Records waiting for the store writer.",
            get(&self.store_queue_depth),
        );
        metric(
            "synchub_store_backpressure_total",
            "counter",
            "Times the store queue was full.",
            get(&self.store_backpressure_events),
        );
        metric(
            "synchub_store_refused_batches_total",
            "counter",
            "RR batches refused because the store was behind.",
            get(&self.store_refused_batches),
        );
        metric(
            "synchub_store_backlog_records",
            "gauge",
            "Records the hub holds while the store's queue is full.",
            get(&self.store_backlog),
        );
        metric(
            "synchub_store_records_dropped_total",
            "counter",
            "Derived records dropped at the backlog bound.",
            get(&self.store_records_dropped),
        );
        metric(
            "synchub_participant_report_builds_total",
            "counter",
            "Session reports built for participants' own reports.",
            get(&self.participant_report_builds),
        );
        metric(
            "synchub_store_batches_rejected_total",
            "counter",
            "Beat batches the store could not take.",
            get(&self.store_batches_rejected),
        );
        metric(
            "synchub_store_write_errors_total",
            "counter",
            "Failed store write attempts (each retry counts).",
            get(&self.store_write_errors),
        );
        metric(
            "synchub_store_writable",
            "gauge",
            "1 while the store can write, 0 while it cannot.",
            get(&self.store_writable),
        );
        metric(
            "synchub_free_disk_bytes",
            "gauge",
            "Free space on the data directory's disk.",
            get(&self.free_disk_bytes),
        );
        metric(
            "synchub_store_commits_total",
            "counter",
            "Store commits.",
            get(&self.store_commits),
        );
        metric(
            "synchub_store_rows_committed_total",
            "counter",
            "Rows committed by the store.",
            get(&self.store_rows_committed),
        );
        metric(
            "synchub_rr_acks_total",
            "counter",
            "rr_ack messages sent.",
            get(&self.rr_acks),
        );
        metric(
            "synchub_connections_refused_total",
            "counter",
            "Connections closed at once, or joins refused: their address held its share.",
            get(&self.connections_refused),
        );
        metric(
            "synchub_socket_timeouts_total",
            "counter",
            "Sockets closed for a missing first frame, an unanswered ping or a stuck write.",
            get(&self.timeouts),
        );
        #[allow(clippy::cast_precision_loss)] // Seconds for display.
        let commit_secs = get(&self.store_commit_micros_total) as f64 / 1e6;
        let _ = writeln!(
            text,
            "# HELP synchub_store_commit_seconds_total Time spent committing.\n# TYPE synchub_store_commit_seconds_total counter\nsynchub_store_commit_seconds_total {commit_secs}"
        );
        let _ = writeln!(
            text,
            "# HELP synchub_errors_total Error events sent to clients, by code.\n# TYPE synchub_errors_total counter"
        );
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (code, count) in errors.iter() {
            let _ = writeln!(text, "synchub_errors_total{{code=\"{code}\"}} {count}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_errors_by_code() {
        let metrics = Metrics::default();
        Metrics::increment(&metrics.messages_in);
        metrics.count_error(ErrorCode::RateLimited);
        metrics.count_error(ErrorCode::RateLimited);
        let text = metrics.render();
        assert!(text.contains("synchub_messages_in_total 1\n"));
        assert!(text.contains("synchub_errors_total{code=\"rate_limited\"} 2\n"));
        assert!(text.contains("# TYPE synchub_participants gauge\n"));
    }
}
