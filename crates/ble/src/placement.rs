//! Which Bluetooth adapter each strap connects through: a pure function of the adapters' free
//! connections and of who hears which strap how well.
//!
//! A controller holds only a handful of connections (5 to 7 on most Linux and Windows machines,
//! about 14 on a Mac) and every strap needs one, so a room with many straps spreads them over
//! several adapters. The reader asks [`place_straps`] whenever straps wait for a link; it does
//! no I/O and reads no clock, so the policy is tested on tables here and the btleplug code only
//! applies its answer.
//!
//! The policy: connect as many waiting straps as the free links allow, earlier straps first
//! (the caller orders them, the reader by when it first heard each one); among the adapters that
//! could take a strap, prefer the one that hears it loudest. Straps already connected are never
//! moved to make room: a working link is worth more than a better one.

use crate::reader::{AdapterId, StrapId};

/// An adapter as placement sees it: how many more links it may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterRoom {
    /// Which adapter.
    pub adapter: AdapterId,
    /// Links it may still open: its budget minus the links it holds.
    pub free_links: usize,
}

/// A strap waiting for a link, and the adapters that hear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingStrap {
    /// Which strap.
    pub strap: StrapId,
    /// Each adapter that hears it, with the signal strength of its last advertisement in dBm
    /// (`None` when the platform did not say).
    pub heard_by: Vec<(AdapterId, Option<i16>)>,
}

/// Where a waiting strap goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Connect it through this adapter.
    Adapter(AdapterId),
    /// Adapters hear it, but none of them has a free link.
    NoFreeConnection,
    /// No adapter hears it (the one that did was removed).
    NotHeard,
}

/// Places `waiting` (in priority order) on `adapters`; one answer per waiting strap, in the same
/// order.
///
/// The most straps possible get a link (a maximum matching, by augmenting paths), and a strap
/// that gets one keeps it against any strap after it in the order: a later strap only ever
/// moves an earlier one to another adapter that hears it, never out. Each strap tries the
/// adapters that hear it loudest first (unknown signal last, then by adapter id), so when there
/// is room everywhere every strap lands on its loudest adapter.
pub fn place_straps(adapters: &[AdapterRoom], waiting: &[WaitingStrap]) -> Vec<Placement> {
    // Candidate adapters of each strap as indices into `adapters`, loudest first.
    let candidates: Vec<Vec<usize>> = waiting
        .iter()
        .map(|strap| {
            let mut heard: Vec<(usize, Option<i16>)> = strap
                .heard_by
                .iter()
                .filter_map(|(adapter, rssi)| {
                    let index = adapters.iter().position(|room| &room.adapter == adapter)?;
                    Some((index, *rssi))
                })
                .collect();
            heard.sort_by(|(a, a_rssi), (b, b_rssi)| {
                b_rssi
                    .unwrap_or(i16::MIN)
                    .cmp(&a_rssi.unwrap_or(i16::MIN))
                    .then_with(|| adapters[*a].adapter.cmp(&adapters[*b].adapter))
            });
            heard.into_iter().map(|(index, _)| index).collect()
        })
        .collect();

    let mut matching = Matching {
        capacity: adapters.iter().map(|room| room.free_links).collect(),
        placed_on: vec![None; waiting.len()],
        candidates: &candidates,
    };
    for strap in 0..waiting.len() {
        let mut visited = vec![false; adapters.len()];
        matching.augment(strap, &mut visited);
    }

    waiting
        .iter()
        .zip(&matching.placed_on)
        .zip(&candidates)
        .map(|((strap, placed_on), candidates)| match placed_on {
            Some(index) => Placement::Adapter(adapters[*index].adapter.clone()),
            None if strap.heard_by.is_empty() || candidates.is_empty() => Placement::NotHeard,
            None => Placement::NoFreeConnection,
        })
        .collect()
}

/// Kuhn's augmenting paths with capacities: `placed_on[strap]` is the adapter index a strap
/// holds a slot on.
struct Matching<'a> {
    capacity: Vec<usize>,
    placed_on: Vec<Option<usize>>,
    candidates: &'a [Vec<usize>],
}

