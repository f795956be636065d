//! Sync Hub's projector: the room's coherence as a mandala on the wall.
//!
//! The projector is a display client of the hub. It connects to `/ws` as `role=display`
//! (found by mDNS or given with `--hub`), receives the 1 Hz `room_snapshot`, the group
//! metrics, the phase changes and the shared breathing `pacer`, and draws one petal per
//! participant around a centre bloom, with the synchrony ring and the pacer ring, full screen
//! on the chosen monitor.
//!
//! - [`geometry`] turns the room's state into plain shapes; it is pure (time is an argument),
//!   so the picture is tested without a window;
//! - [`connection`] keeps the link to the hub (or plays a recording) on a background thread;
//! - [`app`] is the egui window: it keeps the room's state and answers the operator's keys;
//!   `paint.rs` draws with egui (shapes, text, the join card, the waiting screen) and
//!   `checks.rs` takes the screenshot or measures frame times for the tests.
//!
//! ```
//! use synchub_projector::geometry::{Mandala, Shape};
//! use synchub_protocol::{CoherencePhase, RoomSnapshot, SessionPhase, SignalQuality, SnapshotParticipant};
//!
//! let mut mandala = Mandala::new();
//! mandala.apply_snapshot(&RoomSnapshot {
//!     timestamp: 1_700_000_000_000,
//!     session_id: Some("s1".to_owned()),
//!     phase: SessionPhase::Active,
//!     phase_time_left: 600_000,
//!     session_time_left: 720_000,
//!     participants: vec![SnapshotParticipant {
//!         slot: 0,
//!         coherence: 72.0,
//!         phase: CoherencePhase::High,
//!         quality: SignalQuality::Good,
//!     }],
//! });
//! mandala.advance(2.0);
//! let shapes = mandala.shapes([960.0, 540.0], 480.0, 0.0, Some(0.5));
//! let petals = shapes.iter().filter(|s| matches!(s, Shape::Petal(p) if p.slot == 0)).count();
//! assert_eq!(petals, 1);
//! ```

pub mod app;
mod checks;
pub mod connection;
pub mod geometry;
mod paint;
