//! Parsers of the GATT values a heart-rate strap sends: Heart Rate Measurement (0x2A37), Body
//! Sensor Location (0x2A38) and Battery Level (0x2A19).
//!
//! They are pure functions of the bytes, so the strap manager, the `synchub ble decode HEX`
//! command and the fuzz target share one implementation. Every field layout follows the
//! Bluetooth SIG's Heart Rate Service 1.0 and GATT Specification Supplement. Malformed bytes come
//! back as a typed error and never panic: straps, radios and BlueZ all truncate values now and
//! then, and one bad notification must not stop a participant's stream.

use serde::{Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// Bit 0 of the flags: the heart rate is a uint16 (else a uint8).
const FLAG_HEART_RATE_UINT16: u8 = 0x01;
/// Bits 1–2 of the flags: the Sensor Contact Status.
const FLAG_CONTACT_MASK: u8 = 0x06;
/// Bit 3 of the flags: an Energy Expended uint16 (kJ) follows the heart rate.
const FLAG_ENERGY_EXPENDED: u8 = 0x08;
/// Bit 4 of the flags: one or more RR-Interval uint16 values (1/1024 s) end the value.
const FLAG_RR_INTERVALS: u8 = 0x10;

/// Milliseconds in one RR unit: the service counts RR intervals in 1/1024 s.
const MS_PER_RR_UNIT: f64 = 1000.0 / 1024.0;

/// Whether the sensor touches the skin, from bits 1–2 of the measurement's flags.
///
/// Both bits clear (0) and the value 1 both mean the sensor does not report contact at all:
/// that is *not* "no contact" (coherence.md §7), and such a strap's beats are used as they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    /// Sensor contact is supported and detected (value 3).
    Contact,
    /// Sensor contact is supported but not detected (value 2): the strap is off the skin or its
    /// electrodes are dry, and whatever it reports is noise.
    NoContact,
    /// The sensor does not report contact (values 0 and 1).
    NotSupported,
}

impl Contact {
    /// The two-bit Sensor Contact Status value this variant is encoded as (0 for
    /// `NotSupported`, the first of the two values that mean it).
    pub fn status_bits(self) -> u8 {
        match self {
            Contact::NotSupported => 0,
            Contact::NoContact => 2,
            Contact::Contact => 3,
        }
    }

    fn from_flags(flags: u8) -> Contact {
        match (flags & FLAG_CONTACT_MASK) >> 1 {
            2 => Contact::NoContact,
            3 => Contact::Contact,
            _ => Contact::NotSupported,
        }
    }
}

/// How the heart rate field of a measurement is encoded (bit 0 of the flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeartRateFormat {
    /// One byte; every chest strap we know sends this at rest.
    Uint8,
    /// Two bytes, little-endian; required above 255 bpm, allowed below.
    Uint16,
}

/// One Heart Rate Measurement notification (characteristic 0x2A37), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// The heart rate the strap computed, in beats per minute (many straps send 0 without
    /// contact).
    pub heart_rate_bpm: u16,
    /// How the heart rate was encoded, kept so a measurement re-encodes to its own bytes.
    pub heart_rate_format: HeartRateFormat,
    /// Whether the sensor touches the skin.
    pub contact: Contact,
    /// Energy expended since the last reset, in kilojoules, when the strap sends it.
    pub energy_kj: Option<u16>,
    /// RR intervals in the service's unit of 1/1024 s, oldest first. Empty when the strap sent
    /// none (no beat ended since the last notification, or no RR support at all).
    pub rr_1024: Vec<u16>,
}

/// Which field of a Heart Rate Measurement was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasurementField {
    /// The heart rate value (one or two bytes, by flags bit 0).
    HeartRate,
    /// The Energy Expended uint16 (present when flags bit 3 is set).
    EnergyExpended,
}

impl fmt::Display for MeasurementField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MeasurementField::HeartRate => "the heart rate",
            MeasurementField::EnergyExpended => "the energy expended",
        })
    }
}

