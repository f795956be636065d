//! Sync Hub's session engine: the schedule, the phases, the participants and the group's
//! coherence of one room, as a pure state machine.
//!
//! # Roles
//!
//! - **Schedule** ([`schedule`]): rolling sessions on UTC-aligned slots (default 30 s
//!   preparation + 750 s active + 120 s integration = 15 minutes; a hub started at 10:07 joins
//!   the 10:00 slot in its active phase), or manual sessions the facilitator starts, advances,
//!   extends and ends. A mode change applies once the running session completes.
//! - **Participants**: join, leave, disconnect with a resume grace (60 s; same id, same
//!   analyser, same display slot), resume by 128-bit token (compared in constant time), set
//!   intention, time sync, optional capacity. [`Engine::participant_by_token`] names a token's
//!   holder (for the participant's own data rights) until the session completes, after they
//!   left included.
//! - **Inputs**: client scores (`update_coherence`) and RR batches, analysed by one
//!   [`synchub_hrv::StreamingAnalyzer`] per participant; batch seqs deduplicated; beat times
//!   moved into hub time with the participant's clock offset.
//! - **Effects**: [`Message`]s to one participant, [`Broadcast`]s to the room or the displays,
//!   and [`record::Record`]s for the store. The hub maps the first two to wire events and hands
//!   the records to the store's writer.
//! - **Group metrics** (coherence.md §5–6): every second over fresh (≤ 15 s), not-low-quality
//!   scores: mean, median, population standard deviation, distribution, peak; every 5 s the
//!   synchrony index and its surrogate baseline over participants with hub-side beats.
//!
//! # Driving it
//!
//! Like `quinn-proto`: call `handle_*(now_ms, …)` for each input, then drain
//! [`Engine::poll_record`], [`Engine::poll_message`] and [`Engine::poll_broadcast`] until they
//! return `None`, then sleep until [`Engine::poll_timeout`] and call
//! [`Engine::handle_timeout`]. When the store reports a `Record::Beats` with a seq durable,
//! call [`Engine::handle_beats_durable`]; that is what sends `rr_ack`.
//!
//! ```
//! use synchub_session::record::{DeviceKind, IntentionCategory};
//! use synchub_session::{Broadcast, Engine, EngineConfig, JoinRequest};
//!
//! let ten_o_clock_ms = 1_767_261_600_000; // 2026-01-01T10:00:00Z, a slot start
//! let mut engine = Engine::new(EngineConfig::default(), ten_o_clock_ms, [42; 32]).unwrap();
//! let phone = engine
//!     .handle_join(
//!         ten_o_clock_ms + 200,
//!         JoinRequest {
//!             pseudonym: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8".into(),
//!             intention: Some(IntentionCategory::Grief),
//!             research_consent: true,
//!             device: DeviceKind::Web,
//!             clock_offset_ms: None,
//!         },
//!     )
//!     .unwrap();
//! engine.handle_update_coherence(ten_o_clock_ms + 300, phone, 72.0).unwrap();
//!
//! // Three seconds of the engine's own timers.
//! let mut group_updates = 0;
//! let mut stored = 0;
//! while let Some(wake_ms) = engine.poll_timeout() {
//!     if wake_ms > ten_o_clock_ms + 3_000 {
//!         break;
//!     }
//!     engine.handle_timeout(wake_ms);
//!     while let Some(_record) = engine.poll_record() {
//!         stored += 1; // hand to the store
//!     }
//!     while let Some(message) = engine.poll_message() {
//!         let _ = (message.to, message.body); // send to that participant's connection
//!     }
//!     while let Some(broadcast) = engine.poll_broadcast() {
//!         if let Broadcast::GroupMetrics(group) = broadcast {
//!             assert_eq!(group.average_coherence, 72.0);
//!             group_updates += 1;
//!         }
//!     }
//! }
//! assert_eq!(group_updates, 3); // 10:00:01, :02, :03
//! assert!(stored > 0);
//! ```
//!
//! # Invariants
//!
//! - **No I/O, no clock, no threads**: time comes in as `now_ms` (ms since the Unix epoch, hub
//!   clock), randomness as a seed. The crate's `clippy.toml` bans `Instant::now`,
//!   `SystemTime::now`, `thread::spawn`, the thread-local and OS random generators
//!   (`rand::rng`, `Uuid::new_v4`) and the entry points of `std::fs` and `std::net`. Time never
//!   runs backwards inside the engine: an earlier `now_ms` than one already seen is taken as
//!   the latest one.
//! - **No JSON, no serde**: domain types only; `protocol` owns the wire names and the hub
//!   converts.
//! - **No raw identities**: participants arrive pseudonymised; the engine hands out UUIDs.
//! - **Nothing O(n²)**: an input costs O(1) (O(batch) for RR); the room is visited once per
//!   1 Hz tick (plus an O(n) median selection) and once per 5 s synchrony round.
//! - **Deterministic**: the same config, seed and inputs give the same effects, in order.

mod beat_clock;
mod beat_spans;
mod effect;
mod engine;
mod error;
mod group;
pub mod ids;
mod input;
mod participant;
pub mod record;
mod running;
pub mod schedule;
mod timing;

pub use beat_clock::{BEAT_REACH_SLACK_MS, MIN_BEAT_COST_MS};
pub use beat_spans::SAME_BEAT_WITHIN_MS;
pub use effect::{
    Audience, Broadcast, Contribution, Message, MessageBody, Pacer, PersonalFeedback, Petal,
    PhaseChange, RoomSnapshot, SessionInfo, SessionJoined,
};
pub use engine::{Engine, SYNCHRONY_MAX_PAIRS};
pub use error::EngineError;
pub use group::{GroupStats, SessionTotals};
pub use ids::{ParticipantId, ResumeToken, SessionId};
pub use input::{
    EngineConfig, JoinRequest, ParticipantView, RestoredParticipant, RestoredSession, RrBatch,
    RrOutcome, TokenOwner,
};
pub use schedule::{PhaseDurations, ScheduleConfig};
pub use timing::{
    FEEDBACK_INTERVAL_MS, FRESH_MS, MAX_BEAT_AGE_MS, MAX_BEAT_AHEAD_MS, SYNCHRONY_EVERY_TICKS,
    SYNCHRONY_WINDOW_SECS, TICK_MS,
};
