//! The mandala's geometry: the room's state in, plain shapes out.
//!
//! This module is pure so the picture can be tested without a window, a GPU or a clock:
//! the caller passes the elapsed time (`advance(dt_secs)`) and the animation time
//! (`time_secs`); nothing here reads a clock or knows about egui. The egui layer only paints
//! the [`Shape`]s this module returns.
//!
//! The picture, from the centre out:
//! - a **centre bloom** whose size and glow follow the group's average coherence;
//! - one **petal per participant** in concentric rings; a participant's slot (from
//!   `room_snapshot`) fixes its ring and angle for the whole session, so nobody's petal moves
//!   when someone else leaves or joins; length and colour follow that person's coherence
//!   (bands at 40 and 60 through `CoherencePhase::from_score`: `synchub_protocol`'s
//!   `MEDIUM_COHERENCE_MIN_SCORE` and `HIGH_COHERENCE_MIN_SCORE`, as everywhere in Sync Hub),
//!   a warming-up signal is drawn faint;
//! - the **synchrony ring**: an outer ring of beads that closes and brightens as the group's
//!   synchrony index rises, with two open markers where chance alone (the hub's surrogate
//!   `synchronyBaseline`) would bring it;
//! - the **breathing pacer**: a ring that grows on the in-breath and shrinks on the out-breath.
//!
//! The hub sends the room once a second; every value drawn is smoothed towards its latest
//! target with a time constant of [`SMOOTHING_SECS`], so the mandala moves continuously at the
//! display's frame rate.

use std::collections::BTreeMap;
use std::f32::consts::{PI, TAU};

use synchub_protocol::{CoherencePhase, RoomSnapshot, SessionPhase, SignalQuality};

/// Time constant of the exponential smoothing between the hub's 1 Hz updates, in seconds.
pub const SMOOTHING_SECS: f32 = 0.7;

/// Petals in the innermost ring; each further ring holds twice as many as the one inside it.
pub const INNER_RING_PETALS: u32 = 12;

/// A colour, not premultiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Opacity.
    pub a: u8,
}

impl Rgba {
    /// An opaque colour.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b, a: 255 }
    }

    /// The same colour with opacity `alpha` in `[0, 1]`.
    pub fn with_alpha(self, alpha: f32) -> Self {
        Self {
            a: channel(alpha.clamp(0.0, 1.0) * 255.0),
            ..self
        }
    }

    /// Linear blend: `t = 0` is `self`, `t = 1` is `other`.
    pub fn lerp(self, other: Self, t: f32) -> Self {
        let t = t.clamp(0.0, 1.0);
        let mix = |a: u8, b: u8| channel(f32::from(a) + (f32::from(b) - f32::from(a)) * t);
        Self {
            r: mix(self.r, other.r),
            g: mix(self.g, other.g),
            b: mix(self.b, other.b),
            a: mix(self.a, other.a),
        }
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn channel(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// The colours of one group phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// The room behind the mandala.
    pub background: Rgba,
    /// The centre bloom.
    pub bloom: Rgba,
    /// The synchrony ring and the pacer.
    pub accent: Rgba,
}

/// The palette of the room when the group is in `phase`: deep and warm while the group is
/// restless, clearer and more luminous as it settles.
pub fn palette(phase: CoherencePhase) -> Palette {
    match phase {
        CoherencePhase::Low => Palette {
            background: Rgba::rgb(14, 10, 30),
            bloom: Rgba::rgb(236, 138, 92),
            accent: Rgba::rgb(196, 150, 220),
        },
        CoherencePhase::Medium => Palette {
            background: Rgba::rgb(8, 20, 38),
            bloom: Rgba::rgb(246, 204, 110),
            accent: Rgba::rgb(150, 210, 230),
        },
        CoherencePhase::High => Palette {
            background: Rgba::rgb(6, 26, 42),
            bloom: Rgba::rgb(255, 240, 200),
            accent: Rgba::rgb(170, 250, 235),
        },
    }
}

/// A petal's colour for a person whose score is in `band`.
pub fn petal_colour(band: CoherencePhase) -> Rgba {
    match band {
        // Ember: restless.
        CoherencePhase::Low => Rgba::rgb(224, 96, 84),
        // Gold: settling.
        CoherencePhase::Medium => Rgba::rgb(240, 190, 80),
        // Aqua: coherent.
        CoherencePhase::High => Rgba::rgb(90, 226, 200),
    }
}

/// Where a slot sits: its ring (0 is the innermost) and its place in that ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPosition {
    /// Ring index, 0 innermost.
    pub ring: u32,
    /// Index within the ring, in the order slots arrive.
    pub index: u32,
    /// How many petals the ring holds.
    pub ring_capacity: u32,
    /// Angular position within the ring, `0..ring_capacity`, clockwise from the top.
    pub angular: u32,
}