/// Why some bytes are not a Heart Rate Measurement.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MeasurementError {
    /// Not even the flags byte.
    #[error("the value is empty; a Heart Rate Measurement starts with a flags byte")]
    Empty,
    /// The flags announce a field that the value is too short to hold.
    #[error(
        "the value ends inside {field}: flags 0x{flags:02x} announce {needed} byte(s) for it at offset {offset}, but only {available} remain"
    )]
    Truncated {
        /// The field that was cut.
        field: MeasurementField,
        /// The flags byte as received.
        flags: u8,
        /// Where the field starts.
        offset: usize,
        /// How many bytes the field needs.
        needed: usize,
        /// How many bytes were left at `offset`.
        available: usize,
    },
    /// RR intervals are two bytes each; an odd number of bytes is left after the fixed fields.
    #[error(
        "{remaining} byte(s) of RR intervals remain at offset {offset}, but each RR interval takes 2 bytes"
    )]
    OddRrBytes {
        /// Where the RR intervals start.
        offset: usize,
        /// How many bytes are left for them.
        remaining: usize,
    },
    /// Bytes follow the fields the flags announce and the RR flag is clear.
    #[error(
        "{extra} unexpected byte(s) follow the fields that flags 0x{flags:02x} announce (the RR-interval flag, bit 4, is clear)"
    )]
    TrailingBytes {
        /// The flags byte as received.
        flags: u8,
        /// How many bytes are left over.
        extra: usize,
    },
}

impl Measurement {
    /// Decodes one Heart Rate Measurement value.
    ///
    /// Reserved flag bits 5–7 are ignored, as the specification asks of a client. An RR flag
    /// with no RR bytes decodes to an empty list rather than an error: it carries no beat either
    /// way, and rejecting it would also throw away the heart rate.
    pub fn parse(bytes: &[u8]) -> Result<Measurement, MeasurementError> {
        let (&flags, _) = bytes.split_first().ok_or(MeasurementError::Empty)?;
        let mut offset = 1;

        let take = |offset: usize, needed: usize, field: MeasurementField| {
            bytes
                .get(offset..offset + needed)
                .ok_or(MeasurementError::Truncated {
                    field,
                    flags,
                    offset,
                    needed,
                    available: bytes.len().saturating_sub(offset),
                })
        };

        let heart_rate_format = if flags & FLAG_HEART_RATE_UINT16 != 0 {
            HeartRateFormat::Uint16
        } else {
            HeartRateFormat::Uint8
        };
        let heart_rate_bpm = match heart_rate_format {
            HeartRateFormat::Uint8 => {
                let field = take(offset, 1, MeasurementField::HeartRate)?;
                offset += 1;
                u16::from(field[0])
            }
            HeartRateFormat::Uint16 => {
                let field = take(offset, 2, MeasurementField::HeartRate)?;
                offset += 2;
                u16::from_le_bytes([field[0], field[1]])
            }
        };

        let energy_kj = if flags & FLAG_ENERGY_EXPENDED != 0 {
            let field = take(offset, 2, MeasurementField::EnergyExpended)?;
            offset += 2;
            Some(u16::from_le_bytes([field[0], field[1]]))
        } else {
            None
        };

        let rest = &bytes[offset..];
        let rr_1024 = if flags & FLAG_RR_INTERVALS != 0 {
            if !rest.len().is_multiple_of(2) {
                return Err(MeasurementError::OddRrBytes {
                    offset,
                    remaining: rest.len(),
                });
            }
            rest.chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect()
        } else if !rest.is_empty() {
            return Err(MeasurementError::TrailingBytes {
                flags,
                extra: rest.len(),
            });
        } else {
            Vec::new()
        };

        Ok(Measurement {
            heart_rate_bpm,
            heart_rate_format,
            contact: Contact::from_flags(flags),
            energy_kj,
            rr_1024,
        })
    }

    /// Encodes the measurement as a strap would send it. `parse(m.to_bytes()) == m` for every
    /// measurement whose heart rate fits its format (a `Uint8` measurement above 255 bpm is
    /// sent as `Uint16`); used by tests, the fuzz target and the BlueZ emulator's test.
    pub fn to_bytes(&self) -> Vec<u8> {
        let format = if self.heart_rate_bpm > u16::from(u8::MAX) {
            HeartRateFormat::Uint16
        } else {
            self.heart_rate_format
        };
        let mut flags = self.contact.status_bits() << 1;
        if format == HeartRateFormat::Uint16 {
            flags |= FLAG_HEART_RATE_UINT16;
        }
        if self.energy_kj.is_some() {
            flags |= FLAG_ENERGY_EXPENDED;
        }
        if !self.rr_1024.is_empty() {
            flags |= FLAG_RR_INTERVALS;
        }
        let mut bytes = vec![flags];
        match format {
            // The guard above sends values over 255 as Uint16, so this cannot truncate.
            HeartRateFormat::Uint8 => bytes.push(self.heart_rate_bpm as u8),
            HeartRateFormat::Uint16 => bytes.extend_from_slice(&self.heart_rate_bpm.to_le_bytes()),
        }
        if let Some(energy_kj) = self.energy_kj {
            bytes.extend_from_slice(&energy_kj.to_le_bytes());
        }
        for rr in &self.rr_1024 {
            bytes.extend_from_slice(&rr.to_le_bytes());
        }
        bytes
    }

