//! A simulated participant's heart as the hub hears it: the RR stream since the participant
//! started (a backfill of earlier beats included), cut into `rr_intervals` batches numbered
//! with `seq` that wait for their `rr_ack` — or, for a score-only participant, scored here the
//! way the original clients computed their own `update_coherence`.
//!
//! Batches outlive connections: one not acknowledged when a connection drops is sent again on
//! the next, in order. When to send and what the hub answered is the participant's business
//! (`client`);
//! this module keeps the beats and the bookkeeping.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use synchub_hrv::CoherenceAnalyzer;
use synchub_protocol::RrIntervals;

use crate::rr::{Profile, RrStream};

/// What a participant reports to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reporting {
    /// `rr_intervals` batches every second; the hub computes the score.
    RrBatches,
    /// `update_coherence` every 5 s with a score computed here (the original clients).
    ScoresOnly,
}

/// Milliseconds since the Unix epoch on this machine's clock, with sub-millisecond precision.
pub fn epoch_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Most beats in one `rr_intervals` message (protocol limit).
const MAX_RR_PER_BATCH: usize = synchub_protocol::limits::MAX_RR_PER_MESSAGE;

/// Longest backfill; the hub refuses beats older than 5 minutes.
const MAX_BACKFILL: Duration = Duration::from_secs(240);

/// A batch sent this long ago without an `rr_ack` is sent again on the same connection. The
/// hub acknowledges in tens of milliseconds when it can store; a refusal (`store_unavailable`,
/// `rate_limited`) leaves the batch to this timer.
pub(crate) const RESEND_AFTER: Duration = Duration::from_secs(3);

/// Window and warm-up of the score a score-only participant computes (`coherence.md` §2).
const SCORE_WINDOW_SECS: f64 = 64.0;
const SCORE_WARM_UP_SECS: f64 = 32.0;

thread_local! {
    /// One analyser per runtime thread, not per participant: it holds an FFT plan and
    /// buffers worth tens of kilobytes, and the work between two awaits is synchronous.
    static ANALYZER: RefCell<CoherenceAnalyzer> = RefCell::new(CoherenceAnalyzer::new());
}

/// One RR batch waiting for its `rr_ack`.
#[derive(Debug, Clone)]
pub(crate) struct PendingBatch {
    rr_ms: Vec<f64>,
    ended_at_ms: u64,
    /// When it was last sent on the current connection; `None`: not sent on it yet.
    pub(crate) sent_at: Option<Instant>,
    /// Whether it was already sent on an earlier connection.
    pub(crate) sent_before: bool,
}

/// The participant's beats and the batches the hub has not acknowledged yet.
#[derive(Debug)]
pub(crate) struct Beats {
    reporting: Reporting,
    stream: RrStream,
    /// When the stream began, on this machine's monotonic clock and on its wall clock.
    started: Instant,
    started_epoch_ms: f64,
    next_seq: u64,
    pending: BTreeMap<u64, PendingBatch>,
    /// Score-only participants: (beat end s, rr ms) of the last ~64 s.
    recent_beats: VecDeque<(f64, f64)>,
    batch_buffer: Vec<f64>,
}

impl Beats {
    /// A heart of `profile` drawn from `seed`, whose stream began `backfill` ago (at most
    /// 4 minutes), so the first batch carries those beats the way a phone sends its last
    /// minute of beats on joining.
    pub(crate) fn new(
        profile: Profile,
        seed: u64,
        reporting: Reporting,
        backfill: Duration,
    ) -> Self {
        // The hub accepts beats up to 5 minutes old; stay well inside that.
        let backfill = backfill.min(MAX_BACKFILL);
        let now = Instant::now();
        let started = now.checked_sub(backfill).unwrap_or(now);
        let started_epoch_ms = epoch_ms_now() - now.duration_since(started).as_secs_f64() * 1000.0;
        Beats {
            reporting,
            stream: RrStream::new(profile, seed),
            started,
            started_epoch_ms,
            next_seq: 1,
            pending: BTreeMap::new(),
            recent_beats: VecDeque::new(),
            batch_buffer: Vec::new(),
        }
    }