/// The fixed position of `slot`: ring 0 holds [`INNER_RING_PETALS`], each further ring twice
/// as many. It depends on the slot alone, which is what keeps petals from jumping.
pub fn slot_position(slot: u32) -> SlotPosition {
    let mut ring = 0;
    let mut first = 0u32;
    let mut capacity = INNER_RING_PETALS;
    while slot >= first.saturating_add(capacity) {
        first = first.saturating_add(capacity);
        capacity = capacity.saturating_mul(2);
        ring += 1;
    }
    let index = slot - first;
    // A ring fills evenly rather than sweeping round: its first 12 arrivals sit 30° apart,
    // the next 12 halve the gaps, and so on (bit-reversed order within each doubling), so a
    // partly filled outer ring stays balanced.
    let doublings = ring;
    let (spoke, step) = (index % INNER_RING_PETALS, index / INNER_RING_PETALS);
    let step_reversed = if doublings == 0 {
        0
    } else {
        step.reverse_bits() >> (32 - doublings)
    };
    SlotPosition {
        ring,
        index,
        ring_capacity: capacity,
        angular: spoke * (1 << doublings) + step_reversed,
    }
}

/// Exponential smoothing step: moves `value` towards `target` over `dt_secs`.
pub fn approach(value: f32, target: f32, dt_secs: f32) -> f32 {
    let k = 1.0 - (-dt_secs.max(0.0) / SMOOTHING_SECS).exp();
    value + (target - value) * k
}

/// How open the pacer is at breath phase `breath_phase` (in `[0, 1)`, 0 = start of the
/// in-breath): rises from 0 to 1 during the in-breath (`phase < inhale_ratio`), falls back to 0
/// during the out-breath, with eased ends so the turn of the breath is soft.
pub fn breath_openness(breath_phase: f64, inhale_ratio: f64) -> f32 {
    let ratio = inhale_ratio.clamp(0.05, 0.95);
    let phase = breath_phase.rem_euclid(1.0);
    let rising = if phase < ratio {
        phase / ratio
    } else {
        1.0 - (phase - ratio) / (1.0 - ratio)
    };
    #[allow(clippy::cast_possible_truncation)]
    let eased = ((1.0 - (std::f64::consts::PI * rising).cos()) / 2.0) as f32;
    eased
}

/// Whether the room is breathing in at `breath_phase`.
pub fn is_inhaling(breath_phase: f64, inhale_ratio: f64) -> bool {
    breath_phase.rem_euclid(1.0) < inhale_ratio
}

/// One participant's petal as it is being drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Petal {
    /// Shown coherence, smoothed towards `target_coherence`.
    coherence: f32,
    target_coherence: f32,
    /// 0 (gone) to 1 (present): petals fade in and out instead of popping.
    presence: f32,
    present: bool,
    quality: SignalQuality,
}