    /// The RR intervals in milliseconds (exact: 1/1024 s is a power-of-two fraction, so the
    /// conversion loses nothing in an `f64`).
    pub fn rr_ms(&self) -> Vec<f64> {
        self.rr_1024.iter().map(|&rr| ms_from_rr_1024(rr)).collect()
    }

    /// The measurement as `synchub ble decode HEX` prints it.
    pub fn to_debug_json(&self) -> MeasurementJson {
        MeasurementJson {
            heart_rate_bpm: self.heart_rate_bpm,
            contact: self.contact,
            energy_kj: self.energy_kj,
            rr_ms: self
                .rr_1024
                .iter()
                .map(|&rr| (ms_from_rr_1024(rr) * 1000.0).round() / 1000.0)
                .collect(),
        }
    }
}

/// Milliseconds from the Heart Rate Service's RR unit of 1/1024 s.
pub fn ms_from_rr_1024(rr_1024: u16) -> f64 {
    f64::from(rr_1024) * MS_PER_RR_UNIT
}

/// A measurement for people to read: `{"heart_rate_bpm", "contact", "energy_kj", "rr_ms"}`,
/// with RR in milliseconds rounded to three decimals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementJson {
    /// Beats per minute as the strap computed them.
    pub heart_rate_bpm: u16,
    /// `"contact"`, `"no_contact"` or `"not_supported"`.
    pub contact: Contact,
    /// Energy expended in kJ, `null` when absent.
    pub energy_kj: Option<u16>,
    /// RR intervals in ms, oldest first.
    pub rr_ms: Vec<f64>,
}

/// Why a hex string given on the command line could not be decoded. Each message is one
/// sentence that says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeHexError {
    /// Nothing but separators.
    #[error(
        "no bytes were given; pass the notification's bytes as hex, for example `16 3c 00 04` or `163c0004`"
    )]
    Empty,
    /// A character that is neither a hex digit nor a separator.
    #[error(
        "{character:?} at position {position} is not a hex digit; use only 0-9 and a-f, with optional spaces, colons, dashes or a 0x prefix between bytes"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position (in characters, from 0) in the input.
        position: usize,
    },
    /// A group of digits with an odd count, which cannot be whole bytes.
    #[error(
        "the group {group:?} has an odd number of hex digits; write every byte as two digits (05, not 5)"
    )]
    OddDigits {
        /// The group of digits between separators.
        group: String,
    },
    /// Valid hex, but not a Heart Rate Measurement.
    #[error(
        "these {len} byte(s) are not a Heart Rate Measurement ({source}); check that you copied the whole value of characteristic 0x2A37"
    )]
    Measurement {
        /// How many bytes the hex held.
        len: usize,
        /// What the parser found wrong.
        source: MeasurementError,
    },
}

/// Decodes a Heart Rate Measurement written as hex, as a person copies it from a log or a
/// BLE scanner app: `"16 3C 00 04"`, `"16:3c:00:04"`, `"0x163c0004"` and `"163C0004"` are all
/// the same four bytes.
pub fn decode_hex(text: &str) -> Result<Measurement, DecodeHexError> {
    let bytes = bytes_from_hex(text)?;
    Measurement::parse(&bytes).map_err(|source| DecodeHexError::Measurement {
        len: bytes.len(),
        source,
    })
}

