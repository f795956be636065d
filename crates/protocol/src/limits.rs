//! Every size and range limit of the wire contract in one place, so the decoder, the JSON Schema,
//! the phone developers' documentation and the hub's transport layer all quote the same numbers.
//!
//! String limits count UTF-8 bytes, not characters: they bound memory, and a phone that stays
//! well inside them never meets the difference.

/// Largest frame the hub accepts, in bytes (64 KiB). Larger frames get `error {code: "too_large"}`.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Most RR intervals in one `rr_intervals` message (5 minutes of beats at 60 bpm).
pub const MAX_RR_PER_MESSAGE: usize = 300;

/// An RR interval must be greater than 0 and at most this many milliseconds. This only rejects
/// nonsense; physiological filtering (ectopic beats, 300–2000 ms) is the analyser's job.
pub const MAX_RR_MS: f64 = 60_000.0;

/// The coherence score scale of the original platform: `0..=100`.
pub const MAX_COHERENCE: f64 = 100.0;

/// Largest integer a JSON number carries exactly (2^53 − 1, JavaScript's `MAX_SAFE_INTEGER`).
/// Times and sequence numbers above it are refused.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `userId` from the handshake, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;
/// `roomCode` from the handshake, in bytes.
pub const MAX_ROOM_CODE_BYTES: usize = 16;
/// `resumeToken` from the handshake, in bytes (the hub issues 32 hex digits).
pub const MAX_RESUME_TOKEN_BYTES: usize = 64;
/// The private intention `note`, in bytes.
pub const MAX_NOTE_BYTES: usize = 500;
/// An intention `category` sent by a client, in bytes (unknown categories become `other`).
pub const MAX_CATEGORY_BYTES: usize = 64;
/// `chantId`, in bytes.
pub const MAX_CHANT_ID_BYTES: usize = 64;
/// `device.model`, in bytes.
pub const MAX_MODEL_BYTES: usize = 64;
/// `strapCode` of `claim_strap`, in bytes.
pub const MAX_STRAP_CODE_BYTES: usize = 16;
/// An event name, in bytes (longer names are reported as unknown without being echoed in full).
pub const MAX_EVENT_NAME_BYTES: usize = 64;

/// Schedule (`PUT /api/schedule`): slot length in minutes, `1..=240`.
pub const MAX_SLOT_MINUTES: u32 = 240;
/// Schedule: longest single phase in seconds (4 hours).
pub const MAX_PHASE_SECS: u32 = 4 * 60 * 60;

/// Default per-connection rate limit, messages per second (enforced by the hub).
pub const RATE_LIMIT_PER_SEC: u32 = 20;
/// Default per-connection burst (enforced by the hub).
pub const RATE_LIMIT_BURST: u32 = 40;