/// The room as the mandala shows it: the latest targets from the hub and the smoothed values
/// being drawn.
#[derive(Debug, Clone)]
pub struct Mandala {
    session_id: Option<String>,
    petals: BTreeMap<u32, Petal>,
    /// Rings in use, smoothed, so the picture zooms gently when a new ring opens.
    ring_extent: f32,
    group_average: f32,
    target_group_average: f32,
    synchrony: f32,
    target_synchrony: f32,
    /// The chance level of the synchrony index, when the hub sends one (not smoothed: it is
    /// a reference mark, and jumps are rare).
    synchrony_baseline: Option<f32>,
    background: Rgba,
    /// The session phase and time left from the latest snapshot.
    pub session_phase: SessionPhase,
    /// ms left in the current phase at the latest snapshot.
    pub phase_time_left_ms: u64,
    /// ms left in the session at the latest snapshot.
    pub session_time_left_ms: u64,
}

impl Default for Mandala {
    fn default() -> Self {
        Self::new()
    }
}

impl Mandala {
    /// An empty room.
    pub fn new() -> Self {
        Self {
            session_id: None,
            petals: BTreeMap::new(),
            ring_extent: 1.0,
            group_average: 0.0,
            target_group_average: 0.0,
            synchrony: 0.0,
            target_synchrony: 0.0,
            synchrony_baseline: None,
            background: palette(CoherencePhase::Low).background,
            session_phase: SessionPhase::Complete,
            phase_time_left_ms: 0,
            session_time_left_ms: 0,
        }
    }

