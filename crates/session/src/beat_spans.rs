//! The stretches of beat time a participant's accepted batches cover: what makes a beat a
//! repeat, whatever batch (and `seq`) it comes in.
//!
//! A batch's beats are contiguous: each ended one RR after the one before. So a batch covers
//! one span of beat time, from where its first beat's RR interval began to its last beat.
//! Spans that touch (a batch that begins where the one before ended, as a phone's batches do)
//! merge into one, so a phone streaming for an hour holds a single span; a gap stays only where
//! beats are missing — a strap that lost contact, or a batch the hub refused, whose resend then
//! fills it. Spans whose beats are older than any batch the hub could still accept are
//! forgotten, and at most [`MAX_SPANS`] are kept, so the memory stays bounded whatever a client
//! sends.

/// Beats this close to an accepted one are the same beat sent again (a resend whose clock
/// offset moved a little): 150 ms is shorter than any real RR interval that is not an artifact
/// (400 bpm).
pub const SAME_BEAT_WITHIN_MS: f64 = 150.0;

/// Spans kept per participant at most. A real phone has a handful (one per gap in its beats
/// within the last minutes); reaching this takes a client sending many separate beats, each of
/// which has cost it beat time. Beyond it the oldest span is forgotten: its beats could be
/// stored again, but only by spending beat time again, so what a participant stores stays
/// bounded by time passed.
pub const MAX_SPANS: usize = 512;

/// One stretch of accepted beat time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Span {
    /// Where the first beat's RR interval began: a span ending here (or a little later) is
    /// followed by this one without a beat missing between them.
    pub begins_ms: f64,
    /// The first beat's time.
    pub first_beat_ms: f64,
    /// The last beat's time.
    pub last_beat_ms: f64,
}

impl Span {
    /// The span of a batch of `(time_ms, rr_ms)` beats, times ascending; `None` when empty.
    pub fn of_batch(beats: &[(f64, f64)]) -> Option<Span> {
        let &(first_beat_ms, first_rr_ms) = beats.first()?;
        let &(last_beat_ms, _) = beats.last()?;
        Some(Span {
            begins_ms: first_beat_ms - first_rr_ms,
            first_beat_ms,
            last_beat_ms,
        })
    }

    fn merged(self, other: Span) -> Span {
        Span {
            begins_ms: self.begins_ms.min(other.begins_ms),
            first_beat_ms: self.first_beat_ms.min(other.first_beat_ms),
            last_beat_ms: self.last_beat_ms.max(other.last_beat_ms),
        }
    }
}

/// A participant's accepted spans: ordered, and no two touch (they would have merged), so
/// both their beginnings and their last beats ascend.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AcceptedSpans {
    spans: Vec<Span>,
}

impl AcceptedSpans {
    /// Whether a beat at `time_ms` is one already accepted: it lies in an accepted span, or
    /// within [`SAME_BEAT_WITHIN_MS`] of one's first or last beat (a resend whose clock offset
    /// moved a little).
    pub fn covers(&self, time_ms: f64) -> bool {
        let index = self
            .spans
            .partition_point(|span| span.last_beat_ms + SAME_BEAT_WITHIN_MS < time_ms);
        self.spans
            .get(index)
            .is_some_and(|span| time_ms >= span.first_beat_ms - SAME_BEAT_WITHIN_MS)
    }

    /// Adds `span`, merged with every span it touches; then forgets spans whose beats are all
    /// older than `oldest_arrivable_ms` (no batch reaching back that far is accepted any more)
    /// and the oldest beyond [`MAX_SPANS`].
    pub fn insert(&mut self, span: Span, oldest_arrivable_ms: f64) {
        let start = self
            .spans
            .partition_point(|kept| kept.last_beat_ms + SAME_BEAT_WITHIN_MS < span.begins_ms);
        let end = self
            .spans
            .partition_point(|kept| kept.begins_ms <= span.last_beat_ms + SAME_BEAT_WITHIN_MS);
        let merged = self.spans[start..end]
            .iter()
            .fold(span, |merged, &kept| merged.merged(kept));
        self.spans.splice(start..end, [merged]);
        let forgotten = self
            .spans
            .partition_point(|kept| kept.last_beat_ms + SAME_BEAT_WITHIN_MS < oldest_arrivable_ms);
        let beyond_cap = self.spans.len().saturating_sub(MAX_SPANS);
        self.spans.drain(..forgotten.max(beyond_cap));
    }

