//! The engine's clock figures: how often it ticks, gives feedback and measures synchrony, how
//! long a score counts, and how old or early a beat may be.
//!
//! A leaf module of published constants: the engine's pieces and the running session read
//! them, and the crate root re-exports them for the hub and the tests, so no module has to
//! reach into the engine for a number.

/// Group metrics, room snapshots and group-snapshot records: once per second.
pub const TICK_MS: i64 = 1_000;
/// A score older than this does not count in the group (coherence.md §5).
pub const FRESH_MS: i64 = 15_000;
/// Each connected participant with a fresh score gets `personal_feedback` this often; an
/// `update_coherence` is answered at once and restarts the interval.
pub const FEEDBACK_INTERVAL_MS: i64 = 5_000;
/// Synchrony is computed on every fifth tick (coherence.md §6: every 5 s).
pub const SYNCHRONY_EVERY_TICKS: i64 = 5;
/// Synchrony looks at the last 64 s of heart rate.
pub const SYNCHRONY_WINDOW_SECS: f64 = 64.0;
/// Beats older than this at arrival are refused (`stale_beats`).
pub const MAX_BEAT_AGE_MS: f64 = 300_000.0;
/// Beats further than this in the future (after clock correction) are refused.
pub const MAX_BEAT_AHEAD_MS: f64 = 5_000.0;