    /// Takes in a `room_snapshot`: new targets for every petal. Participants missing from it
    /// fade out in place; a new session starts with a fresh ring.
    pub fn apply_snapshot(&mut self, snapshot: &RoomSnapshot) {
        if snapshot.session_id != self.session_id {
            // Slots are stable within a session; a new session numbers its room afresh.
            // Petals of the old session that nobody takes over fade out below.
            self.session_id.clone_from(&snapshot.session_id);
        }
        for petal in self.petals.values_mut() {
            petal.present = false;
        }
        for participant in &snapshot.participants {
            #[allow(clippy::cast_possible_truncation)]
            let target = participant.coherence.clamp(0.0, 100.0) as f32;
            let petal = self.petals.entry(participant.slot).or_insert(Petal {
                coherence: target,
                target_coherence: target,
                presence: 0.0,
                present: true,
                quality: participant.quality,
            });
            petal.target_coherence = target;
            petal.present = true;
            petal.quality = participant.quality;
        }
        // The group figure drawn in the centre: the mean over people with a usable score,
        // like the hub's own average (warming-up zeros would drag the bloom down).
        let scored: Vec<f64> = snapshot
            .participants
            .iter()
            .filter(|p| p.quality == SignalQuality::Good)
            .map(|p| p.coherence)
            .collect();
        if !scored.is_empty() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let mean = (scored.iter().sum::<f64>() / scored.len() as f64) as f32;
            self.target_group_average = mean;
        }
        self.session_phase = snapshot.phase;
        self.phase_time_left_ms = snapshot.phase_time_left;
        self.session_time_left_ms = snapshot.session_time_left;
    }

    /// Takes in the group's figures from `group_metrics_update` (the hub's own average, and the
    /// synchrony index and its chance level in `[0, 1]` when it has them).
    pub fn apply_group(
        &mut self,
        average_coherence: f64,
        synchrony_index: Option<f64>,
        synchrony_baseline: Option<f64>,
    ) {
        #[allow(clippy::cast_possible_truncation)]
        {
            self.target_group_average = average_coherence.clamp(0.0, 100.0) as f32;
            if let Some(index) = synchrony_index {
                self.target_synchrony = index.clamp(0.0, 1.0) as f32;
                self.synchrony_baseline =
                    synchrony_baseline.map(|baseline| baseline.clamp(0.0, 1.0) as f32);
            }
        }
    }

    /// Moves every shown value `dt_secs` closer to its target; forgets petals that have faded.
    pub fn advance(&mut self, dt_secs: f32) {
        for petal in self.petals.values_mut() {
            petal.coherence = approach(petal.coherence, petal.target_coherence, dt_secs);
            let presence_target = if petal.present { 1.0 } else { 0.0 };
            petal.presence = approach(petal.presence, presence_target, dt_secs);
        }
        self.petals
            .retain(|_, petal| petal.present || petal.presence > 0.01);
        self.group_average = approach(self.group_average, self.target_group_average, dt_secs);
        self.synchrony = approach(self.synchrony, self.target_synchrony, dt_secs);
        let rings_needed = self
            .petals
            .keys()
            .next_back()
            .map_or(1, |&slot| slot_position(slot).ring + 1);
        #[allow(clippy::cast_precision_loss)]
        let rings_needed = rings_needed as f32;
        self.ring_extent = approach(self.ring_extent, rings_needed, dt_secs);
        let target_background = palette(self.group_phase()).background;
        self.background = self
            .background
            .lerp(target_background, 1.0 - (-dt_secs / 3.0).exp());
    }

    /// Participants present at the latest snapshot.
    pub fn participant_count(&self) -> usize {
        self.petals.values().filter(|petal| petal.present).count()
    }

    /// The group's average coherence as currently shown.
    pub fn group_average(&self) -> f32 {
        self.group_average
    }

    /// The group's band as currently shown.
    pub fn group_phase(&self) -> CoherencePhase {
        CoherencePhase::from_score(f64::from(self.group_average))
    }

    /// The room's background colour as currently shown.
    pub fn background(&self) -> Rgba {
        self.background
    }

    /// The shown coherence of the petal in `slot`, if that slot is on screen.
    pub fn shown_coherence(&self, slot: u32) -> Option<f32> {
        self.petals.get(&slot).map(|petal| petal.coherence)
    }

    /// The shapes to paint, back to front, for a mandala of outer radius `radius` around
    /// `centre`, at animation time `time_secs`, with the pacer open by `pacer_openness`
    /// (`None` hides it).
    pub fn shapes(
        &self,
        centre: [f32; 2],
        radius: f32,
        time_secs: f32,
        pacer_openness: Option<f32>,
    ) -> Vec<Shape> {
        let palette = palette(self.group_phase());
        let calm = (self.group_average / 100.0).clamp(0.0, 1.0);
        let mut shapes = Vec::with_capacity(self.petals.len() + 200);

        // The pacer sits behind everything: a soft halo inside a clear edge. (A halo rather
        // than a filled disc: filling half the screen with a translucent colour costs a
        // software renderer more than all the petals.)
        if let Some(openness) = pacer_openness {
            let openness = openness.clamp(0.0, 1.0);
            let pacer_radius = radius * (0.6 + 0.3 * openness);
            let halo_width = radius * 0.07;
            shapes.push(Shape::Circle {
                centre,
                radius: pacer_radius - halo_width / 2.0,
                fill: Rgba::rgb(0, 0, 0).with_alpha(0.0),
                stroke: Some((
                    halo_width,
                    palette.accent.with_alpha(0.05 + 0.06 * openness),
                )),
            });
            shapes.push(Shape::Circle {
                centre,
                radius: pacer_radius,
                fill: Rgba::rgb(0, 0, 0).with_alpha(0.0),
                stroke: Some((3.0, palette.accent.with_alpha(0.45 + 0.25 * openness))),
            });
        }

        // Petal rings between the bloom and the synchrony ring.
        let inner = radius * 0.24;
        let outer = radius * 0.86;
        let band = (outer - inner) / self.ring_extent.max(1.0);
        // The whole flower turns very slowly; calmer rooms turn slower still.
        let turn = time_secs * (0.012 - 0.006 * calm);
        for (&slot, petal) in &self.petals {
            if petal.presence <= 0.01 {
                continue;
            }
            let position = slot_position(slot);
            #[allow(clippy::cast_precision_loss)]
            let (ring, index, capacity) = (
                position.ring as f32,
                position.angular as f32,
                position.ring_capacity as f32,
            );
            // Alternate rings are offset by half a petal, like the rows of a sunflower.
            let stagger = if position.ring % 2 == 1 { 0.5 } else { 0.0 };
            let angle = turn + TAU * (index + stagger) / capacity - PI / 2.0;
            let base = inner + band * ring;
            let strength = (petal.coherence / 100.0).clamp(0.0, 1.0);
            let length = band * (0.45 + 0.55 * strength) * petal.presence;
            // Slender leaves: never wider than about half their length.
            let half_width = (PI * (base + length * 0.5) / capacity * (0.55 + 0.3 * strength))
                .min(length * 0.24);
            let band_of_petal = CoherencePhase::from_score(f64::from(petal.coherence));
            let quality_alpha = match petal.quality {
                SignalQuality::Good => 0.95,
                SignalQuality::Low => 0.6,
                SignalQuality::WarmingUp => 0.35,
            };
            let colour = petal_colour(band_of_petal)
                .lerp(Rgba::rgb(255, 255, 255), 0.25 * strength)
                .with_alpha(quality_alpha * petal.presence);
            shapes.push(Shape::Petal(PetalShape {
                slot,
                band: band_of_petal,
                points: petal_outline(centre, angle, base, length, half_width),
                fill: colour,
            }));
            // A lighter heart inside each petal gives it depth; it glows more as the person
            // settles. Petals too small to show it go without.
            if length < 36.0 {
                continue;
            }
            shapes.push(Shape::Highlight(PetalShape {
                slot,
                band: band_of_petal,
                points: petal_outline(
                    centre,
                    angle,
                    base + length * 0.12,
                    length * 0.6,
                    half_width * 0.35,
                ),
                fill: Rgba::rgb(255, 252, 240)
                    .with_alpha((0.12 + 0.3 * strength) * quality_alpha * petal.presence),
            }));
        }

        // Centre bloom: layered discs and a slowly turning eight-fold star.
        let bloom_radius = inner * (0.45 + 0.5 * calm);
        for layer in 0..4u8 {
            let k = f32::from(layer) / 4.0;
            shapes.push(Shape::Circle {
                centre,
                radius: bloom_radius * (1.0 - 0.22 * f32::from(layer)) + inner * 0.1 * (1.0 - k),
                fill: palette.bloom.with_alpha(0.12 + 0.2 * k + 0.25 * calm * k),
                stroke: None,
            });
        }
        let star_turn = time_secs * 0.05;
        for ray in 0..8u8 {
            let angle = star_turn + TAU * f32::from(ray) / 8.0;
            shapes.push(Shape::Petal(PetalShape {
                slot: u32::MAX,
                band: self.group_phase(),
                points: petal_outline(centre, angle, 0.0, bloom_radius * 0.9, bloom_radius * 0.18),
                fill: Rgba::rgb(255, 250, 235).with_alpha(0.18 + 0.3 * calm),
            }));
        }

        // Synchrony ring: beads around the outside; the lit arc closes as synchrony rises.
        let beads = 96u16;
        let ring_radius = radius * 0.95;
        let lit = self.synchrony.clamp(0.0, 1.0);
        for bead in 0..beads {
            let fraction = f32::from(bead) / f32::from(beads);
            let angle = TAU * fraction - PI / 2.0;
            // The lit arc grows symmetrically from the top, both ways, until it closes.
            let distance_from_top = (fraction.min(1.0 - fraction)) * 2.0;
            // Half a bead of slack, so a smoothed value a hair below 1 still closes the ring.
            let on = distance_from_top <= lit + 0.5 / f32::from(beads);
            let (alpha, size) = if on {
                (0.45 + 0.5 * lit, radius * 0.009)
            } else {
                (0.12, radius * 0.005)
            };
            shapes.push(Shape::Circle {
                centre: [
                    centre[0] + ring_radius * angle.cos(),
                    centre[1] + ring_radius * angle.sin(),
                ],
                radius: size,
                fill: palette.accent.with_alpha(alpha),
                stroke: None,
            });
        }
        // The chance level: an open marker on each side where the lit arc would end if the
        // room's rhythms were only as aligned as chance makes them.
        if let Some(baseline) = self.synchrony_baseline {
            for fraction in [baseline / 2.0, 1.0 - baseline / 2.0] {
                let angle = TAU * fraction - PI / 2.0;
                shapes.push(Shape::Circle {
                    centre: [
                        centre[0] + ring_radius * angle.cos(),
                        centre[1] + ring_radius * angle.sin(),
                    ],
                    radius: radius * 0.016,
                    fill: Rgba::rgb(0, 0, 0).with_alpha(0.0),
                    stroke: Some((radius * 0.003, palette.accent.with_alpha(0.9))),
                });
            }
        }
        shapes
    }
}

