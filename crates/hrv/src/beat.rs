//! What a heartbeat is, which RR values can never be one, and how a plain RR list becomes
//! beats.
//!
//! Everything else in the crate takes beats that passed [`validate_rr_ms`], so NaN, infinities
//! and negative intervals are stopped here with a reason instead of poisoning a spectrum.

/// Largest RR interval accepted as input at all (one minute). Intervals above 2500 ms
/// (`clean::MAX_PLAUSIBLE_RR_MS`) are accepted but corrected by cleaning.
pub const MAX_RR_MS: f64 = 60_000.0;

/// One heartbeat: the RR interval (ms) that ended at `time_secs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beat {
    /// When the interval ended, seconds on the caller's time origin.
    pub time_secs: f64,
    /// Length of the interval, milliseconds.
    pub rr_ms: f64,
}

/// Why an RR value can never be a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum InvalidRr {
    /// NaN or infinite.
    #[error("RR interval is not a finite number")]
    NotFinite,
    /// Zero or negative.
    #[error("RR interval {rr_ms} ms is not positive")]
    NotPositive {
        /// The rejected value.
        rr_ms: f64,
    },
    /// Longer than [`MAX_RR_MS`].
    #[error("RR interval {rr_ms} ms is longer than {MAX_RR_MS} ms")]
    TooLarge {
        /// The rejected value.
        rr_ms: f64,
    },
}

/// Accept any finite RR value in `(0, 60 000]` ms. Physiologically implausible values inside
/// that range (below 250 ms, above 2500 ms) are not errors: cleaning corrects them.
pub fn validate_rr_ms(rr_ms: f64) -> Result<(), InvalidRr> {
    if !rr_ms.is_finite() {
        Err(InvalidRr::NotFinite)
    } else if rr_ms <= 0.0 {
        Err(InvalidRr::NotPositive { rr_ms })
    } else if rr_ms > MAX_RR_MS {
        Err(InvalidRr::TooLarge { rr_ms })
    } else {
        Ok(())
    }
}

/// RR list to beats: beat `i` ends at `t_i = (rr_0 + … + rr_i)/1000` (coherence.md Input).
pub fn beats_from_rr_ms(rr_ms: &[f64]) -> Vec<Beat> {
    let mut elapsed_ms = 0.0;
    rr_ms
        .iter()
        .map(|&rr| {
            elapsed_ms += rr;
            Beat {
                time_secs: elapsed_ms / 1000.0,
                rr_ms: rr,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_gives_the_reason() {
        assert_eq!(validate_rr_ms(800.0), Ok(()));
        assert_eq!(validate_rr_ms(MAX_RR_MS), Ok(()));
        assert_eq!(validate_rr_ms(f64::NAN), Err(InvalidRr::NotFinite));
        assert_eq!(validate_rr_ms(f64::INFINITY), Err(InvalidRr::NotFinite));
        assert_eq!(
            validate_rr_ms(0.0),
            Err(InvalidRr::NotPositive { rr_ms: 0.0 })
        );
        assert_eq!(
            validate_rr_ms(-5.0),
            Err(InvalidRr::NotPositive { rr_ms: -5.0 })
        );
        assert_eq!(
            validate_rr_ms(60_001.0),
            Err(InvalidRr::TooLarge { rr_ms: 60_001.0 })
        );
    }
}
