//! Correction (NeuroKit2's `_correct_artifacts`), never deletion: impossible intervals split
//! or merged first, then each round's decisions applied (extra beats merged, missed beats
//! split, ectopic and long/short beats moved to the midpoint of their neighbours).

use super::{
    ArtifactKind, MAX_PLAUSIBLE_RR_MS, MEDIAN_WINDOW_BEATS, MIN_PLAUSIBLE_RR_MS, WorkingBeat,
};

/// How many equal beats an impossibly long interval stands for, given the local median.
pub(super) fn split_count(rr_ms: f64, reference_rr_ms: Option<f64>) -> usize {
    let at_least = (rr_ms / MAX_PLAUSIBLE_RR_MS).ceil().max(2.0);
    let from_reference = reference_rr_ms
        .filter(|r| *r > 0.0)
        .map_or(0.0, |r| (rr_ms / r).round());
    // 60 000 ms / 250 ms: the most beats any valid interval can stand for.
    from_reference.max(at_least).min(240.0) as usize
}

fn split_beat(beat: WorkingBeat, pieces: usize, out: &mut Vec<WorkingBeat>) {
    let piece_ms = beat.rr_ms / pieces as f64;
    for m in 0..pieces {
        let before_end = (pieces - 1 - m) as f64 * piece_ms / 1000.0;
        out.push(WorkingBeat {
            time_secs: beat.time_secs - before_end,
            rr_ms: piece_ms,
            origin: beat.origin,
            corrected: true,
        });
    }
}

pub(super) fn median_of(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Median of up to 11 plausible intervals around `index`.
fn local_plausible_median(beats: &[WorkingBeat], index: usize) -> Option<f64> {
    let half = MEDIAN_WINDOW_BEATS / 2;
    let mut around: Vec<f64> = beats
        [index.saturating_sub(half)..(index + half + 1).min(beats.len())]
        .iter()
        .map(|beat| beat.rr_ms)
        .filter(|rr| (MIN_PLAUSIBLE_RR_MS..=MAX_PLAUSIBLE_RR_MS).contains(rr))
        .collect();
    median_of(&mut around)
}

pub(super) fn correct_impossible(
    beats: Vec<WorkingBeat>,
    detected: &mut Vec<(usize, ArtifactKind)>,
) -> Vec<WorkingBeat> {
    let mut out = Vec::with_capacity(beats.len());
    let mut carry: Option<WorkingBeat> = None;
    for (index, beat) in beats.iter().enumerate() {
        let mut beat = *beat;
        if let Some(short) = carry.take() {
            beat.rr_ms += short.rr_ms;
            beat.corrected = true;
        }
        if beat.rr_ms < MIN_PLAUSIBLE_RR_MS {
            detected.push((beat.origin, ArtifactKind::Impossible));
            if index + 1 < beats.len() {
                carry = Some(beat);
            } else if let Some(previous) = out.last_mut() {
                let previous: &mut WorkingBeat = previous;
                previous.rr_ms += beat.rr_ms;
                previous.time_secs = beat.time_secs;
                previous.corrected = true;
            } else {
                out.push(beat);
            }
        } else if beat.rr_ms > MAX_PLAUSIBLE_RR_MS {
            detected.push((beat.origin, ArtifactKind::Impossible));
            let pieces = split_count(beat.rr_ms, local_plausible_median(&beats, index));
            split_beat(beat, pieces, &mut out);
        } else {
            out.push(beat);
        }
    }
    out
}

/// Apply one round of decisions in NeuroKit2's order: extra beats merged, missed beats split,
/// then ectopic and long/short beats moved to the midpoint of their neighbours.
pub(super) fn apply_corrections(
    beats: Vec<WorkingBeat>,
    decisions: &[(usize, ArtifactKind)],
) -> Vec<WorkingBeat> {
    let kind_at = |index: usize| {
        decisions
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|at| decisions[at].1)
    };
    // Merge and split in one pass; remember where the beats to move ended up.
    let mut out: Vec<WorkingBeat> = Vec::with_capacity(beats.len() + decisions.len());
    let (mut ectopic, mut long_short) = (Vec::new(), Vec::new());
    let mut remember_move = |kind: Option<ArtifactKind>, at: usize| match kind {
        Some(ArtifactKind::Ectopic) => ectopic.push(at),
        Some(ArtifactKind::Long | ArtifactKind::Short) => long_short.push(at),
        _ => {}
    };
    let mut i = 0;
    while i < beats.len() {
        let beat = beats[i];
        match kind_at(i) {
            Some(ArtifactKind::Extra) if i + 1 < beats.len() => {
                let next = beats[i + 1];
                // A decision on the absorbed beat now applies to the merged one (NeuroKit2
                // shifts the later indices down by one).
                remember_move(kind_at(i + 1), out.len());
                out.push(WorkingBeat {
                    time_secs: next.time_secs,
                    rr_ms: beat.rr_ms + next.rr_ms,
                    origin: beat.origin,
                    corrected: true,
                });
                i += 2;
                continue;
            }
            Some(ArtifactKind::Missed) => split_beat(beat, 2, &mut out),
            kind => {
                remember_move(kind, out.len());
                out.push(beat);
            }
        }
        i += 1;
    }
    move_to_midpoints(&mut out, &ectopic);
    move_to_midpoints(&mut out, &long_short);
    out
}

/// Move each listed beat's end to the midpoint between its start and the next beat's end, all
/// computed from the positions before any move (NeuroKit2 does it vectorised). The interval
/// ending at the moved beat grows by the shift and the next one shrinks by it, so later beats
/// keep their times.
fn move_to_midpoints(beats: &mut [WorkingBeat], indices: &[usize]) {
    let shifts: Vec<(usize, f64)> = indices
        .iter()
        .filter(|&&j| j + 1 < beats.len())
        .map(|&j| {
            let start = beats[j].time_secs - beats[j].rr_ms / 1000.0;
            let midpoint = (start + beats[j + 1].time_secs) / 2.0;
            (j, midpoint - beats[j].time_secs)
        })
        .collect();
    for (j, shift_secs) in shifts {
        beats[j].time_secs += shift_secs;
        beats[j].rr_ms += shift_secs * 1000.0;
        beats[j].corrected = true;
        beats[j + 1].rr_ms -= shift_secs * 1000.0;
        beats[j + 1].corrected = true;
    }
}