/// A lens-shaped petal: from `base` to `base + length` along `angle`, `half_width` at its
/// widest. Convex, so the painter can fill it directly.
fn petal_outline(
    centre: [f32; 2],
    angle: f32,
    base: f32,
    length: f32,
    half_width: f32,
) -> Vec<[f32; 2]> {
    // Small petals (hundreds of people) need fewer points to look smooth; fewer points keep
    // 500 petals within a frame on a software renderer.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let side_points = (length / 9.0).clamp(3.0, 8.0) as u8;
    let (sin, cos) = angle.sin_cos();
    let along = |distance: f32, across: f32| {
        [
            centre[0] + cos * distance - sin * across,
            centre[1] + sin * distance + cos * across,
        ]
    };
    let mut points = Vec::with_capacity(usize::from(side_points) * 2 + 2);
    points.push(along(base, 0.0));
    for i in 1..=side_points {
        let t = f32::from(i) / f32::from(side_points + 1);
        points.push(along(base + length * t, half_width * (PI * t).sin()));
    }
    points.push(along(base + length, 0.0));
    for i in (1..=side_points).rev() {
        let t = f32::from(i) / f32::from(side_points + 1);
        points.push(along(base + length * t, -half_width * (PI * t).sin()));
    }
    points
}

/// A participant's petal, ready to fill.
#[derive(Debug, Clone, PartialEq)]
pub struct PetalShape {
    /// The participant's slot (`u32::MAX` for the bloom's rays).
    pub slot: u32,
    /// The band its colour shows.
    pub band: CoherencePhase,
    /// Convex outline, in screen coordinates.
    pub points: Vec<[f32; 2]>,
    /// Fill colour.
    pub fill: Rgba,
}

