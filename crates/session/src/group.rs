//! The group's coherence at one tick (coherence.md §5) and its running totals over a session.
//!
//! The engine collects the scores of fresh, good-quality participants in one pass over the room;
//! this module turns them into mean, median, standard deviation and distribution in O(n) (the
//! median by selection, not sorting), and keeps the session-long figures (peak, mean of the
//! 1 Hz averages, seconds per band) that go into the summary.

use synchub_hrv::CoherencePhase;

/// Mean, median, spread and distribution of one tick's fresh scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupStats {
    pub active_count: u32,
    /// 0 when nobody is active.
    pub average: f64,
    /// For an even count, the mean of the two middle scores; 0 when nobody is active.
    pub median: f64,
    /// Population standard deviation (divides by n): the fresh participants are the whole
    /// group being described, not a sample of a larger one. 0 for fewer than two.
    pub std: f64,
    pub low: u32,
    pub medium: u32,
    pub high: u32,
}

impl GroupStats {
    /// Computes the figures, reordering `scores` in place (selection for the median).
    pub fn from_scores(scores: &mut [f64]) -> Self {
        let count = scores.len();
        let (mut low, mut medium, mut high) = (0_u32, 0_u32, 0_u32);
        let mut sum = 0.0;
        for &score in scores.iter() {
            sum += score;
            match CoherencePhase::from_score(score) {
                CoherencePhase::Low => low += 1,
                CoherencePhase::Medium => medium += 1,
                CoherencePhase::High => high += 1,
            }
        }
        if count == 0 {
            return Self {
                active_count: 0,
                average: 0.0,
                median: 0.0,
                std: 0.0,
                low,
                medium,
                high,
            };
        }
        let count_f64 = count as f64;
        let average = sum / count_f64;
        // Two passes keep the variance exact for scores that are all close together.
        let variance = scores
            .iter()
            .map(|score| (score - average) * (score - average))
            .sum::<f64>()
            / count_f64;
        let middle = count / 2;
        let (lower_half, upper_middle, _) = scores.select_nth_unstable_by(middle, f64::total_cmp);
        let upper_middle = *upper_middle;
        let median = if count % 2 == 1 {
            upper_middle
        } else {
            let lower_middle = lower_half.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lower_middle + upper_middle) / 2.0
        };
        Self {
            active_count: u32::try_from(count).unwrap_or(u32::MAX),
            average,
            median,
            std: variance.sqrt(),
            low,
            medium,
            high,
        }
    }

    /// The group's band, from the average.
    pub fn phase(&self) -> CoherencePhase {
        CoherencePhase::from_score(self.average)
    }
}

/// Session-long figures, fed once per tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SessionTotals {
    /// Highest group average so far (ticks with at least one active participant).
    pub peak: Option<f64>,
    pub sum_of_averages: f64,
    pub ticks_with_average: u32,
    pub secs_low: f64,
    pub secs_medium: f64,
    pub secs_high: f64,
    pub sum_of_synchrony: f64,
    pub synchrony_rounds: u32,
}

impl SessionTotals {
    /// Adds one tick that covered `tick_secs` of the session. Ticks where nobody was active
    /// count for nothing: there was no group average to describe.
    pub fn add_tick(&mut self, stats: &GroupStats, tick_secs: f64) {
        if stats.active_count == 0 {
            return;
        }
        self.peak = Some(
            self.peak
                .map_or(stats.average, |peak| peak.max(stats.average)),
        );
        self.sum_of_averages += stats.average;
        self.ticks_with_average += 1;
        match stats.phase() {
            CoherencePhase::Low => self.secs_low += tick_secs,
            CoherencePhase::Medium => self.secs_medium += tick_secs,
            CoherencePhase::High => self.secs_high += tick_secs,
        }
    }

    pub fn add_synchrony(&mut self, index: f64) {
        self.sum_of_synchrony += index;
        self.synchrony_rounds += 1;
    }

    pub fn average(&self) -> Option<f64> {
        (self.ticks_with_average > 0)
            .then(|| self.sum_of_averages / f64::from(self.ticks_with_average))
    }

    pub fn average_synchrony(&self) -> Option<f64> {
        (self.synchrony_rounds > 0)
            .then(|| self.sum_of_synchrony / f64::from(self.synchrony_rounds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(scores: &[f64], expect: (u32, f64, f64, f64, [u32; 3])) {
        let mut scores = scores.to_vec();
        let stats = GroupStats::from_scores(&mut scores);
        let (active, average, median, std, [low, medium, high]) = expect;
        assert_eq!(stats.active_count, active);
        assert!((stats.average - average).abs() < 1e-9, "{stats:?}");
        assert!((stats.median - median).abs() < 1e-9, "{stats:?}");
        assert!((stats.std - std).abs() < 1e-9, "{stats:?}");
        assert_eq!((stats.low, stats.medium, stats.high), (low, medium, high));
    }

    #[test]
    fn nobody_active_gives_zeros() {
        check(&[], (0, 0.0, 0.0, 0.0, [0, 0, 0]));
    }

    #[test]
    fn one_score_is_its_own_mean_and_median() {
        check(&[70.0], (1, 70.0, 70.0, 0.0, [0, 0, 1]));
    }

    #[test]
    fn odd_count_median_is_the_middle_score() {
        // mean 50, deviations -30, 10, 20 → variance (900 + 100 + 400) / 3.
        check(
            &[60.0, 20.0, 70.0],
            (3, 50.0, 60.0, (1400.0_f64 / 3.0).sqrt(), [1, 0, 2]),
        );
    }

    #[test]
    fn even_count_median_is_the_mean_of_the_two_middle_scores() {
        check(
            &[10.0, 40.0, 59.9, 90.0],
            (4, 49.975, 49.95, 29.146_215_449_008_128, [1, 2, 1]),
        );
    }

    #[test]
    fn band_edges_follow_the_score_thresholds() {
        check(
            &[39.999, 40.0, 60.0],
            (
                3,
                46.666_333_333_333_334,
                40.0,
                9.428_326_126_919_643,
                [1, 1, 1],
            ),
        );
    }

    #[test]
    fn totals_skip_ticks_without_anyone_active() {
        let mut totals = SessionTotals::default();
        totals.add_tick(&GroupStats::from_scores(&mut []), 1.0);
        totals.add_tick(&GroupStats::from_scores(&mut [30.0]), 1.0);
        totals.add_tick(&GroupStats::from_scores(&mut [70.0]), 1.0);
        assert_eq!(totals.peak, Some(70.0));
        assert_eq!(totals.average(), Some(50.0));
        assert_eq!(
            (totals.secs_low, totals.secs_medium, totals.secs_high),
            (1.0, 0.0, 1.0)
        );
        assert_eq!(SessionTotals::default().average(), None);
    }
}
