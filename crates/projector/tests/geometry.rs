//! The mandala's geometry, as a specification: petals per person in stable places, colours by
//! band, the pacer in step with the hub clock, smooth motion between updates.

use synchub_projector::geometry::{
    Mandala, PetalShape, Shape, approach, breath_openness, is_inhaling, petal_colour,
};
use synchub_protocol::clock::offset_ms_from_round_trip;
use synchub_protocol::{
    CoherencePhase, Pacer, RoomSnapshot, SessionPhase, SignalQuality, SnapshotParticipant,
};

use crate::util::snapshots;

const CENTRE: [f32; 2] = [960.0, 540.0];
const RADIUS: f32 = 475.0;

fn room(scores: &[(u32, f64)]) -> RoomSnapshot {
    RoomSnapshot {
        timestamp: 1_764_000_000_000,
        session_id: Some("s".to_owned()),
        phase: SessionPhase::Active,
        phase_time_left: 60_000,
        session_time_left: 120_000,
        participants: scores
            .iter()
            .map(|&(slot, coherence)| SnapshotParticipant {
                slot,
                coherence,
                phase: CoherencePhase::from_score(coherence),
                quality: SignalQuality::Good,
            })
            .collect(),
    }
}

fn person_petals(mandala: &Mandala) -> Vec<PetalShape> {
    mandala
        .shapes(CENTRE, RADIUS, 0.0, Some(0.5))
        .into_iter()
        .filter_map(|shape| match shape {
            Shape::Petal(petal) if petal.slot != u32::MAX => Some(petal),
            _ => None,
        })
        .collect()
}

fn settle(mandala: &mut Mandala, secs: f32) {
    let frames = (secs * 60.0) as usize;
    for _ in 0..frames {
        mandala.advance(1.0 / 60.0);
    }
}

#[test]
fn there_is_one_petal_per_participant() {
    for snapshot in snapshots() {
        let mut mandala = Mandala::new();
        mandala.apply_snapshot(&snapshot);
        settle(&mut mandala, 1.0);
        assert_eq!(person_petals(&mandala).len(), snapshot.participants.len());
        assert_eq!(mandala.participant_count(), snapshot.participants.len());
    }
    let mut mandala = Mandala::new();
    mandala.apply_snapshot(&room(
        &(0..500).map(|slot| (slot, 50.0)).collect::<Vec<_>>(),
    ));
    settle(&mut mandala, 1.0);
    assert_eq!(person_petals(&mandala).len(), 500);
}

#[test]
fn nobody_moves_when_someone_leaves_or_joins() {
    let snapshots = snapshots();
    // Second 19: twelve people; second 20: slot 4 has left; second 30: slot 12 has joined the
    // second ring.
    let mut mandala = Mandala::new();
    for snapshot in &snapshots[..=19] {
        mandala.apply_snapshot(snapshot);
        settle(&mut mandala, 1.0);
    }
    let before = person_petals(&mandala);
    for snapshot in &snapshots[20..=30] {
        mandala.apply_snapshot(snapshot);
        settle(&mut mandala, 1.0);
    }
    let after = person_petals(&mandala);
    let slots_after: Vec<u32> = after.iter().map(|petal| petal.slot).collect();
    assert!(
        !slots_after.contains(&4),
        "the leaver's petal has faded out"
    );
    assert!(slots_after.contains(&12), "the newcomer has a petal");
    for petal in &before {
        if petal.slot == 4 {
            continue;
        }
        let later = after
            .iter()
            .find(|other| other.slot == petal.slot)
            .expect("everyone else is still there");
        // The petal's root is where the person sits.
        let (a, b) = (petal.points[0], later.points[0]);
        let moved = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        assert!(moved < 0.01, "slot {} moved by {moved} px", petal.slot);
    }
}