/// One thing to paint.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A disc, optionally with an edge `(width, colour)`.
    Circle {
        /// Centre in screen coordinates.
        centre: [f32; 2],
        /// Radius in pixels.
        radius: f32,
        /// Fill colour (transparent for a ring only).
        fill: Rgba,
        /// Edge width and colour.
        stroke: Option<(f32, Rgba)>,
    },
    /// A filled convex polygon: a participant's petal, or a ray of the centre bloom.
    Petal(PetalShape),
    /// The lighter heart drawn over a participant's petal.
    Highlight(PetalShape),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_positions_fill_rings_of_doubling_size() {
        let check = |slot, ring, index, ring_capacity, angular| {
            assert_eq!(
                slot_position(slot),
                SlotPosition {
                    ring,
                    index,
                    ring_capacity,
                    angular
                },
                "slot {slot}"
            );
        };
        check(0, 0, 0, 12, 0);
        check(11, 0, 11, 12, 11);
        check(12, 1, 0, 24, 0);
        check(13, 1, 1, 24, 2);
        check(24, 1, 12, 24, 1);
        check(36, 2, 0, 48, 0);
        check(48, 2, 12, 48, 2);
        check(60, 2, 24, 48, 1);
    }

    #[test]
    fn every_slot_of_a_ring_has_its_own_place() {
        for ring_first in [12u32, 36, 84, 180] {
            let capacity = slot_position(ring_first).ring_capacity;
            let mut places: Vec<u32> = (ring_first..ring_first + capacity)
                .map(|slot| slot_position(slot).angular)
                .collect();
            places.sort_unstable();
            assert_eq!(places, (0..capacity).collect::<Vec<_>>());
        }
    }

    #[test]
    fn openness_peaks_at_the_end_of_the_in_breath() {
        assert!(breath_openness(0.0, 0.4) < 1e-6);
        assert!((breath_openness(0.4, 0.4) - 1.0).abs() < 1e-6);
        assert!(breath_openness(0.2, 0.4) < breath_openness(0.3, 0.4));
        assert!(breath_openness(0.8, 0.4) < breath_openness(0.6, 0.4));
    }
}
