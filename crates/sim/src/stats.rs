//! What a crowd of simulated participants observed, shared by all their tasks.
//!
//! Counters are atomics (cheap enough for thousands of tasks on one runtime); latencies go into
//! two shared HDR histograms behind short-held mutexes, because one histogram per participant
//! would cost tens of megabytes at 10 000 participants. Latencies are only recorded while
//! [`CrowdStats::set_measuring`] is on, so a benchmark can leave out its ramp-up.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
const HIGHEST_LATENCY_US: u64 = 600_000_000;

/// Client-side protocol violations go into the error counts with this prefix, next to the
/// hub's own `error` codes.
pub const SIM_ERROR_PREFIX: &str = "sim.";

/// Counters and latency histograms of one crowd.
#[derive(Debug)]
pub struct CrowdStats {
    /// Participants asked for.
    pub requested: AtomicU64,
    /// Participants that received `session_joined` at least once.
    pub joined: AtomicU64,
    /// Participants whose connection is up right now.
    pub connected_now: AtomicU64,
    /// Participants that gave up connecting.
    pub connect_failures: AtomicU64,
    /// Reconnections after a dropped connection.
    pub reconnects: AtomicU64,
    /// Participants leaving the session on purpose (`leave_session`) before joining again.
    pub leaves: AtomicU64,
    /// New joins after such a leave.
    pub rejoins: AtomicU64,
    /// RR batches created (each seq once, however often it was resent).
    pub batches_sent: AtomicU64,
    /// RR batches acknowledged by `rr_ack` (each seq once).
    pub batches_acked: AtomicU64,
    /// RR batches sent again after a reconnect.
    pub batches_resent: AtomicU64,
    /// `update_coherence` messages sent by score-only participants and original web clients.
    pub scores_sent: AtomicU64,
    /// Original web clients' scores followed by a `group_metrics_update` (their answer).
    pub scores_answered: AtomicU64,
    /// `group_metrics_update` events received.
    pub group_updates: AtomicU64,
    /// Every event sent to the hub.
    pub messages_out: AtomicU64,
    /// Every event received from the hub.
    pub messages_in: AtomicU64,
    measuring: AtomicBool,
    errors: Mutex<BTreeMap<String, u64>>,
    ack_us: Mutex<Histogram<u64>>,
    broadcast_us: Mutex<Histogram<u64>>,
    score_answer_us: Mutex<Histogram<u64>>,
}

impl Default for CrowdStats {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts (low ≥ 1, high ≥ 2·low, sigfig ≤ 5).
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_US, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

impl CrowdStats {
    /// Empty stats, not measuring.
    pub fn new() -> Self {
        CrowdStats {
            requested: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            connected_now: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            leaves: AtomicU64::new(0),
            rejoins: AtomicU64::new(0),
            batches_sent: AtomicU64::new(0),
            batches_acked: AtomicU64::new(0),
            batches_resent: AtomicU64::new(0),
            scores_sent: AtomicU64::new(0),
            scores_answered: AtomicU64::new(0),
            group_updates: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            measuring: AtomicBool::new(false),
            errors: Mutex::new(BTreeMap::new()),
            ack_us: Mutex::new(latency_histogram()),
            broadcast_us: Mutex::new(latency_histogram()),
            score_answer_us: Mutex::new(latency_histogram()),
        }
    }

    /// Starts or stops recording latencies.
    pub fn set_measuring(&self, measuring: bool) {
        self.measuring.store(measuring, Ordering::Relaxed);
    }

    /// Whether latencies are being recorded.
    pub fn is_measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    /// Adds one to a counter.
    pub fn increment(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one `error` event from the hub (or a `sim.`-prefixed client-side violation).
    pub fn record_error(&self, code: &str) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *errors.entry(code.to_owned()).or_insert(0) += 1;
    }

    /// Records a send → `rr_ack` latency (only while measuring).
    pub fn record_ack_latency(&self, latency: Duration) {
        if self.is_measuring() {
            record(&self.ack_us, latency);
        }
    }

    /// Records a hub tick → `group_metrics_update` arrival latency (only while measuring).
    pub fn record_broadcast_latency(&self, latency: Duration) {
        if self.is_measuring() {
            record(&self.broadcast_us, latency);
        }
    }

    /// Records an original web client's `update_coherence` → `group_metrics_update` latency
    /// (only while measuring).
    pub fn record_score_answer_latency(&self, latency: Duration) {
        if self.is_measuring() {
            record(&self.score_answer_us, latency);
        }
    }