    /// Takes the beats that ended between the last call and `now`. An RR reporter cuts them
    /// into new pending batches, stamped on the hub's clock (`clock_offset_ms` is hub − local),
    /// and the number of new batches is returned; a score-only participant keeps them for its
    /// score.
    pub(crate) fn collect(&mut self, now: Instant, clock_offset_ms: f64) -> u64 {
        let now_secs = now.saturating_duration_since(self.started).as_secs_f64();
        self.batch_buffer.clear();
        let before_secs = self.stream.elapsed_secs();
        self.stream.beats_until(now_secs, &mut self.batch_buffer);
        let mut new_batches = 0;
        match self.reporting {
            Reporting::RrBatches => {
                // A message holds at most 300 beats (a long backfill or outage holds more).
                let mut end_secs = before_secs;
                for chunk in self.batch_buffer.chunks(MAX_RR_PER_BATCH) {
                    end_secs += chunk.iter().sum::<f64>() / 1000.0;
                    let ended_at_ms = self.started_epoch_ms + end_secs * 1000.0 + clock_offset_ms;
                    // Phones report whole milliseconds; it keeps the frames short too.
                    let rr_ms = chunk.iter().map(|rr| rr.round()).collect();
                    self.pending.insert(
                        self.next_seq,
                        PendingBatch {
                            rr_ms,
                            ended_at_ms: ended_at_ms.max(0.0) as u64,
                            sent_at: None,
                            sent_before: false,
                        },
                    );
                    self.next_seq += 1;
                    new_batches += 1;
                }
            }
            Reporting::ScoresOnly => {
                let mut time_secs = before_secs;
                for &rr_ms in &self.batch_buffer {
                    time_secs += rr_ms / 1000.0;
                    self.recent_beats.push_back((time_secs, rr_ms));
                }
                while self
                    .recent_beats
                    .front()
                    .is_some_and(|&(t, _)| t < time_secs - SCORE_WINDOW_SECS - 5.0)
                {
                    self.recent_beats.pop_front();
                }
            }
        }
        new_batches
    }

    /// Lets the beats that ended before `now` pass without reporting them: the participant was
    /// not in the session (it left, and has not joined again yet). Nothing waiting is touched.
    pub(crate) fn skip_until(&mut self, now: Instant) {
        let now_secs = now.saturating_duration_since(self.started).as_secs_f64();
        self.batch_buffer.clear();
        self.stream.beats_until(now_secs, &mut self.batch_buffer);
        self.batch_buffer.clear();
        self.recent_beats.clear();
    }

    /// The coherence score over the last 64 s of beats (or what there is, from 32 s on).
    pub(crate) fn current_score(&self) -> Option<f64> {
        let first_secs = self.recent_beats.front()?.0;
        let last_secs = self.recent_beats.back()?.0;
        if last_secs - first_secs < SCORE_WARM_UP_SECS {
            return None;
        }
        let window_secs = (last_secs - first_secs).min(SCORE_WINDOW_SECS);
        let times: Vec<f64> = self.recent_beats.iter().map(|&(t, _)| t).collect();
        let rr: Vec<f64> = self.recent_beats.iter().map(|&(_, rr)| rr).collect();
        // The window must end before the newest beat so the spline has a knot past it.
        let start_secs = last_secs - window_secs - 0.5;
        let window = ANALYZER.with(|analyzer| {
            analyzer.borrow_mut().analyze_window(
                &times,
                &rr,
                &[],
                start_secs.max(first_secs),
                window_secs - 1.0,
            )
        })?;
        Some(window.score.clamp(0.0, 100.0))
    }

    /// Batches not acknowledged yet.
    pub(crate) fn unacked(&self) -> usize {
        self.pending.len()
    }

    /// A new connection: nothing has been sent on it yet.
    pub(crate) fn forget_sends(&mut self) {
        for batch in self.pending.values_mut() {
            batch.sent_at = None;
        }
    }

    /// The batches to send at `now`, oldest first, as the events to send, with whether each is
    /// a resend, so that at most `in_flight_limit` wait for their `rr_ack` on this connection:
    /// those not yet sent on it, and those sent more than [`RESEND_AFTER`] ago without an
    /// `rr_ack` (the hub refused them with `store_unavailable` or `rate_limited`, or is still
    /// storing them: a phone resends until acknowledged, and the hub drops a duplicate it
    /// already has).
    pub(crate) fn unsent(
        &self,
        in_flight_limit: usize,
        now: Instant,
    ) -> Vec<(u64, RrIntervals, bool)> {
        let in_flight = self
            .pending
            .values()
            .filter(|batch| {
                batch
                    .sent_at
                    .is_some_and(|sent_at| now.saturating_duration_since(sent_at) < RESEND_AFTER)
            })
            .count();
        let limit = in_flight_limit.saturating_sub(in_flight);
        self.pending
            .iter()
            .filter(|(_, batch)| {
                batch
                    .sent_at
                    .is_none_or(|sent_at| now.saturating_duration_since(sent_at) >= RESEND_AFTER)
            })
            .take(limit)
            .map(|(&seq, batch)| {
                let event = RrIntervals {
                    rr: batch.rr_ms.clone(),
                    ended_at: Some(batch.ended_at_ms),
                    seq: Some(seq),
                };
                (seq, event, batch.sent_before)
            })
            .collect()
    }

