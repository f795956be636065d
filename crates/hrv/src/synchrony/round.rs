//! A synchrony round in steps a caller can spread out: begin, add each participant's series,
//! plan (both Kuramoto indices and the pairs to compute), compute the pairs a batch at a time,
//! finish. [`SynchronyAnalyzer::group`] runs the same steps in one call.

use rand::{SeedableRng, rngs::SmallRng};

use super::phase::PhaseExtractor;
use super::{
    ALL_PAIRS_MAX_PARTICIPANTS, GroupSynchrony, MIN_SAMPLES, PairSynchrony, SynchronyAnalyzer,
    mean_resultant, reset, strength,
};

/// Where a round stands between [`SynchronyAnalyzer::plan_round`] and
/// [`SynchronyAnalyzer::finish_round`].
#[derive(Debug, Default)]
pub(super) struct RoundProgress {
    index: f64,
    surrogate_index: f64,
    pairs: Vec<PairSynchrony>,
    next_pair: usize,
    strength_sum: f64,
    surrogate_strength_sum: f64,
}

impl SynchronyAnalyzer {
    /// Starts a round over series of `samples` samples (re-planning the FFT once if that is a
    /// new workable length; series of any other length are unusable). `seed` alone drives the
    /// surrogate shifts and the pair sample, as in [`SynchronyAnalyzer::group`]. Forgets the
    /// previous round.
    pub fn begin_round(&mut self, samples: usize, seed: u64) {
        if samples != self.phases.samples && samples >= MIN_SAMPLES {
            self.phases = PhaseExtractor::new(samples);
        }
        let samples = self.phases.samples;
        self.real.clear(samples);
        self.usable.clear();
        self.added = 0;
        self.rng = SmallRng::seed_from_u64(seed);
        self.shifts.clear();
        self.surrogate_lag_stats.clear();
        for sums in [
            &mut self.phase_sum_re,
            &mut self.phase_sum_im,
            &mut self.surrogate_sum_re,
            &mut self.surrogate_sum_im,
        ] {
            reset(sums, samples);
        }
        self.round.pairs.clear();
        self.pair_slots.clear();
        self.round.next_pair = 0;
    }

    /// Adds the next participant's series to the round begun by
    /// [`SynchronyAnalyzer::begin_round`]: it is detrended and phased at once, and the caller's
    /// buffer is free again. Returns whether it is usable; pair indices in the result count
    /// every series added (usable or not) from 0.
    pub fn add_series(&mut self, x: &[f64]) -> bool {
        let index = self.added;
        self.added += 1;
        let samples = self.phases.samples;
        let slot = self.real.slots;
        self.real.push_slot();
        let range = slot * samples..(slot + 1) * samples;
        let detrended = &mut self.one_series[0];
        reset(detrended, samples);
        let ok = self.phases.prepare(
            x,
            detrended,
            &mut self.real.phase_re[range.clone()],
            &mut self.real.phase_im[range],
        );
        if !ok {
            self.real.pop_slot();
            return false;
        }
        let padded = self.real.padded_range(slot);
        for (out, v) in self.real.padded[padded].iter_mut().zip(detrended.iter()) {
            *out = *v as f32;
        }
        self.real.fill_lag_stats(slot);
        self.usable.push(index);
        self.add_surrogate(slot);
        true
    }

    /// After the last [`SynchronyAnalyzer::add_series`]: both Kuramoto indices from the sums,
    /// and the pairs drawn (all of them up to [`ALL_PAIRS_MAX_PARTICIPANTS`] usable
    /// participants, else `max_pairs`). O(samples + pairs).
    pub fn plan_round(&mut self, max_pairs: usize) {
        let usable = self.usable.len();
        let interior = self.phases.interior();
        let (index, surrogate_index) = if usable >= 2 {
            (
                mean_resultant(
                    &self.phase_sum_re,
                    &self.phase_sum_im,
                    usable,
                    interior.clone(),
                ),
                mean_resultant(
                    &self.surrogate_sum_re,
                    &self.surrogate_sum_im,
                    usable,
                    interior,
                ),
            )
        } else {
            (0.0, 0.0)
        };
        choose_pairs(usable, max_pairs, &mut self.rng, &mut self.pair_slots);
        self.surrogate_pair.lead_slot = None;
        self.round = RoundProgress {
            index,
            surrogate_index,
            pairs: std::mem::take(&mut self.round.pairs),
            next_pair: 0,
            strength_sum: 0.0,
            surrogate_strength_sum: 0.0,
        };
        self.round.pairs.clear();
        self.round.pairs.reserve(self.pair_slots.len());
    }