    /// A consistent-enough copy of everything, for progress lines and summaries.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            requested: load(&self.requested),
            joined: load(&self.joined),
            connected_now: load(&self.connected_now),
            connect_failures: load(&self.connect_failures),
            reconnects: load(&self.reconnects),
            leaves: load(&self.leaves),
            rejoins: load(&self.rejoins),
            batches_sent: load(&self.batches_sent),
            batches_acked: load(&self.batches_acked),
            batches_resent: load(&self.batches_resent),
            scores_sent: load(&self.scores_sent),
            scores_answered: load(&self.scores_answered),
            group_updates: load(&self.group_updates),
            messages_out: load(&self.messages_out),
            messages_in: load(&self.messages_in),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone(),
            ack_ms: LatencySummary::of(&self.ack_us),
            broadcast_ms: LatencySummary::of(&self.broadcast_us),
            score_answer_ms: LatencySummary::of(&self.score_answer_us),
        }
    }
}

fn record(histogram: &Mutex<Histogram<u64>>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_LATENCY_US);
    let mut histogram = histogram
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    // In range by the clamp above, so this cannot fail.
    let _ = histogram.record(micros);
}

/// Percentiles of one latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

impl LatencySummary {
    fn of(histogram: &Mutex<Histogram<u64>>) -> Self {
        let histogram = histogram
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// A copy of [`CrowdStats`] at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsSnapshot {
    /// Participants asked for.
    pub requested: u64,
    /// Participants that received `session_joined` at least once.
    pub joined: u64,
    /// Participants connected right now.
    pub connected_now: u64,
    /// Participants that gave up connecting.
    pub connect_failures: u64,
    /// Reconnections after a dropped connection.
    pub reconnects: u64,
    /// See [`CrowdStats::leaves`].
    pub leaves: u64,
    /// See [`CrowdStats::rejoins`].
    pub rejoins: u64,
    /// RR batches created.
    pub batches_sent: u64,
    /// RR batches acknowledged.
    pub batches_acked: u64,
    /// RR batches sent again after a reconnect.
    pub batches_resent: u64,
    /// `update_coherence` messages sent.
    pub scores_sent: u64,
    /// Original web clients' scores answered by `group_metrics_update`.
    pub scores_answered: u64,
    /// `group_metrics_update` events received.
    pub group_updates: u64,
    /// Events sent to the hub.
    pub messages_out: u64,
    /// Events received from the hub.
    pub messages_in: u64,
    /// `error` codes from the hub (and `sim.` client-side violations) with their counts.
    pub errors: BTreeMap<String, u64>,
    /// Send → `rr_ack`.
    pub ack_ms: LatencySummary,
    /// Hub tick (`groupMetrics.timestamp`) → `group_metrics_update` arrival, in hub time.
    pub broadcast_ms: LatencySummary,
    /// Original web client: `update_coherence` sent → `group_metrics_update` received.
    pub score_answer_ms: LatencySummary,
}

impl StatsSnapshot {
    /// Total number of errors of every code.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One line for a progress display.
    pub fn progress_line(&self, elapsed: Duration) -> String {
        format!(
            "sim: {:>4}s connected {}/{} joined {} reconnects {} leaves {} rejoins {} sent {} acked {} scores {} groupUpdates {} errors {} ack p99 {:.1} ms broadcast p99 {:.1} ms",
            elapsed.as_secs(),
            self.connected_now,
            self.requested,
            self.joined,
            self.reconnects,
            self.leaves,
            self.rejoins,
            self.batches_sent,
            self.batches_acked,
            self.scores_sent,
            self.group_updates,
            self.error_count(),
            self.ack_ms.p99_ms,
            self.broadcast_ms.p99_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_recorded_only_while_measuring() {
        let stats = CrowdStats::new();
        stats.record_ack_latency(Duration::from_millis(500));
        stats.set_measuring(true);
        for millis in 1..=100 {
            stats.record_ack_latency(Duration::from_millis(millis));
        }
        let summary = stats.snapshot().ack_ms;
        assert_eq!(summary.count, 100);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p99_ms - 99.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
        assert_eq!(stats.snapshot().broadcast_ms, LatencySummary::default());
    }

    #[test]
    fn errors_are_counted_by_code() {
        let stats = CrowdStats::new();
        stats.record_error("rate_limited");
        stats.record_error("rate_limited");
        stats.record_error("sim.unexpected_ack");
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.errors["rate_limited"], 2);
        assert_eq!(snapshot.error_count(), 3);
    }
}