#[test]
fn petal_colours_follow_the_40_and_60_thresholds() {
    let mut mandala = Mandala::new();
    mandala.apply_snapshot(&room(&[
        (0, 39.9),
        (1, 40.0),
        (2, 59.9),
        (3, 60.0),
        (4, 0.0),
        (5, 100.0),
    ]));
    settle(&mut mandala, 0.5);
    let expected = [
        CoherencePhase::Low,
        CoherencePhase::Medium,
        CoherencePhase::Medium,
        CoherencePhase::High,
        CoherencePhase::Low,
        CoherencePhase::High,
    ];
    for (petal, band) in person_petals(&mandala).iter().zip(expected) {
        assert_eq!(petal.band, band, "slot {}", petal.slot);
        // The petal is its band's colour, lightened with the score: the band's dominant
        // channel stays dominant.
        let base = petal_colour(band);
        let dominant = |c: synchub_projector::geometry::Rgba| {
            let channels = [c.r, c.g, c.b];
            (0..3).max_by_key(|&i| channels[i]).unwrap()
        };
        assert_eq!(dominant(petal.fill), dominant(base), "slot {}", petal.slot);
    }
    assert_ne!(
        petal_colour(CoherencePhase::Low),
        petal_colour(CoherencePhase::Medium)
    );
    assert_ne!(
        petal_colour(CoherencePhase::Medium),
        petal_colour(CoherencePhase::High)
    );
}

#[test]
fn more_coherent_people_have_longer_petals() {
    let mut mandala = Mandala::new();
    mandala.apply_snapshot(&room(&[(0, 20.0), (1, 85.0)]));
    settle(&mut mandala, 2.0);
    let length = |petal: &PetalShape| {
        let (root, tip) = (petal.points[0], petal.points[petal.points.len() / 2]);
        ((root[0] - tip[0]).powi(2) + (root[1] - tip[1]).powi(2)).sqrt()
    };
    let petals = person_petals(&mandala);
    assert!(length(&petals[1]) > length(&petals[0]) * 1.3);
}

#[test]
fn the_pacer_breathes_in_step_with_the_hub_clock() {
    // Six breaths a minute (10 s each), 40 % in-breath, a breath began at hub time 1000.
    let pacer = Pacer {
        breaths_per_min: 6.0,
        inhale_ratio: 0.4,
        epoch_hub_time: 1_000,
    };
    let check = |hub_now_ms: u64, phase: f64, inhaling: bool| {
        let got = pacer.breath_phase(hub_now_ms);
        assert!((got - phase).abs() < 1e-9, "phase at {hub_now_ms}: {got}");
        assert_eq!(
            is_inhaling(got, pacer.inhale_ratio),
            inhaling,
            "at {hub_now_ms}"
        );
    };
    check(1_000, 0.0, true);
    check(3_000, 0.2, true);
    check(5_000, 0.4, false);
    check(8_500, 0.75, false);
    check(11_000, 0.0, true);
    check(1_000 + 10 * 60_000 + 2_500, 0.25, true);
    // Smallest at the start of the in-breath, widest where it turns into the out-breath.
    assert!(breath_openness(pacer.breath_phase(1_000), 0.4) < 1e-6);
    assert!((breath_openness(pacer.breath_phase(5_000), 0.4) - 1.0).abs() < 1e-6);
    // Expands through the in-breath, contracts through the out-breath.
    let openness: Vec<f32> = (0..=10)
        .map(|i| breath_openness(pacer.breath_phase(1_000 + i * 1_000), 0.4))
        .collect();
    assert!(
        openness[..=4].windows(2).all(|w| w[1] > w[0]),
        "{openness:?}"
    );
    assert!(
        openness[4..].windows(2).all(|w| w[1] < w[0]),
        "{openness:?}"
    );
    // The hub clock comes from time_sync: a display 4 s behind the hub still breathes with it.
    let offset = offset_ms_from_round_trip(1_000.0, 1_100.0, 5_050);
    let hub_now = (3_050.0 + offset) as u64;
    assert_eq!(hub_now, 7_050);
}