impl Matching<'_> {
    /// Finds `strap` a slot: a free link on the loudest adapter that has one, or else a slot
    /// made by moving an already placed strap to another adapter that hears it. Free links
    /// come first so that nobody is moved while there is room elsewhere; each adapter is
    /// searched for movable straps once per search, which bounds the work.
    fn augment(&mut self, strap: usize, visited: &mut [bool]) -> bool {
        let candidates = &self.candidates[strap];
        if let Some(&adapter) = candidates
            .iter()
            .find(|&&adapter| !visited[adapter] && self.used(adapter) < self.capacity[adapter])
        {
            self.placed_on[strap] = Some(adapter);
            return true;
        }
        for &adapter in candidates {
            if visited[adapter] {
                continue;
            }
            visited[adapter] = true;
            let holders: Vec<usize> = (0..self.placed_on.len())
                .filter(|other| *other != strap && self.placed_on[*other] == Some(adapter))
                .collect();
            for holder in holders {
                if self.augment(holder, visited) {
                    self.placed_on[strap] = Some(adapter);
                    return true;
                }
            }
        }
        false
    }

    fn used(&self, adapter: usize) -> usize {
        self.placed_on
            .iter()
            .filter(|placed| **placed == Some(adapter))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `adapters`: (id, free links); `straps`: (id, [(adapter, rssi)]) in priority order;
    /// `expect`: per strap, the adapter id, "none" (no free connection) or "unheard".
    fn check(adapters: &[(&str, usize)], straps: &[(&str, &[(&str, i16)])], expect: &[&str]) {
        let rooms: Vec<AdapterRoom> = adapters
            .iter()
            .map(|(id, free_links)| AdapterRoom {
                adapter: AdapterId::new(*id),
                free_links: *free_links,
            })
            .collect();
        let waiting: Vec<WaitingStrap> = straps
            .iter()
            .map(|(id, heard_by)| WaitingStrap {
                strap: StrapId::new(*id),
                heard_by: heard_by
                    .iter()
                    .map(|(adapter, rssi)| (AdapterId::new(*adapter), Some(*rssi)))
                    .collect(),
            })
            .collect();
        let placed: Vec<String> = place_straps(&rooms, &waiting)
            .into_iter()
            .map(|placement| match placement {
                Placement::Adapter(adapter) => adapter.as_str().to_owned(),
                Placement::NoFreeConnection => "none".to_owned(),
                Placement::NotHeard => "unheard".to_owned(),
            })
            .collect();
        assert_eq!(placed, expect);
    }

    #[test]
    fn with_room_everywhere_each_strap_takes_its_loudest_adapter() {
        check(
            &[("hci0", 7), ("hci1", 7)],
            &[
                ("a", &[("hci0", -60), ("hci1", -70)]),
                ("b", &[("hci0", -75), ("hci1", -65)]),
                ("c", &[("hci1", -80)]),
            ],
            &["hci0", "hci1", "hci1"],
        );
    }

    #[test]
    fn a_full_loudest_adapter_sends_the_strap_to_the_next_one() {
        check(
            &[("hci0", 1), ("hci1", 3)],
            &[
                ("a", &[("hci0", -50), ("hci1", -70)]),
                ("b", &[("hci0", -50), ("hci1", -70)]),
            ],
            &["hci0", "hci1"],
        );
    }

    #[test]
    fn straps_beyond_every_budget_get_no_free_connection_latest_first() {
        // Two adapters with 2 links each, five straps heard by both: the first four connect.
        let both: &[(&str, i16)] = &[("hci0", -60), ("hci1", -62)];
        check(
            &[("hci0", 2), ("hci1", 2)],
            &[
                ("a", both),
                ("b", both),
                ("c", both),
                ("d", both),
                ("e", both),
            ],
            &["hci0", "hci0", "hci1", "hci1", "none"],
        );
    }

    #[test]
    fn an_earlier_strap_moves_to_its_other_adapter_to_make_room_for_a_later_one() {
        // a prefers hci0 but also reaches hci1; b reaches only hci0. Greedy would strand b;
        // placement moves a to hci1 and gives hci0 to b.
        check(
            &[("hci0", 1), ("hci1", 1)],
            &[
                ("a", &[("hci0", -50), ("hci1", -80)]),
                ("b", &[("hci0", -70)]),
            ],
            &["hci1", "hci0"],
        );
    }

    #[test]
    fn nobody_is_moved_while_a_free_link_is_left() {
        // The straps of an unplugged adapter, all louder on hci0: its one free link goes to the
        // first, hci1's two to the next two, and the last waits.
        let both: &[(&str, i16)] = &[("hci0", -58), ("hci1", -66)];
        check(
            &[("hci0", 1), ("hci1", 2)],
            &[("a", both), ("b", both), ("c", both), ("d", both)],
            &["hci0", "hci1", "hci1", "none"],
        );
    }

    #[test]
    fn a_later_strap_never_pushes_an_earlier_one_out() {
        // Only one link in the room, and both straps want it: the first keeps it.
        check(
            &[("hci0", 1)],
            &[("a", &[("hci0", -90)]), ("b", &[("hci0", -40)])],
            &["hci0", "none"],
        );
    }

    #[test]
    fn adapters_without_free_links_take_nothing() {
        check(
            &[("hci0", 0), ("hci1", 0)],
            &[("a", &[("hci0", -50), ("hci1", -50)])],
            &["none"],
        );
    }

    #[test]
    fn a_strap_heard_by_no_present_adapter_is_unheard() {
        // hci1 is gone (it is not among the adapters), and nobody else hears b.
        check(
            &[("hci0", 7)],
            &[("a", &[("hci0", -60)]), ("b", &[("hci1", -60)]), ("c", &[])],
            &["hci0", "unheard", "unheard"],
        );
    }

    #[test]
    fn equal_signal_goes_to_the_lower_adapter_id() {
        check(
            &[("hci1", 7), ("hci0", 7)],
            &[("a", &[("hci1", -60), ("hci0", -60)])],
            &["hci0"],
        );
    }

    #[test]
    fn unknown_signal_counts_as_the_weakest() {
        let rooms = [
            AdapterRoom {
                adapter: AdapterId::new("hci0"),
                free_links: 1,
            },
            AdapterRoom {
                adapter: AdapterId::new("hci1"),
                free_links: 1,
            },
        ];
        let waiting = [WaitingStrap {
            strap: StrapId::new("a"),
            heard_by: vec![
                (AdapterId::new("hci0"), None),
                (AdapterId::new("hci1"), Some(-95)),
            ],
        }];
        assert_eq!(
            place_straps(&rooms, &waiting),
            [Placement::Adapter(AdapterId::new("hci1"))]
        );
    }

    #[test]
    fn sixteen_straps_on_two_adapters_of_seven_links() {
        // The emulator's room: strap k is loudest on adapter (k - 1) mod 2, 8 dB weaker on the
        // other. Fourteen connect, seven per adapter, each on its loudest; 15 and 16 wait.
        let names: Vec<String> = (1..=16).map(|k| format!("s{k:02}")).collect();
        let heard: Vec<Vec<(&str, i16)>> = (1..=16)
            .map(|k: i16| {
                let nearest = -50 - 5 * ((k - 1) % 8 + 1);
                if k % 2 == 1 {
                    vec![("hci0", nearest), ("hci1", nearest - 8)]
                } else {
                    vec![("hci0", nearest - 8), ("hci1", nearest)]
                }
            })
            .collect();
        let straps: Vec<(&str, &[(&str, i16)])> = names
            .iter()
            .zip(&heard)
            .map(|(name, heard)| (name.as_str(), heard.as_slice()))
            .collect();
        let mut expect: Vec<&str> = (1..=14)
            .map(|k| if k % 2 == 1 { "hci0" } else { "hci1" })
            .collect();
        expect.extend(["none", "none"]);
        check(&[("hci0", 7), ("hci1", 7)], &straps, &expect);
    }

    #[test]
    fn nothing_waiting_places_nothing() {
        check(&[("hci0", 7)], &[], &[]);
    }
}