/// Bytes from hex digits in groups separated by whitespace, `:`, `-` or `,`; each group may
/// start with `0x` and must have an even number of digits.
fn bytes_from_hex(text: &str) -> Result<Vec<u8>, DecodeHexError> {
    let is_separator = |c: char| c.is_whitespace() || matches!(c, ':' | '-' | ',');
    let mut bytes = Vec::new();
    let mut position = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let separators = rest.len() - rest.trim_start_matches(is_separator).len();
        position += rest[..separators].chars().count();
        rest = &rest[separators..];
        let group_len = rest.find(is_separator).unwrap_or(rest.len());
        let group = &rest[..group_len];
        rest = &rest[group_len..];
        if group.is_empty() {
            continue;
        }
        let (digits, prefix_chars) = match group.strip_prefix("0x").or(group.strip_prefix("0X")) {
            Some(digits) => (digits, 2),
            None => (group, 0),
        };
        let mut nibbles = Vec::with_capacity(digits.len());
        for (index, character) in digits.chars().enumerate() {
            let nibble = character
                .to_digit(16)
                .ok_or(DecodeHexError::InvalidCharacter {
                    character,
                    position: position + prefix_chars + index,
                })?;
            // A hex digit is below 16, so it fits a byte.
            nibbles.push(nibble as u8);
        }
        if !nibbles.len().is_multiple_of(2) {
            return Err(DecodeHexError::OddDigits {
                group: group.to_owned(),
            });
        }
        bytes.extend(nibbles.chunks_exact(2).map(|pair| pair[0] << 4 | pair[1]));
        position += group.chars().count();
    }
    if bytes.is_empty() {
        return Err(DecodeHexError::Empty);
    }
    Ok(bytes)
}

/// Where the strap sits on the body, from Body Sensor Location (0x2A38).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyLocation {
    /// 0: other.
    Other,
    /// 1: chest — an electrical (ECG) strap, as far as the location tells.
    Chest,
    /// 2: wrist.
    Wrist,
    /// 3: finger.
    Finger,
    /// 4: hand.
    Hand,
    /// 5: ear lobe.
    EarLobe,
    /// 6: foot.
    Foot,
    /// 7–255: reserved for future use by the specification.
    Reserved(u8),
}

impl BodyLocation {
    /// The lower-case name serialised in the hub's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyLocation::Other => "other",
            BodyLocation::Chest => "chest",
            BodyLocation::Wrist => "wrist",
            BodyLocation::Finger => "finger",
            BodyLocation::Hand => "hand",
            BodyLocation::EarLobe => "ear_lobe",
            BodyLocation::Foot => "foot",
            BodyLocation::Reserved(_) => "reserved",
        }
    }
}

impl Serialize for BodyLocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a one-byte characteristic value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The value is not exactly one byte long.
    #[error("{characteristic} must be exactly 1 byte long, got {len}")]
    Length {
        /// Which characteristic, e.g. "Battery Level (0x2A19)".
        characteristic: &'static str,
        /// The length received.
        len: usize,
    },
    /// A battery level above 100 %.
    #[error("Battery Level (0x2A19) is {0} %, above 100 %")]
    BatteryAboveHundred(u8),
}

fn single_byte(bytes: &[u8], characteristic: &'static str) -> Result<u8, ValueError> {
    match bytes {
        [byte] => Ok(*byte),
        _ => Err(ValueError::Length {
            characteristic,
            len: bytes.len(),
        }),
    }
}

/// Decodes Body Sensor Location (0x2A38): one uint8.
pub fn parse_body_location(bytes: &[u8]) -> Result<BodyLocation, ValueError> {
    Ok(match single_byte(bytes, "Body Sensor Location (0x2A38)")? {
        0 => BodyLocation::Other,
        1 => BodyLocation::Chest,
        2 => BodyLocation::Wrist,
        3 => BodyLocation::Finger,
        4 => BodyLocation::Hand,
        5 => BodyLocation::EarLobe,
        6 => BodyLocation::Foot,
        reserved => BodyLocation::Reserved(reserved),
    })
}

/// Decodes Battery Level (0x2A19): one uint8, a percentage from 0 to 100.
pub fn parse_battery_level(bytes: &[u8]) -> Result<u8, ValueError> {
    match single_byte(bytes, "Battery Level (0x2A19)")? {
        level @ 0..=100 => Ok(level),
        level => Err(ValueError::BatteryAboveHundred(level)),
    }
}

