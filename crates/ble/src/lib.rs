//! Sync Hub's reader of Bluetooth LE heart-rate straps: the hub connects to the chest straps in
//! the room itself, so participants without a phone app still contribute their beats.
//!
//! # Roles
//!
//! - [`measurement`]: pure parsers of the Heart Rate Service's values — Heart Rate Measurement
//!   (0x2A37), Body Sensor Location (0x2A38), Battery Level (0x2A19) — and [`decode_hex`] for
//!   `synchub ble decode HEX`.
//! - [`beats`]: pure reconstruction of beat times from RR intervals (coherence.md §7): what the
//!   hub hands the engine as `rr_intervals {rr, endedAt}`.
//! - [`quirks`]: which sensors send real RR intervals (chest straps) and which smooth them
//!   (optical sensors, watches), for the console's warning.
//! - [`code`]: the four-character strap code a participant types to claim a strap.
//! - [`StrapManager`] (`manager`): the adapter on btleplug — scans for the Heart Rate Service,
//!   connects to every strap it finds, subscribes to measurements, reads battery and device
//!   information, reconnects with backoff, and hands [`StrapEvent`]s to whoever listens.
//!
//! **Invariant:** the crate knows nothing of participants, sessions or the hub; it uses nothing of
//! ours. The pure modules read no clock: the manager reads the hub's clock through
//! [`ManagerConfig::now_ms`] and passes time in.
//!
//! # Example
//!
//! ```
//! use synchub_ble::{decode_hex, BeatTimeline, Contact};
//!
//! // A Polar H10 notification: flags 0x16 (uint8 HR, contact, RR present), 63 bpm, two RR.
//! let measurement = decode_hex("16 3f d2 03 c6 03").unwrap();
//! assert_eq!(measurement.heart_rate_bpm, 63);
//! assert_eq!(measurement.contact, Contact::Contact);
//! assert_eq!(measurement.rr_1024, [978, 966]);
//!
//! // Arriving at 10 s on the hub's clock, its last beat is anchored there; the next
//! // notification's beats continue the chain of RR values, whatever its delivery jitter.
//! let mut timeline = BeatTimeline::new();
//! let batch = timeline.push(&measurement.rr_ms(), 10_000).unwrap();
//! assert_eq!(batch.ended_at_ms, 10_000);
//! let next = timeline.push(&[1000.0], 11_250).unwrap();
//! assert_eq!(next.ended_at_ms, 11_000);
//! ```

pub mod beats;
pub mod code;
mod manager;
pub mod measurement;
pub mod quirks;

pub use beats::{BeatBatch, BeatTimeline};
pub use code::{normalize_code, strap_code};
pub use manager::{
    BATTERY_LOW_PCT, BleError, HEART_RATE_SERVICE, ManagerConfig, StrapEvent, StrapId,
    StrapManager, StrapState, StrapStatus, scan_once, system_now_ms,
};
pub use measurement::{
    BodyLocation, Contact, DecodeHexError, Measurement, MeasurementError, MeasurementJson,
    decode_hex,
};
pub use quirks::SensorKind;
