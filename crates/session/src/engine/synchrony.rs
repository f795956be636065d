//! The synchrony round (coherence.md §6): every fifth tick, the heart-rate series of the
//! participants with hub-side beats go through one `SynchronyAnalyzer` round, and the result
//! is recorded with its tick's time.
//!
//! A large room's round is spread over wake-ups: the tick that starts it fixes the window and
//! the seed and does one slice of [`SYNCHRONY_SLICE_WORK`]; `poll_timeout` then asks to be
//! woken at once until the round is recorded, each `handle_timeout` doing one more slice. So an
//! input waits behind a slice of a few milliseconds, not behind the whole round.

use rand::RngCore;
use synchub_hrv::synchrony::SynchronyAnalyzer;

use super::Engine;
use crate::record::{PairRecord, Record, SynchronyRound};
use crate::timing::{FRESH_MS, SYNCHRONY_WINDOW_SECS};

/// Above this many pairs, a random sample of pairs (coherence.md §6).
pub const SYNCHRONY_MAX_PAIRS: usize = 20_000;
/// The synchrony window ends this long before the median newest final beat of the
/// participants (see `Engine::begin_synchrony`).
const SYNCHRONY_END_SLACK_SECS: f64 = 0.75;
/// Samples in one synchrony series: 64 s at 4 Hz.
pub(super) const SYNCHRONY_SAMPLES: usize = 256;
/// Work of one synchrony slice, in pair-equivalents: a large room's round is spread over
/// wake-ups of about this much work each (a few milliseconds), so inputs wait behind a slice,
/// not behind the whole round (0.2–0.4 s for 10 000 participants on this 2-core machine). A room whose
/// whole round fits (up to about 50 participants) still gets it within its tick.
const SYNCHRONY_SLICE_WORK: usize = 2_000;
/// What adding one participant's series costs, in pair-equivalents (resampling plus two FFTs
/// and the lag statistics, against one real and one surrogate pair).
const SYNCHRONY_SERIES_WORK: usize = 4;

/// A synchrony round between its tick and its record: which window, and how far it got.
#[derive(Debug, Clone, Copy)]
pub(super) struct SynchronyInProgress {
    /// The tick it belongs to (the record's `at_ms`).
    at_ms: i64,
    /// The common window's end, hub seconds.
    end_secs: f64,
    /// The next room slot whose participant is to be added.
    next_slot: usize,
    /// Every series added and the pairs drawn; only pairs remain.
    planned: bool,
}

impl Engine {
    /// The synchrony tick at `at_ms`: the previous round, if the caller has not given it
    /// enough wake-ups, ends first; then a new round begins and does its first slice.
    pub(super) fn start_synchrony_round(&mut self, at_ms: i64) {
        self.finish_synchrony();
        self.begin_synchrony(at_ms);
        self.continue_synchrony_slice();
    }

    /// One more slice of the round in progress (nothing without one).
    pub(super) fn continue_synchrony_slice(&mut self) {
        self.continue_synchrony(SYNCHRONY_SLICE_WORK);
    }

    /// The rest of the round in progress at once (nothing without one): before the next
    /// round or the session's end.
    pub(super) fn finish_synchrony(&mut self) {
        self.continue_synchrony(usize::MAX);
    }

    /// Starts a synchrony round over the participants whose analyser covers the last 64 s
    /// (coherence.md §6); [`Engine::continue_synchrony`] does the work.
    ///
    /// All series need one common time base, but each analyser holds only its last window
    /// (plus a 2 s margin) of final beats, and final beats lag arrival by cleaning's look-ahead
    /// and the phone's batching. So the window ends where most participants are: at the median
    /// of their newest final beats (among those with a beat in the last 15 s), less a little
    /// slack. Participants whose held beats do not cover that window sit this round out.
    fn begin_synchrony(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let at_secs = at_ms as f64 / 1000.0;
        let fresh_secs = FRESH_MS as f64 / 1000.0;
        let newest: &mut Vec<f64> = &mut self.scratch_scores;
        newest.clear();
        newest.extend(
            session
                .slots
                .iter()
                .flatten()
                .filter_map(|participant| participant.analyzer.as_deref()?.last_beat_time_secs())
                .filter(|&last_secs| at_secs - last_secs <= fresh_secs),
        );
        if newest.len() < 2 {
            return;
        }
        let middle = newest.len() / 2;
        let (_, median_secs, _) = newest.select_nth_unstable_by(middle, f64::total_cmp);
        let end_secs = *median_secs - SYNCHRONY_END_SLACK_SECS;
        self.scratch_series_ids.clear();
        let seed = self.rng.next_u64();
        self.synchrony
            .get_or_insert_with(|| SynchronyAnalyzer::new(SYNCHRONY_SAMPLES))
            .begin_round(SYNCHRONY_SAMPLES, seed);
        self.synchrony_round = Some(SynchronyInProgress {
            at_ms,
            end_secs,
            next_slot: 0,
            planned: false,
        });
    }

    /// Does up to `budget` pair-equivalents of the round in progress (see
    /// [`SYNCHRONY_SLICE_WORK`]): participants' series first, in slot order, then the pair
    /// plan, then the pairs; records the round when it is done. Participants who join or leave
    /// meanwhile are simply met or missed by the walk over the slots.
    fn continue_synchrony(&mut self, budget: usize) {
        let Some(mut round) = self.synchrony_round.take() else {
            return;
        };
        let (Some(session), Some(analyzer)) = (self.session.as_ref(), self.synchrony.as_mut())
        else {
            return;
        };
        let mut work = 0usize;
        while !round.planned && work < budget {
            let Some(slot) = session.slots.get(round.next_slot) else {
                if self.scratch_series_ids.len() < 2 {
                    // Nobody to compare: no round.
                    return;
                }
                analyzer.plan_round(SYNCHRONY_MAX_PAIRS);
                round.planned = true;
                break;
            };
            round.next_slot += 1;
            let Some(participant_analyzer) = slot
                .as_ref()
                .and_then(|participant| participant.analyzer.as_deref())
            else {
                continue;
            };
            work += SYNCHRONY_SERIES_WORK;
            let buffer = &mut self.scratch_series;
            if participant_analyzer.heart_rate_series(
                round.end_secs,
                SYNCHRONY_WINDOW_SECS,
                buffer,
                &mut self.workspace,
            ) && buffer.len() == SYNCHRONY_SAMPLES
            {
                analyzer.add_series(buffer);
                if let Some(participant) = slot {
                    self.scratch_series_ids.push(participant.id);
                }
            }
        }
        if !round.planned || !analyzer.compute_pairs(budget.saturating_sub(work)) {
            self.synchrony_round = Some(round);
            return;
        }
        let group = analyzer.finish_round();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let ids = &self.scratch_series_ids;
        let pairs = group
            .pairs
            .iter()
            .filter_map(|pair| {
                Some(PairRecord {
                    a: *ids.get(pair.a)?,
                    b: *ids.get(pair.b)?,
                    correlation: pair.correlation,
                    plv: pair.plv,
                    strength: pair.strength,
                })
            })
            .collect();
        session.synchrony_index = Some(group.index);
        session.synchrony_baseline = Some(group.surrogate_index);
        session.totals.add_synchrony(group.index);
        self.records.push_back(Record::Synchrony(SynchronyRound {
            session_id: session.id(),
            at_ms: round.at_ms,
            participants: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            index: group.index,
            surrogate_index: group.surrogate_index,
            mean_strength: group.mean_strength,
            surrogate_mean_strength: group.surrogate_mean_strength,
            pairs_sampled: group.pairs_sampled,
            pairs,
        }));
    }
}