    /// Computes up to `max_pairs` more of the planned pairs (real and surrogate); returns true
    /// once every pair is done. Each pair costs about the same, so a caller can bound the time
    /// of one call by the count.
    pub fn compute_pairs(&mut self, max_pairs: usize) -> bool {
        let interior = self.phases.interior();
        let start = self.round.next_pair;
        let end = start.saturating_add(max_pairs).min(self.pair_slots.len());
        for k in start..end {
            let (sa, sb) = self.pair_slots[k];
            let (correlation, _lag) = self.real.max_lag_correlation(sa, sb);
            let plv = self.real.plv(sa, sb, interior.clone());
            let pair_strength = strength(correlation, plv);
            let (surrogate_correlation, surrogate_plv) = self.surrogate_pair_figures(sa, sb);
            self.round.strength_sum += pair_strength;
            self.round.surrogate_strength_sum += strength(surrogate_correlation, surrogate_plv);
            self.round.pairs.push(PairSynchrony {
                a: self.usable[sa],
                b: self.usable[sb],
                correlation,
                plv,
                strength: pair_strength,
            });
        }
        self.round.next_pair = end;
        end == self.pair_slots.len()
    }

    /// The round's result, once [`SynchronyAnalyzer::compute_pairs`] returned true (pairs not
    /// computed by then are missing from it).
    pub fn finish_round(&mut self) -> GroupSynchrony {
        let all_pairs = self.usable.len() * self.usable.len().saturating_sub(1) / 2;
        let pairs = std::mem::take(&mut self.round.pairs);
        let (mean_strength, surrogate_mean_strength) = if pairs.is_empty() {
            (0.0, 0.0)
        } else {
            let n = pairs.len() as f64;
            (
                self.round.strength_sum / n,
                self.round.surrogate_strength_sum / n,
            )
        };
        GroupSynchrony {
            participants: self.added,
            index: self.round.index,
            surrogate_index: self.round.surrogate_index,
            pairs,
            pairs_sampled: self.pair_slots.len() < all_pairs,
            mean_strength,
            surrogate_mean_strength,
        }
    }
}

/// Which pairs of usable slots to compute, written into `pairs`: all of them (in `(a, b)`
/// order) up to [`ALL_PAIRS_MAX_PARTICIPANTS`], else `max_pairs` distinct ones drawn with
/// `rng`, sorted.
fn choose_pairs(
    usable: usize,
    max_pairs: usize,
    rng: &mut SmallRng,
    pairs: &mut Vec<(usize, usize)>,
) {
    pairs.clear();
    let all_pairs = usable * usable.saturating_sub(1) / 2;
    if usable <= ALL_PAIRS_MAX_PARTICIPANTS || max_pairs >= all_pairs {
        for a in 0..usable {
            for b in a + 1..usable {
                pairs.push((a, b));
            }
        }
        return;
    }
    let mut linear = rand::seq::index::sample(rng, all_pairs, max_pairs).into_vec();
    linear.sort_unstable();
    // Pairs are numbered row by row: row `a` holds (a, a+1) … (a, n−1) and starts at
    // `row_start`. The indices are sorted, so one forward walk decodes them all.
    let mut a = 0usize;
    let mut row_start = 0usize;
    for index in linear {
        while index >= row_start + (usable - 1 - a) {
            row_start += usable - 1 - a;
            a += 1;
        }
        pairs.push((a, a + 1 + (index - row_start)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_pairs_are_distinct_sorted_and_in_range() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut pairs = Vec::new();
        choose_pairs(300, 5000, &mut rng, &mut pairs);
        assert_eq!(pairs.len(), 5000);
        assert!(pairs.windows(2).all(|w| w[0] < w[1]));
        assert!(pairs.iter().all(|&(a, b)| a < b && b < 300));
    }

    #[test]
    fn every_pair_is_listed_in_order_up_to_the_limit() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut pairs = Vec::new();
        choose_pairs(4, 1, &mut rng, &mut pairs);
        assert_eq!(pairs, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]);
        // Above the limit, asking for at least every pair gives every pair.
        choose_pairs(201, usize::MAX, &mut rng, &mut pairs);
        assert_eq!(pairs.len(), 201 * 200 / 2);
    }
}