#[test]
fn the_pacer_ring_grows_with_the_in_breath() {
    let mut mandala = Mandala::new();
    mandala.apply_snapshot(&room(&[(0, 50.0)]));
    let pacer_radius = |openness: f32| {
        mandala
            .shapes(CENTRE, RADIUS, 0.0, Some(openness))
            .into_iter()
            .find_map(|shape| match shape {
                Shape::Circle {
                    radius,
                    stroke: Some(_),
                    ..
                } => Some(radius),
                _ => None,
            })
            .expect("the pacer ring is drawn")
    };
    assert!(pacer_radius(1.0) > pacer_radius(0.0) + RADIUS * 0.2);
    let hidden = mandala.shapes(CENTRE, RADIUS, 0.0, None);
    assert!(!hidden.iter().any(|shape| matches!(
        shape,
        Shape::Circle {
            stroke: Some(_),
            ..
        }
    )));
}

#[test]
fn motion_between_updates_is_smooth_and_converges() {
    let mut mandala = Mandala::new();
    mandala.apply_snapshot(&room(&[(0, 20.0)]));
    settle(&mut mandala, 1.0);
    mandala.apply_snapshot(&room(&[(0, 80.0)]));
    mandala.advance(1.0 / 60.0);
    let first_frame = mandala.shown_coherence(0).unwrap();
    assert!(
        first_frame > 20.0 && first_frame < 25.0,
        "no jump: {first_frame}"
    );
    settle(&mut mandala, 5.0);
    let settled = mandala.shown_coherence(0).unwrap();
    assert!((settled - 80.0).abs() < 0.1, "converged: {settled}");
    // The smoothing does not depend on the frame rate: 60 small steps equal one big one.
    let mut by_frames = 20.0;
    for _ in 0..60 {
        by_frames = approach(by_frames, 80.0, 1.0 / 60.0);
    }
    assert!((by_frames - approach(20.0, 80.0, 1.0)).abs() < 1e-3);
}

#[test]
fn the_synchrony_ring_closes_as_synchrony_rises() {
    let lit_beads = |synchrony: f64| {
        let mut mandala = Mandala::new();
        mandala.apply_snapshot(&room(&[(0, 50.0)]));
        mandala.apply_group(50.0, Some(synchrony), None);
        settle(&mut mandala, 10.0);
        // Beads are the small stroke-less circles beyond the petals; lit ones are larger.
        let shapes = mandala.shapes(CENTRE, RADIUS, 0.0, None);
        shapes
            .iter()
            .filter(|shape| {
                matches!(shape, Shape::Circle { radius, stroke: None, .. } if *radius > RADIUS * 0.008 && *radius < RADIUS * 0.01)
            })
            .count()
    };
    let (low, high, full) = (lit_beads(0.2), lit_beads(0.7), lit_beads(1.0));
    assert!(low < high && high < full, "{low} < {high} < {full}");
    assert_eq!(full, 96);
}

#[test]
fn the_synchrony_ring_marks_the_chance_level_where_the_hub_sends_one() {
    // The open markers: circles with an edge and no fill, on the synchrony ring.
    let markers = |baseline: Option<f64>| {
        let mut mandala = Mandala::new();
        mandala.apply_snapshot(&room(&[(0, 50.0)]));
        mandala.apply_group(50.0, Some(0.6), baseline);
        settle(&mut mandala, 10.0);
        mandala
            .shapes(CENTRE, RADIUS, 0.0, None)
            .into_iter()
            .filter_map(|shape| match shape {
                Shape::Circle {
                    centre,
                    stroke: Some(_),
                    fill,
                    ..
                } if fill.a == 0 => Some(centre),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(markers(None).is_empty(), "no chance level, no marker");
    let at_quarter = markers(Some(0.5));
    assert_eq!(at_quarter.len(), 2, "{at_quarter:?}");
    // A chance level of 0.5 marks where half the ring is lit: a quarter turn each way from the
    // top, level with the centre, one on each side.
    for marker in &at_quarter {
        assert!((marker[1] - CENTRE[1]).abs() < 1.0, "{marker:?}");
    }
    assert!((at_quarter[0][0] - CENTRE[0]) * (at_quarter[1][0] - CENTRE[0]) < 0.0);
}