    /// Batch `seq` went out on this connection at `sent_at`.
    pub(crate) fn mark_sent(&mut self, seq: u64, sent_at: Instant) {
        if let Some(batch) = self.pending.get_mut(&seq) {
            batch.sent_at = Some(sent_at);
            batch.sent_before = true;
        }
    }

    /// A batch numbered `seq` was made and is no longer waiting: the hub acknowledged it
    /// already (a second `rr_ack` follows a resend of a batch it had stored).
    pub(crate) fn was_acknowledged(&self, seq: u64) -> bool {
        seq < self.next_seq && !self.pending.contains_key(&seq)
    }

    /// The hub acknowledged batch `seq`: it is forgotten. `None` when no such batch waited.
    pub(crate) fn acknowledge(&mut self, seq: u64) -> Option<PendingBatch> {
        self.pending.remove(&seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synchub_protocol::{HIGH_COHERENCE_MIN_SCORE, MEDIUM_COHERENCE_MIN_SCORE};

    fn beats_with_backfill(profile: Profile, reporting: Reporting, backfill_secs: u64) -> Beats {
        Beats::new(profile, 5, reporting, Duration::from_secs(backfill_secs))
    }

    #[test]
    fn backfill_puts_the_last_minute_of_beats_into_the_first_batch() {
        let mut beats = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 60);
        assert_eq!(beats.collect(Instant::now(), 0.0), 1);
        assert_eq!(beats.unacked(), 1);
        let batch = &beats.pending[&1];
        let heart_rate_bpm = 60_000.0 / beats.stream.params().mean_rr_ms;
        let expected_beats = heart_rate_bpm; // one minute's worth
        assert!(
            (batch.rr_ms.len() as f64 - expected_beats).abs() < 0.15 * expected_beats,
            "{} beats at {heart_rate_bpm:.0} bpm",
            batch.rr_ms.len()
        );
        // The last beat ended just now (within one beat), not a minute ago.
        let age_ms = epoch_ms_now() - batch.ended_at_ms as f64;
        assert!((0.0..2500.0).contains(&age_ms), "{age_ms}");
    }

    #[test]
    fn beats_piled_up_by_a_long_outage_go_out_in_messages_of_at_most_300() {
        let mut beats = beats_with_backfill(Profile::Restless, Reporting::RrBatches, 240);
        // Seven minutes of beats in all: more than 300 at any heart rate we draw.
        beats.started -= Duration::from_secs(180);
        beats.started_epoch_ms -= 180_000.0;
        beats.collect(Instant::now(), 0.0);
        let sizes: Vec<usize> = beats.pending.values().map(|b| b.rr_ms.len()).collect();
        assert!(sizes.len() >= 2, "{sizes:?}");
        assert!(sizes.iter().all(|&n| (1..=300).contains(&n)), "{sizes:?}");
        let ends: Vec<u64> = beats.pending.values().map(|b| b.ended_at_ms).collect();
        assert!(ends.windows(2).all(|pair| pair[0] < pair[1]), "{ends:?}");
        let age_ms = epoch_ms_now() - *ends.last().unwrap() as f64;
        assert!((0.0..2500.0).contains(&age_ms), "{age_ms}");
    }

    #[test]
    fn batches_are_stamped_on_the_hub_clock() {
        let mut local = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 30);
        let mut ahead = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 30);
        // The same stream collected at the same moment, with the hub 5 s ahead.
        ahead.started = local.started;
        ahead.started_epoch_ms = local.started_epoch_ms;
        let now = Instant::now();
        local.collect(now, 0.0);
        ahead.collect(now, 5_000.0);
        let difference_ms =
            ahead.pending[&1].ended_at_ms as f64 - local.pending[&1].ended_at_ms as f64;
        assert!((difference_ms - 5_000.0).abs() <= 1.0, "{difference_ms}");
    }

    #[test]
    fn unacked_batches_are_sent_again_until_acknowledged() {
        let mut beats = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 5);
        let now = Instant::now();
        beats.collect(now, 0.0);
        beats.collect(now + Duration::from_secs(3), 0.0);
        let first: Vec<(u64, bool)> = beats
            .unsent(15, now)
            .into_iter()
            .map(|(seq, _, resend)| (seq, resend))
            .collect();
        assert_eq!(first, [(1, false), (2, false)]);
        for (seq, _) in &first {
            beats.mark_sent(*seq, now);
        }
        assert!(
            beats.unsent(15, now + Duration::from_secs(1)).is_empty(),
            "a batch waits for its ack before it goes out again"
        );
        let unanswered: Vec<u64> = beats
            .unsent(15, now + RESEND_AFTER)
            .into_iter()
            .map(|(seq, _, resend)| {
                assert!(resend);
                seq
            })
            .collect();
        assert_eq!(
            unanswered,
            [1, 2],
            "unanswered batches are resent on the same connection"
        );
        assert!(beats.acknowledge(1).is_some());
        assert!(beats.acknowledge(1).is_none(), "an ack is used once");
        beats.forget_sends();
        let again: Vec<(u64, bool)> = beats
            .unsent(15, now)
            .into_iter()
            .map(|(seq, _, resend)| (seq, resend))
            .collect();
        assert_eq!(
            again,
            [(2, true)],
            "only the unacknowledged batch, as a resend"
        );
    }

    #[test]
    fn a_backlog_goes_out_a_few_batches_at_a_time_as_acknowledgements_come_back() {
        let mut beats = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 1);
        let now = Instant::now();
        // A batch every 2 s (a beat ends in each) piled up while the phone was away.
        for tick in 1..=12 {
            beats.collect(now + Duration::from_secs(2 * tick), 0.0);
        }
        assert_eq!(beats.unacked(), 12);
        let later = now + Duration::from_secs(24);
        let first: Vec<u64> = beats.unsent(4, later).iter().map(|b| b.0).collect();
        assert_eq!(first, [1, 2, 3, 4], "oldest first, no more than the window");
        for seq in &first {
            beats.mark_sent(*seq, later);
        }
        assert!(
            beats.unsent(4, later).is_empty(),
            "the window is full until acknowledgements come back"
        );
        beats.acknowledge(1);
        beats.acknowledge(2);
        let next: Vec<u64> = beats.unsent(4, later).iter().map(|b| b.0).collect();
        assert_eq!(next, [5, 6], "each acknowledgement frees one place");
        for seq in &next {
            beats.mark_sent(*seq, later);
        }
        // Unanswered for RESEND_AFTER: they count as lost in flight and go out again first.
        let resent: Vec<(u64, bool)> = beats
            .unsent(4, later + RESEND_AFTER)
            .into_iter()
            .map(|(seq, _, resend)| (seq, resend))
            .collect();
        assert_eq!(resent, [(3, true), (4, true), (5, true), (6, true)]);
    }

    #[test]
    fn beats_skipped_while_away_are_never_reported() {
        let mut beats = beats_with_backfill(Profile::Coherent, Reporting::RrBatches, 5);
        let now = Instant::now();
        assert_eq!(beats.collect(now, 0.0), 1);
        let back = now + Duration::from_secs(20);
        beats.skip_until(back);
        assert_eq!(beats.unacked(), 1, "what waited still waits");
        assert_eq!(beats.collect(back + Duration::from_secs(2), 0.0), 1);
        let batch = &beats.pending[&2];
        assert!(
            batch.rr_ms.len() <= 4,
            "only the two seconds after coming back: {} beats",
            batch.rr_ms.len()
        );
    }

    #[test]
    fn score_only_participants_score_their_own_beats() {
        let score_after_backfill = |profile: Profile| {
            let mut beats = beats_with_backfill(profile, Reporting::ScoresOnly, 90);
            assert_eq!(
                beats.collect(Instant::now(), 0.0),
                0,
                "score-only participants send no RR"
            );
            assert_eq!(beats.unacked(), 0);
            beats.current_score()
        };
        let coherent = score_after_backfill(Profile::Coherent).unwrap();
        let restless = score_after_backfill(Profile::Restless).unwrap();
        assert!(coherent >= HIGH_COHERENCE_MIN_SCORE, "{coherent}");
        assert!(restless < MEDIUM_COHERENCE_MIN_SCORE, "{restless}");
        // Under 32 s of beats there is no score yet.
        let mut fresh = beats_with_backfill(Profile::Coherent, Reporting::ScoresOnly, 20);
        fresh.collect(Instant::now(), 0.0);
        assert_eq!(fresh.current_score(), None);
    }
}
