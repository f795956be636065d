//! Strict readers over `serde_json::Value` that report the exact field at fault.
//!
//! serde's derived `Deserialize` stops at the first problem with a message meant for
//! programmers; phones need to be told which field of which event was wrong, in a stable shape.
//! These readers never coerce: a string is never read as a number, a float never as an integer.

use serde_json::{Map, Value};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::limits::MAX_SAFE_INTEGER;

/// The JSON type of `value`, as written in error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields of one JSON object inside an event, with the path that leads to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    event: &'a str,
    prefix: Option<&'a str>,
    map: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Fields<'a> {
    /// The data of `event`. With `null_is_empty`, a missing or `null` payload reads as `{}`.
    pub(crate) fn of_data(
        event: &'a str,
        data: &'a Value,
        null_is_empty: bool,
    ) -> Result<Self, DecodeError> {
        match data {
            Value::Object(map) => Ok(Fields {
                event,
                prefix: None,
                map,
            }),
            Value::Null if null_is_empty => Ok(Fields {
                event,
                prefix: None,
                map: &EMPTY,
            }),
            Value::Null => Err(DecodeError::new(
                Some(event),
                None,
                DecodeErrorKind::MissingField,
            )),
            other => Err(DecodeError::new(
                Some(event),
                None,
                DecodeErrorKind::WrongType {
                    expected: "an object",
                    found: type_name(other),
                },
            )),
        }
    }

    /// The object in field `key`, read with `key` as the path prefix of its own fields.
    pub(crate) fn nested(&self, key: &'a str, value: &'a Value) -> Result<Fields<'a>, DecodeError> {
        match value {
            Value::Object(map) => Ok(Fields {
                event: self.event,
                prefix: Some(key),
                map,
            }),
            other => Err(self.wrong_type(key, "an object", other)),
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        match self.prefix {
            Some(prefix) => format!("{prefix}.{key}"),
            None => key.to_owned(),
        }
    }

    pub(crate) fn error(&self, key: &str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(Some(self.event), Some(self.path(key)), kind)
    }

    fn wrong_type(&self, key: &str, expected: &'static str, found: &Value) -> DecodeError {
        self.error(
            key,
            DecodeErrorKind::WrongType {
                expected,
                found: type_name(found),
            },
        )
    }

    /// The value of `key`; `null` counts as absent.
    pub(crate) fn optional(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// The value of `key`, which must be present and not `null`.
    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, DecodeError> {
        self.optional(key)
            .ok_or_else(|| self.error(key, DecodeErrorKind::MissingField))
    }

    /// A finite number. Strings that spell a non-finite number (`"NaN"`, `"Infinity"`) are
    /// reported as such, every other string as a wrong type.
    pub(crate) fn number(&self, key: &str, value: &Value) -> Result<f64, DecodeError> {
        match value {
            // serde_json numbers are always finite: the parser refuses NaN, Infinity and
            // literals beyond f64's range. `as_f64` only fails with `arbitrary_precision`.
            Value::Number(number) => number
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.error(key, DecodeErrorKind::NotFinite)),
            Value::String(text) if spells_non_finite(text) => {
                Err(self.error(key, DecodeErrorKind::NotFinite))
            }
            other => Err(self.wrong_type(key, "a number", other)),
        }
    }

    /// A finite number inside `lo..=hi` (with `lo_exclusive`, inside `lo<..=hi`).
    pub(crate) fn number_in(
        &self,
        key: &str,
        value: &Value,
        lo: f64,
        lo_exclusive: bool,
        hi: f64,
        allowed: &'static str,
    ) -> Result<f64, DecodeError> {
        let x = self.number(key, value)?;
        let above_lo = if lo_exclusive { x > lo } else { x >= lo };
        if above_lo && x <= hi {
            Ok(x)
        } else {
            Err(self.error(key, DecodeErrorKind::OutOfRange { allowed }))
        }
    }

    /// A whole number in `0..=2^53-1`. `3.0` is accepted (JSON does not distinguish it from
    /// `3`), `3.5` is a wrong type, `-1` is out of range.
    pub(crate) fn unsigned_integer(&self, key: &str, value: &Value) -> Result<u64, DecodeError> {
        if let Value::Number(number) = value {
            if let Some(n) = number.as_u64() {
                return if n <= MAX_SAFE_INTEGER {
                    Ok(n)
                } else {
                    Err(self.error(key, out_of_safe_range()))
                };
            }
            if number.as_i64().is_some() {
                return Err(self.error(key, out_of_safe_range()));
            }
        }
        let x = self.number(key, value)?;
        if x.fract() != 0.0 {
            return Err(self.wrong_type(key, "an integer", value));
        }
        whole_ms_from_f64(x).ok_or_else(|| self.error(key, out_of_safe_range()))
    }

    /// A time in milliseconds since the Unix epoch: any finite number in `0..=2^53-1`;
    /// a fractional part (Swift's `timeIntervalSince1970 * 1000`) is truncated.
    pub(crate) fn time_ms(&self, key: &str, value: &Value) -> Result<u64, DecodeError> {
        if let Value::Number(number) = value
            && let Some(n) = number.as_u64()
        {
            return if n <= MAX_SAFE_INTEGER {
                Ok(n)
            } else {
                Err(self.error(key, out_of_safe_range()))
            };
        }
        let x = self.number(key, value)?;
        whole_ms_from_f64(x.trunc()).ok_or_else(|| self.error(key, out_of_safe_range()))
    }

    pub(crate) fn boolean(&self, key: &str, value: &Value) -> Result<bool, DecodeError> {
        value
            .as_bool()
            .ok_or_else(|| self.wrong_type(key, "a boolean", value))
    }

    /// A string of at most `max_bytes` UTF-8 bytes.
    pub(crate) fn string(
        &self,
        key: &str,
        value: &'a Value,
        max_bytes: usize,
    ) -> Result<&'a str, DecodeError> {
        let text = value
            .as_str()
            .ok_or_else(|| self.wrong_type(key, "a string", value))?;
        if text.len() > max_bytes {
            return Err(self.error(
                key,
                DecodeErrorKind::StringTooLong {
                    len_bytes: text.len(),
                    max_bytes,
                },
            ));
        }
        Ok(text)
    }

    /// An optional string field where `""` means absent, as the original clients send it.
    pub(crate) fn optional_non_empty_string(
        &self,
        key: &str,
        max_bytes: usize,
    ) -> Result<Option<String>, DecodeError> {
        match self.optional(key) {
            None => Ok(None),
            Some(value) => {
                let text = self.string(key, value, max_bytes)?;
                Ok((!text.is_empty()).then(|| text.to_owned()))
            }
        }
    }

    /// An array.
    pub(crate) fn array(&self, key: &str, value: &'a Value) -> Result<&'a [Value], DecodeError> {
        value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.wrong_type(key, "an array", value))
    }
}

fn out_of_safe_range() -> DecodeErrorKind {
    DecodeErrorKind::OutOfRange {
        allowed: "0..=9007199254740991",
    }
}

fn whole_ms_from_f64(x: f64) -> Option<u64> {
    // The bounds check makes the cast exact: x is whole and inside 0..=2^53-1.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    ((0.0..=MAX_SAFE_INTEGER as f64).contains(&x)).then_some(x as u64)
}

/// Whether a string is how some JSON writers spell a non-finite number.
fn spells_non_finite(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "nan" | "-nan" | "+nan" | "infinity" | "-infinity" | "+infinity" | "inf" | "-inf" | "+inf"
    )
}
