//! Each participant's mean synchrony strength per round, from the stored pairs: every pair
//! counts for both of its participants.
//!
//! This is most of a large room's data — a room of 200 stores 19 900 pairs a round, 3.3 M in a
//! 15-minute session — so it is read the cheapest way SQLite offers and summed into dense
//! arrays rather than hash maps:
//!
//! - The writer commits a round and its pairs together and one session runs at a time, so a
//!   session's pair rows are one contiguous range of row ids. The range is found through the
//!   round index (first pair of the first round, last pair of the last) and then scanned by
//!   row id — no join, no index lookups per row. A row in that range that belongs to another
//!   session's round (not written by today's hub, but possible in a hand-merged file) is
//!   skipped by its round.
//! - Rounds and participants become dense indices (rows arrive round by round, so the round
//!   lookup happens once per round), and the sums live in one `participants × rounds` array.
//!
//! Grouping in SQL instead (a UNION of both sides, then GROUP BY) took 18–24 s for such a
//! session; a join of rounds and pairs with hash-map sums, about 2 s.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _};

use crate::input::StrengthPoint;

/// `participant_ref → strength points` (oldest first) for the session's rounds. With
/// `consented_only`, only participants who consented to research use, and only their pairs
/// with each other.
pub(super) fn per_participant(
    connection: &Connection,
    session_ref: i64,
    consented_only: bool,
) -> rusqlite::Result<HashMap<i64, Vec<StrengthPoint>>> {
    let rounds: Vec<(i64, i64)> = connection
        .prepare(
            "SELECT id, at_ms FROM synchrony_rounds WHERE session_ref = ?1 ORDER BY at_ms, id",
        )?
        .query_map([session_ref], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let references: Vec<i64> = connection
        .prepare(
            "SELECT id FROM session_participants WHERE session_ref = ?1 \
             AND (?2 = 0 OR research_consent = 1) ORDER BY id",
        )?
        .query_map([session_ref, i64::from(consented_only)], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let (Some(first_round), Some(last_round)) = (
        rounds.iter().map(|round| round.0).min(),
        rounds.iter().map(|round| round.0).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let Some((first_pair, last_pair)) = pair_id_range(connection, first_round, last_round)? else {
        return Ok(HashMap::new());
    };

    let round_index: HashMap<i64, usize> = rounds
        .iter()
        .enumerate()
        .map(|(index, round)| (round.0, index))
        .collect();
    let participants = Dense::new(&references);
    let round_count = rounds.len();
    // sums[participant * rounds + round] = (sum of strengths, pairs)
    let mut sums = vec![(0.0_f64, 0_u32); references.len() * round_count];

    let mut statement = connection.prepare(
        "SELECT round_ref, participant_a_ref, participant_b_ref, strength \
         FROM synchronization_pairs WHERE id BETWEEN ?1 AND ?2",
    )?;
    let mut rows = statement.query([first_pair, last_pair])?;
    // Rows come round by round: look a round up once, when it changes.
    let mut current: Option<(i64, Option<usize>)> = None;
    while let Some(row) = rows.next()? {
        let round_ref: i64 = row.get(0)?;
        let round = match current {
            Some((reference, index)) if reference == round_ref => index,
            _ => {
                let index = round_index.get(&round_ref).copied();
                current = Some((round_ref, index));
                index
            }
        };
        let Some(round) = round else {
            continue;
        };
        let strength: f64 = row.get(3)?;
        let sides = [
            participants.index(row.get::<_, i64>(1)?),
            participants.index(row.get::<_, i64>(2)?),
        ];
        // A pair with someone left out of the roster counts for nobody.
        if consented_only && sides.contains(&None) {
            continue;
        }
        for participant in sides.into_iter().flatten() {
            let cell = &mut sums[participant * round_count + round];
            cell.0 += strength;
            cell.1 += 1;
        }
    }

    Ok(references
        .iter()
        .enumerate()
        .filter_map(|(participant, &reference)| {
            let row = &sums[participant * round_count..(participant + 1) * round_count];
            let points: Vec<StrengthPoint> = row
                .iter()
                .zip(&rounds)
                .filter(|((_, pairs), _)| *pairs > 0)
                .map(|(&(sum, pairs), &(_, at_ms))| StrengthPoint {
                    at_ms,
                    mean_strength: sum / f64::from(pairs),
                })
                .collect();
            (!points.is_empty()).then_some((reference, points))
        })
        .collect())
}

/// The row ids of the first pair of `first_round` and the last of `last_round` (through the
/// `(round_ref)` index); `None` when those rounds stored no pairs. Rounds in between that
/// stored none are fine: the range covers them.
fn pair_id_range(
    connection: &Connection,
    first_round: i64,
    last_round: i64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    // The first round with pairs, and the last: a round of two participants whose series
    // were cut stores none.
    let first: Option<i64> = connection
        .query_row(
            "SELECT min(id) FROM synchronization_pairs WHERE round_ref = \
             (SELECT min(round_ref) FROM synchronization_pairs \
              WHERE round_ref BETWEEN ?1 AND ?2)",
            [first_round, last_round],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    let last: Option<i64> = connection
        .query_row(
            "SELECT max(id) FROM synchronization_pairs WHERE round_ref = \
             (SELECT max(round_ref) FROM synchronization_pairs \
              WHERE round_ref BETWEEN ?1 AND ?2)",
            [first_round, last_round],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    Ok(first.zip(last))
}

/// Participant row ids → 0-based indices, through an array when the ids are close together
/// (as AUTOINCREMENT makes one session's participants), else a hash map.
struct Dense {
    base: i64,
    by_offset: Vec<Option<usize>>,
    by_id: HashMap<i64, usize>,
}

impl Dense {
    /// Above this span of ids, the array would waste memory: use the map.
    const MAX_SPAN: i64 = 1 << 20;

    fn new(sorted_ids: &[i64]) -> Self {
        let (Some(&base), Some(&last)) = (sorted_ids.first(), sorted_ids.last()) else {
            return Self {
                base: 0,
                by_offset: Vec::new(),
                by_id: HashMap::new(),
            };
        };
        if last - base < Self::MAX_SPAN {
            let mut by_offset = vec![None; usize::try_from(last - base + 1).unwrap_or(0)];
            for (index, &id) in sorted_ids.iter().enumerate() {
                if let Some(slot) = usize::try_from(id - base)
                    .ok()
                    .and_then(|offset| by_offset.get_mut(offset))
                {
                    *slot = Some(index);
                }
            }
            Self {
                base,
                by_offset,
                by_id: HashMap::new(),
            }
        } else {
            Self {
                base,
                by_offset: Vec::new(),
                by_id: sorted_ids
                    .iter()
                    .enumerate()
                    .map(|(index, &id)| (id, index))
                    .collect(),
            }
        }
    }

    fn index(&self, id: i64) -> Option<usize> {
        if self.by_offset.is_empty() {
            return self.by_id.get(&id).copied();
        }
        usize::try_from(id - self.base)
            .ok()
            .and_then(|offset| self.by_offset.get(offset).copied().flatten())
    }
}
