//! Identities the engine hands out: sessions and participants are UUIDs, so every stored row has
//! a globally stable identity for central sync.

use std::fmt;

use rand::RngCore;

/// A session's id (UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub uuid::Uuid);

/// A participant's id within the hub (UUID); the same across a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub uuid::Uuid);

impl SessionId {
    /// A time-ordered id (UUID v7) for a session opened at `now_ms`, its random bits from the
    /// engine's seeded generator.
    pub(crate) fn time_ordered(rng: &mut impl RngCore, now_ms: i64) -> Self {
        let mut bytes = [0_u8; 10];
        rng.fill_bytes(&mut bytes);
        let millis = u64::try_from(now_ms).unwrap_or(0);
        Self(uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid())
    }
}

impl ParticipantId {
    /// A random id (UUID v4) from the engine's seeded generator (never the OS's: the engine is
    /// deterministic for a given seed).
    pub(crate) fn random(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0_u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A participant's resume token: 128 bits from a cryptographically secure generator, handed to
/// the client in `session_joined` and presented again after a dropped connection.
///
/// Equality is constant-time (no early exit on the first differing byte), and `Debug` does not
/// print the secret, so a token never leaks through a log line.
#[derive(Clone, Copy)]
pub struct ResumeToken(pub [u8; 16]);

impl ResumeToken {
    /// A fresh token: 128 bits from the engine's generator, which the hub seeds from the OS.
    pub(crate) fn new_random(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0_u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The token as 32 lowercase hex digits, the form clients see.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(32);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// Parses 32 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return None;
        }
        let mut bytes = [0_u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            *byte = u8::try_from(high * 16 + low).ok()?;
        }
        Some(Self(bytes))
    }

    /// Compares every byte whatever the differences, so the time taken says nothing about how
    /// much of a guessed token was right.
    pub fn constant_time_eq(&self, other: &Self) -> bool {
        let mut difference = 0_u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            difference |= a ^ b;
        }
        std::hint::black_box(difference) == 0
    }

    /// The first 64 bits, used only to find the candidate participant; the full token is then
    /// compared in constant time.
    pub(crate) fn lookup_key(&self) -> u64 {
        let mut prefix = [0_u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(prefix)
    }
}

impl PartialEq for ResumeToken {
    fn eq(&self, other: &Self) -> bool {
        self.constant_time_eq(other)
    }
}

impl Eq for ResumeToken {}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::ResumeToken;

    #[test]
    fn resume_token_hex_round_trips_and_rejects_junk() {
        let token = ResumeToken([0xab; 16]);
        assert_eq!(token.to_hex(), "ab".repeat(16));
        assert_eq!(ResumeToken::from_hex(&token.to_hex()), Some(token));
        assert_eq!(ResumeToken::from_hex(&"AB".repeat(16)), Some(token));
        assert_eq!(ResumeToken::from_hex("abc"), None);
        assert_eq!(ResumeToken::from_hex(&"zz".repeat(16)), None);
        assert_eq!(format!("{token:?}"), "ResumeToken(<secret>)");
    }
}
