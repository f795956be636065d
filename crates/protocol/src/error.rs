//! Why a payload was refused, precisely enough for the hub to answer the sender with an
//! `error {code: "invalid_payload", message}` that names the event and the field.
//!
//! The answer itself, `ErrorEvent`, belongs to the hub's events (`hub.rs`), which build it from
//! a [`DecodeError`]: this module knows nothing of the events that carry it.

use std::fmt;

use crate::common::ErrorCode;

/// A client frame or payload that does not satisfy the wire contract.
///
/// `event` is the event name when it is known (it is not for a frame that is not even JSON);
/// `field` is the path of the offending field (`intention.category`, `rr[3]`), when the error is
/// about one field. `Display` names both, so the message can go back to the client as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct DecodeError {
    /// The event the payload claimed to be, if that much could be read.
    pub event: Option<String>,
    /// Dotted path of the offending field inside the event's data.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(event: Option<&str>, field: Option<String>, kind: DecodeErrorKind) -> Self {
        DecodeError {
            event: event.map(str::to_owned),
            field,
            kind,
        }
    }

    pub(crate) fn frame(kind: DecodeErrorKind) -> Self {
        DecodeError::new(None, None, kind)
    }

    /// The stable `error.code` the hub sends back for this error.
    ///
    /// Oversized frames are `too_large`, unknown event names `unknown_event`, everything else
    /// `invalid_payload`.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            DecodeErrorKind::TooLarge { .. } => ErrorCode::TooLarge,
            DecodeErrorKind::UnknownEvent => ErrorCode::UnknownEvent,
            _ => ErrorCode::InvalidPayload,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.event, &self.field) {
            (Some(event), Some(field)) => write!(f, "{event}: field `{field}`: {}", self.kind),
            (Some(event), None) => write!(f, "{event}: {}", self.kind),
            (None, Some(field)) => write!(f, "frame: field `{field}`: {}", self.kind),
            (None, None) => write!(f, "frame: {}", self.kind),
        }
    }
}

/// The shapes of [`DecodeError`]. New shapes may be added, so match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The event name is not one this hub knows.
    #[error("unknown event")]
    UnknownEvent,
    /// The frame is not JSON (or a number in it does not fit an `f64`).
    #[error("malformed JSON: {detail}")]
    MalformedJson {
        /// The parser's own description, with line and column.
        detail: String,
    },
    /// A binary frame whose bytes are not UTF-8.
    #[error("frame is not valid UTF-8")]
    InvalidUtf8,
    /// The frame is larger than [`crate::limits::MAX_FRAME_BYTES`].
    #[error("frame of {len_bytes} bytes is over the {max_bytes}-byte limit")]
    TooLarge {
        /// Size of the refused frame.
        len_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A required field is absent or `null`.
    #[error("missing")]
    MissingField,
    /// The field has the wrong JSON type; nothing is coerced (`"42"` is not a number).
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the contract asks for.
        expected: &'static str,
        /// The JSON type that arrived.
        found: &'static str,
    },
    /// A number that is NaN or infinite (JSON cannot carry these as numbers; clients that write
    /// them as strings such as `"NaN"` or `"Infinity"` land here).
    #[error("not a finite number")]
    NotFinite,
    /// A number outside its allowed range.
    #[error("out of range (allowed: {allowed})")]
    OutOfRange {
        /// The allowed range, written for humans (`0..=100`).
        allowed: &'static str,
    },
    /// An `rr_intervals` batch with more beats than [`crate::limits::MAX_RR_PER_MESSAGE`].
    #[error("{count} RR intervals in one message, at most {max} allowed")]
    TooManyRr {
        /// Beats in the refused batch.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A string longer than its limit, counted in UTF-8 bytes.
    #[error("{len_bytes} bytes long, at most {max_bytes} allowed")]
    StringTooLong {
        /// Length of the refused string in UTF-8 bytes.
        len_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A string or array that must not be empty.
    #[error("must not be empty")]
    Empty,
    /// A string outside a closed set of values.
    #[error("invalid value (allowed: {allowed})")]
    InvalidValue {
        /// The allowed values, written for humans.
        allowed: &'static str,
    },
}