    #[cfg(test)]
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch's span: `count` beats `rr_ms` apart, the first at `first_ms`.
    fn batch(first_ms: f64, rr_ms: f64, count: usize) -> Span {
        let beats: Vec<(f64, f64)> = (0..count)
            .map(|index| (first_ms + rr_ms * index as f64, rr_ms))
            .collect();
        Span::of_batch(&beats).unwrap()
    }

    const LONG_AGO: f64 = f64::NEG_INFINITY;

    #[test]
    fn a_phones_consecutive_batches_merge_into_one_span() {
        let mut accepted = AcceptedSpans::default();
        // A batch a second for an hour, each beginning where the one before ended.
        for second in 0..3_600 {
            accepted.insert(batch(f64::from(second) * 1_000.0, 1_000.0, 1), LONG_AGO);
        }
        assert_eq!(accepted.spans().len(), 1);
        assert!(accepted.covers(1_800_000.0));
        assert!(
            accepted.covers(3_599_000.0 + 100.0),
            "the same beat, 100 ms later"
        );
        assert!(!accepted.covers(3_600_000.0), "the next beat is new");
    }

    #[test]
    fn a_gap_stays_open_until_the_missing_batch_fills_it() {
        let mut accepted = AcceptedSpans::default();
        accepted.insert(batch(0.0, 1_000.0, 10), LONG_AGO); // 0–9 s
        accepted.insert(batch(20_000.0, 1_000.0, 10), LONG_AGO); // 20–29 s
        assert_eq!(accepted.spans().len(), 2);
        for second in 10..20 {
            let time_ms = f64::from(second) * 1_000.0;
            assert!(
                !accepted.covers(time_ms),
                "second {second} was never accepted"
            );
            assert!(!accepted.covers(time_ms + 40.0), "nor 40 ms later");
        }
        assert!(accepted.covers(9_100.0) && accepted.covers(19_900.0));
        accepted.insert(batch(10_000.0, 1_000.0, 10), LONG_AGO); // 10–19 s
        assert_eq!(accepted.spans().len(), 1, "the three are one stretch now");
    }

    #[test]
    fn a_span_touching_several_merges_them_all() {
        let mut accepted = AcceptedSpans::default();
        for first_ms in [0.0, 10_000.0, 20_000.0, 30_000.0] {
            accepted.insert(batch(first_ms, 1_000.0, 5), LONG_AGO);
        }
        assert_eq!(accepted.spans().len(), 4);
        accepted.insert(batch(3_000.0, 1_000.0, 25), LONG_AGO); // 3–27 s
        assert_eq!(
            accepted.spans(),
            [
                Span {
                    begins_ms: -1_000.0,
                    first_beat_ms: 0.0,
                    last_beat_ms: 27_000.0
                },
                Span {
                    begins_ms: 29_000.0,
                    first_beat_ms: 30_000.0,
                    last_beat_ms: 34_000.0
                }
            ]
        );
    }

    #[test]
    #[allow(clippy::cast_precision_loss)]
    fn spans_no_batch_can_reach_any_more_are_forgotten_and_the_count_is_capped() {
        let mut accepted = AcceptedSpans::default();
        accepted.insert(batch(0.0, 1_000.0, 5), LONG_AGO);
        accepted.insert(batch(100_000.0, 1_000.0, 5), 50_000.0);
        assert_eq!(
            accepted.spans().len(),
            1,
            "0–4 s is older than anything accepted now"
        );
        assert!(!accepted.covers(2_000.0));
        // Separate single beats, 2 s apart: the oldest go beyond the cap.
        for index in 0..(MAX_SPANS * 2) {
            let first_ms = 200_000.0 + 2_000.0 * index as f64;
            accepted.insert(batch(first_ms, 500.0, 1), LONG_AGO);
        }
        assert_eq!(accepted.spans().len(), MAX_SPANS);
        assert!(accepted.covers(200_000.0 + 2_000.0 * (MAX_SPANS * 2 - 1) as f64));
    }
}
