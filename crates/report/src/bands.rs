//! The coherence bands of a 0–100 score: **low** `< 40`, **medium** `40 ≤ score < 60`,
//! **high** `≥ 60` (coherence.md §2, the original platform's thresholds). The thresholds are
//! `synchub_protocol`'s named constants, so the report bands a score exactly as the live
//! engine, the wire and every client do; this module only names them for the charts.

use synchub_protocol::CoherencePhase;

/// Scores from here up are medium.
pub(crate) const MEDIUM_FROM: f64 = synchub_protocol::MEDIUM_COHERENCE_MIN_SCORE;
/// Scores from here up are high.
pub(crate) const HIGH_FROM: f64 = synchub_protocol::HIGH_COHERENCE_MIN_SCORE;

/// The band of a score (NaN counts as low, as in the live engine).
pub(crate) fn band_of(score: f64) -> CoherencePhase {
    CoherencePhase::from_score(score)
}

pub(crate) fn band_label(band: CoherencePhase) -> &'static str {
    match band {
        CoherencePhase::Low => "low",
        CoherencePhase::Medium => "medium",
        CoherencePhase::High => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges_belong_to_the_upper_band() {
        assert_eq!(band_of(39.999), CoherencePhase::Low);
        assert_eq!(band_of(40.0), CoherencePhase::Medium);
        assert_eq!(band_of(59.999), CoherencePhase::Medium);
        assert_eq!(band_of(60.0), CoherencePhase::High);
        assert_eq!(band_of(f64::NAN), CoherencePhase::Low);
        // The protocol's own classification agrees at every edge.
        for score in [0.0, 39.999, 40.0, 59.999, 60.0, 100.0] {
            assert_eq!(band_of(score), CoherencePhase::from_score(score));
        }
    }
}
