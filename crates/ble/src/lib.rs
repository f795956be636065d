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
//! - [`placement`]: pure choice of the adapter each strap connects through, from the adapters'
//!   free connections and who hears which strap how loudly.
//! - [`StrapReader`] (`reader`): the adapter on btleplug — scans for the Heart Rate Service on
//!   every Bluetooth adapter, connects each strap through the adapter with room that hears it
//!   best (a connection budget per adapter), subscribes to measurements, reads battery and
//!   device information, reconnects with backoff, moves the straps of an adapter that goes
//!   away, and hands [`StrapEvent`]s and a [`ReaderSnapshot`] to whoever listens (the hub, or a
//!   relay).
//!
//! **Invariant:** the crate knows nothing of participants, sessions or the hub; it uses nothing of
//! ours. The pure modules read no clock: the reader reads the hub's clock through
//! [`ReaderConfig::now_ms`] and passes time in.
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
pub mod measurement;
pub mod placement;
pub mod quirks;
mod reader;

pub use beats::{BeatBatch, BeatTimeline};
pub use code::{keyed_strap_code, normalize_code, strap_code};
pub use measurement::{
    BodyLocation, Contact, DecodeHexError, Measurement, MeasurementError, MeasurementJson,
    decode_hex,
};
pub use quirks::SensorKind;
pub use reader::{
    AdapterId, AdapterStatus, BATTERY_LOW_PCT, BleError, DEFAULT_LINKS_PER_ADAPTER,
    HEART_RATE_SERVICE, Hearing, ReaderConfig, ReaderSnapshot, ScanReport, StrapEvent, StrapId,
    StrapReader, StrapState, StrapStatus, scan_once, system_now_ms,
};