/// Decodes a UTF-8 string characteristic of Device Information (Model Number 0x2A24,
/// Manufacturer Name 0x2A29): lossy, so a stray byte does not hide the whole name, and trimmed
/// of the NUL padding some firmware sends. `None` for an empty value.
pub fn parse_utf8_string(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A measurement as the specification's field list reads, for the expectations below.
    fn measurement(
        heart_rate_bpm: u16,
        heart_rate_format: HeartRateFormat,
        contact: Contact,
        energy_kj: Option<u16>,
        rr_1024: &[u16],
    ) -> Measurement {
        Measurement {
            heart_rate_bpm,
            heart_rate_format,
            contact,
            energy_kj,
            rr_1024: rr_1024.to_vec(),
        }
    }

    fn check(bytes: &[u8], expect: Measurement) {
        assert_eq!(Measurement::parse(bytes), Ok(expect), "bytes {bytes:02x?}");
    }

    use Contact::{Contact as On, NoContact as Off, NotSupported as Unsupported};
    use HeartRateFormat::{Uint8 as U8, Uint16 as U16};

    /// Every combination of the five meaningful flag bits: heart-rate format (bit 0), the four
    /// contact values (bits 1–2), energy expended (bit 3) and RR intervals (bit 4). Each vector
    /// is written byte by byte from the Heart Rate Service specification.
    #[test]
    fn every_flag_combination_decodes_as_the_specification_lays_it_out() {
        // Flags 0x00: uint8 HR, contact status 0 (not supported), no energy, no RR.
        check(&[0x00, 0x48], measurement(72, U8, Unsupported, None, &[]));
        // Flags 0x01: uint16 HR; HR = 0x0048 little-endian.
        check(
            &[0x01, 0x48, 0x00],
            measurement(72, U16, Unsupported, None, &[]),
        );
        // Flags 0x02: contact status 1, which also means "not supported".
        check(&[0x02, 0x48], measurement(72, U8, Unsupported, None, &[]));
        // Flags 0x03: uint16 HR 0x012C = 300 bpm, contact status 1.
        check(
            &[0x03, 0x2c, 0x01],
            measurement(300, U16, Unsupported, None, &[]),
        );
        // Flags 0x04: contact status 2 = supported, not detected; HR 0.
        check(&[0x04, 0x00], measurement(0, U8, Off, None, &[]));
        // Flags 0x05: uint16 HR 0x0000, no contact.
        check(&[0x05, 0x00, 0x00], measurement(0, U16, Off, None, &[]));
        // Flags 0x06: contact status 3 = contact detected; HR 0x3c = 60.
        check(&[0x06, 0x3c], measurement(60, U8, On, None, &[]));
        // Flags 0x07: uint16 HR 0x003c, contact.
        check(&[0x07, 0x3c, 0x00], measurement(60, U16, On, None, &[]));

        // Flags 0x08: energy expended present: HR 0x50 = 80, energy 0x0102 = 258 kJ.
        check(
            &[0x08, 0x50, 0x02, 0x01],
            measurement(80, U8, Unsupported, Some(258), &[]),
        );
        // Flags 0x09: uint16 HR 0x0050, energy 0x0102.
        check(
            &[0x09, 0x50, 0x00, 0x02, 0x01],
            measurement(80, U16, Unsupported, Some(258), &[]),
        );
        // Flags 0x0a: contact status 1, HR 80, energy 0xffff (the maximum, 65535 kJ).
        check(
            &[0x0a, 0x50, 0xff, 0xff],
            measurement(80, U8, Unsupported, Some(65535), &[]),
        );
        // Flags 0x0b: uint16 HR 0x0050, contact status 1, energy 0x0000.
        check(
            &[0x0b, 0x50, 0x00, 0x00, 0x00],
            measurement(80, U16, Unsupported, Some(0), &[]),
        );
        // Flags 0x0c: no contact, HR 80, energy 0x000a = 10 kJ.
        check(
            &[0x0c, 0x50, 0x0a, 0x00],
            measurement(80, U8, Off, Some(10), &[]),
        );
        // Flags 0x0d: uint16 HR 0x0050, no contact, energy 10 kJ.
        check(
            &[0x0d, 0x50, 0x00, 0x0a, 0x00],
            measurement(80, U16, Off, Some(10), &[]),
        );
        // Flags 0x0e: contact, HR 80, energy 0x1234 = 4660 kJ.
        check(
            &[0x0e, 0x50, 0x34, 0x12],
            measurement(80, U8, On, Some(4660), &[]),
        );
        // Flags 0x0f: uint16 HR 0x0050, contact, energy 4660 kJ.
        check(
            &[0x0f, 0x50, 0x00, 0x34, 0x12],
            measurement(80, U16, On, Some(4660), &[]),
        );

        // Flags 0x10: RR present: HR 0x40 = 64, RR 0x0400 = 1024/1024 s = 1000 ms.
        check(
            &[0x10, 0x40, 0x00, 0x04],
            measurement(64, U8, Unsupported, None, &[1024]),
        );
        // Flags 0x11: uint16 HR 0x0040, RR 0x0400 and 0x03c0 (960).
        check(
            &[0x11, 0x40, 0x00, 0x00, 0x04, 0xc0, 0x03],
            measurement(64, U16, Unsupported, None, &[1024, 960]),
        );
        // Flags 0x12: contact status 1, HR 64, RR 0x0001 (the smallest non-zero, ~0.977 ms).
        check(
            &[0x12, 0x40, 0x01, 0x00],
            measurement(64, U8, Unsupported, None, &[1]),
        );
        // Flags 0x13: uint16 HR 0x0040, contact status 1, RR 0xffff (the largest, ~64 s).
        check(
            &[0x13, 0x40, 0x00, 0xff, 0xff],
            measurement(64, U16, Unsupported, None, &[65535]),
        );
        // Flags 0x14: no contact, HR 0, RR 0x0320 (800).
        check(
            &[0x14, 0x00, 0x20, 0x03],
            measurement(0, U8, Off, None, &[800]),
        );
        // Flags 0x15: uint16 HR 0x0000, no contact, RR 0x0320.
        check(
            &[0x15, 0x00, 0x00, 0x20, 0x03],
            measurement(0, U16, Off, None, &[800]),
        );
        // Flags 0x16: contact, HR 0x4b = 75, three RR: 0x0333 (819), 0x0334 (820), 0x0335 (821).
        check(
            &[0x16, 0x4b, 0x33, 0x03, 0x34, 0x03, 0x35, 0x03],
            measurement(75, U8, On, None, &[819, 820, 821]),
        );
        // Flags 0x17: uint16 HR 0x004b, contact, RR 0x0333.
        check(
            &[0x17, 0x4b, 0x00, 0x33, 0x03],
            measurement(75, U16, On, None, &[819]),
        );

        // Flags 0x18: energy and RR: HR 0x5a = 90, energy 0x0064 = 100 kJ, RR 0x02aa (682).
        check(
            &[0x18, 0x5a, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U8, Unsupported, Some(100), &[682]),
        );
        // Flags 0x19: uint16 HR 0x005a, energy 100 kJ, RR 0x02aa and 0x02ab (683).
        check(
            &[0x19, 0x5a, 0x00, 0x64, 0x00, 0xaa, 0x02, 0xab, 0x02],
            measurement(90, U16, Unsupported, Some(100), &[682, 683]),
        );
        // Flags 0x1a: contact status 1, HR 90, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1a, 0x5a, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U8, Unsupported, Some(100), &[682]),
        );
        // Flags 0x1b: uint16 HR 0x005a, contact status 1, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1b, 0x5a, 0x00, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U16, Unsupported, Some(100), &[682]),
        );
        // Flags 0x1c: no contact, HR 90, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1c, 0x5a, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U8, Off, Some(100), &[682]),
        );
        // Flags 0x1d: uint16 HR 0x005a, no contact, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1d, 0x5a, 0x00, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U16, Off, Some(100), &[682]),
        );
        // Flags 0x1e: contact, HR 90, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1e, 0x5a, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U8, On, Some(100), &[682]),
        );
        // Flags 0x1f: every field: uint16 HR 0x005a, contact, energy 100 kJ, RR 0x02aa.
        check(
            &[0x1f, 0x5a, 0x00, 0x64, 0x00, 0xaa, 0x02],
            measurement(90, U16, On, Some(100), &[682]),
        );
    }

    #[test]
    fn reserved_flag_bits_are_ignored() {
        // Flags 0xe6: reserved bits 5-7 set, contact (3), uint8 HR 0x3c = 60.
        check(&[0xe6, 0x3c], measurement(60, U8, On, None, &[]));
        // Flags 0xf0: reserved bits set, RR present; HR 0x3c, RR 0x0400.
        check(
            &[0xf0, 0x3c, 0x00, 0x04],
            measurement(60, U8, Unsupported, None, &[1024]),
        );
    }

    #[test]
    fn a_polar_h10_notification_with_two_rr_intervals() {
        // As a Polar H10 sends it: flags 0x16 (uint8 HR, contact, RR present), HR 0x3f = 63,
        // RR 0x03d2 = 978/1024 s, RR 0x03c6 = 966/1024 s.
        check(
            &[0x16, 0x3f, 0xd2, 0x03, 0xc6, 0x03],
            measurement(63, U8, On, None, &[978, 966]),
        );
    }

    #[test]
    fn an_rr_flag_with_no_rr_bytes_decodes_to_no_intervals() {
        // Flags 0x16 (contact, RR present) but the value stops after HR 0x3c.
        check(&[0x16, 0x3c], measurement(60, U8, On, None, &[]));
    }

    #[test]
    fn malformed_values_are_typed_errors() {
        let check_err = |bytes: &[u8], expect: MeasurementError| {
            assert_eq!(Measurement::parse(bytes), Err(expect), "bytes {bytes:02x?}");
        };
        check_err(&[], MeasurementError::Empty);
        // Flags 0x00 announce a uint8 HR; nothing follows.
        check_err(
            &[0x00],
            MeasurementError::Truncated {
                field: MeasurementField::HeartRate,
                flags: 0x00,
                offset: 1,
                needed: 1,
                available: 0,
            },
        );
        // Flags 0x01 announce a uint16 HR; one byte follows.
        check_err(
            &[0x01, 0x48],
            MeasurementError::Truncated {
                field: MeasurementField::HeartRate,
                flags: 0x01,
                offset: 1,
                needed: 2,
                available: 1,
            },
        );
        // Flags 0x08 announce energy after HR 0x48; one byte of it follows.
        check_err(
            &[0x08, 0x48, 0x01],
            MeasurementError::Truncated {
                field: MeasurementField::EnergyExpended,
                flags: 0x08,
                offset: 2,
                needed: 2,
                available: 1,
            },
        );
        // Flags 0x19: uint16 HR, energy, RR; the energy is missing entirely.
        check_err(
            &[0x19, 0x48, 0x00],
            MeasurementError::Truncated {
                field: MeasurementField::EnergyExpended,
                flags: 0x19,
                offset: 3,
                needed: 2,
                available: 0,
            },
        );
        // Flags 0x10, HR 0x48, then three RR bytes: the last interval is cut in half.
        check_err(
            &[0x10, 0x48, 0x00, 0x04, 0x00],
            MeasurementError::OddRrBytes {
                offset: 2,
                remaining: 3,
            },
        );
        // Flags 0x00 (no RR), HR 0x48, then two stray bytes.
        check_err(
            &[0x00, 0x48, 0x00, 0x04],
            MeasurementError::TrailingBytes {
                flags: 0x00,
                extra: 2,
            },
        );
    }

    #[test]
    fn a_measurement_re_encodes_to_its_own_bytes() {
        for bytes in [
            &[0x16, 0x3f, 0xd2, 0x03, 0xc6, 0x03][..],
            &[0x1f, 0x5a, 0x00, 0x64, 0x00, 0xaa, 0x02],
            &[0x04, 0x00],
            &[0x09, 0x50, 0x00, 0x02, 0x01],
        ] {
            let decoded = Measurement::parse(bytes).unwrap();
            assert_eq!(decoded.to_bytes(), bytes);
        }
        // Contact status 1 is re-encoded as 0: both mean "not supported".
        let decoded = Measurement::parse(&[0x02, 0x48]).unwrap();
        assert_eq!(decoded.to_bytes(), [0x00, 0x48]);
    }

    #[test]
    fn rr_converts_from_1024ths_of_a_second_to_milliseconds() {
        assert_eq!(ms_from_rr_1024(1024), 1000.0);
        assert_eq!(ms_from_rr_1024(512), 500.0);
        assert_eq!(ms_from_rr_1024(978), 955.078125);
        assert_eq!(ms_from_rr_1024(0), 0.0);
    }

    #[test]
    fn debug_json_has_the_four_fields_with_rr_rounded_to_three_decimals() {
        // Flags 0x1e: contact, HR 0x3f = 63, energy 0x0010 = 16 kJ, RR 978 and 1024.
        let measurement =
            Measurement::parse(&[0x1e, 0x3f, 0x10, 0x00, 0xd2, 0x03, 0x00, 0x04]).unwrap();
        let json = serde_json::to_string(&measurement.to_debug_json()).unwrap();
        assert_eq!(
            json,
            r#"{"heart_rate_bpm":63,"contact":"contact","energy_kj":16,"rr_ms":[955.078,1000.0]}"#
        );
        // Flags 0x04: no contact, HR 0, nothing else.
        let json = serde_json::to_string(&decode_hex("0400").unwrap().to_debug_json()).unwrap();
        assert_eq!(
            json,
            r#"{"heart_rate_bpm":0,"contact":"no_contact","energy_kj":null,"rr_ms":[]}"#
        );
        let json = serde_json::to_string(&decode_hex("00 48").unwrap().to_debug_json()).unwrap();
        assert!(json.contains(r#""contact":"not_supported""#), "{json}");
    }

    #[test]
    fn hex_accepts_the_ways_people_copy_bytes() {
        // Flags 0x16, HR 0x3c = 60, RR 0x0400 = 1000 ms.
        let expect = measurement(60, U8, On, None, &[1024]);
        for text in [
            "163c0004",
            "16 3C 00 04",
            "16:3c:00:04",
            "16-3c-00-04",
            "0x16 0x3c 0x00 0x04",
            "0x163C0004",
            "  16 3c,00 04\n",
        ] {
            assert_eq!(decode_hex(text), Ok(expect.clone()), "{text:?}");
        }
    }

    #[test]
    fn hex_errors_say_what_was_wrong_and_what_to_do() {
        let message = |text: &str| decode_hex(text).unwrap_err().to_string();
        assert_eq!(
            message(" "),
            "no bytes were given; pass the notification's bytes as hex, for example `16 3c 00 04` or `163c0004`"
        );
        assert_eq!(
            message("16 3g"),
            "'g' at position 4 is not a hex digit; use only 0-9 and a-f, with optional spaces, colons, dashes or a 0x prefix between bytes"
        );
        assert_eq!(
            decode_hex("0x16 0xzz"),
            Err(DecodeHexError::InvalidCharacter {
                character: 'z',
                position: 7
            })
        );
        assert_eq!(
            message("16 3c 0 4"),
            "the group \"0\" has an odd number of hex digits; write every byte as two digits (05, not 5)"
        );
        assert_eq!(
            message("01 48"),
            "these 2 byte(s) are not a Heart Rate Measurement (the value ends inside the heart rate: flags 0x01 announce 2 byte(s) for it at offset 1, but only 1 remain); check that you copied the whole value of characteristic 0x2A37"
        );
    }

    #[test]
    fn body_sensor_location_values() {
        let cases = [
            (0, BodyLocation::Other, "other"),
            (1, BodyLocation::Chest, "chest"),
            (2, BodyLocation::Wrist, "wrist"),
            (3, BodyLocation::Finger, "finger"),
            (4, BodyLocation::Hand, "hand"),
            (5, BodyLocation::EarLobe, "ear_lobe"),
            (6, BodyLocation::Foot, "foot"),
            (7, BodyLocation::Reserved(7), "reserved"),
            (255, BodyLocation::Reserved(255), "reserved"),
        ];
        for (byte, location, json) in cases {
            assert_eq!(parse_body_location(&[byte]), Ok(location));
            assert_eq!(serde_json::to_value(location).unwrap(), json);
        }
        assert_eq!(
            parse_body_location(&[]),
            Err(ValueError::Length {
                characteristic: "Body Sensor Location (0x2A38)",
                len: 0
            })
        );
        assert!(parse_body_location(&[1, 0]).is_err());
    }

    #[test]
    fn battery_level_is_a_percentage() {
        assert_eq!(parse_battery_level(&[0]), Ok(0));
        assert_eq!(parse_battery_level(&[15]), Ok(15));
        assert_eq!(parse_battery_level(&[100]), Ok(100));
        assert_eq!(
            parse_battery_level(&[101]),
            Err(ValueError::BatteryAboveHundred(101))
        );
        assert_eq!(
            parse_battery_level(&[]).unwrap_err().to_string(),
            "Battery Level (0x2A19) must be exactly 1 byte long, got 0"
        );
        assert!(parse_battery_level(&[50, 0]).is_err());
    }

    #[test]
    fn device_information_strings_are_trimmed_of_padding() {
        assert_eq!(parse_utf8_string(b"H10\0\0"), Some("H10".to_owned()));
        assert_eq!(
            parse_utf8_string(b"Polar Electro Oy"),
            Some("Polar Electro Oy".to_owned())
        );
        assert_eq!(parse_utf8_string(b"\0\0"), None);
        assert_eq!(parse_utf8_string(b""), None);
        assert_eq!(
            parse_utf8_string(b"HRM\xff"),
            Some("HRM\u{fffd}".to_owned())
        );
    }
}
