//! One participant's own view: their curve, the room's median (never from fewer than three
//! people), their change beside the room's, and nothing of anyone else.

use synchub_report::{ExclusionReason, MIN_ROOM_PARTICIPANTS, Quality, Report, SessionData};

use crate::util::{T0_MS, participant, score, scores, session};

/// Preparation 2 min, active 10 min: slots 1–4 rise by 10 + slot points; slot 5 joined
/// without heart data; slot 6 scored only in the active phase.
fn room() -> SessionData {
    let mut data = session(120, 600, 60);
    data.participants = (1..=4)
        .map(|slot| {
            let offset = f64::from(slot);
            participant(
                slot,
                scores(0, 780, move |secs| {
                    if secs < 420.0 {
                        30.0 + offset
                    } else {
                        40.0 + offset * 2.0
                    }
                }),
            )
        })
        .collect();
    data.participants.push(participant(5, Vec::new()));
    data.participants
        .push(participant(6, scores(120, 720, |_| 55.0)));
    data
}

#[test]
fn a_participant_sees_their_own_curve_and_change_beside_the_rooms() {
    let data = room();
    let report = Report::build(&data, 3);
    let mine = report.personal(&data, 2);
    assert!(mine.had_heart_data);
    assert_eq!(mine.own.len(), 156, "every 5 s of 13 minutes");
    assert_eq!(mine.own[0].at_secs, 0.0);
    assert_eq!(mine.own[0].score, 32.0);
    assert_eq!(mine.own.last().map(|own| own.score), Some(44.0));
    assert_eq!(mine.phases, report.overview.phases);
    assert_eq!(mine.room.len(), report.coherence.series.len());
    let change = mine.change.own.expect("compared");
    assert_eq!(
        (change.baseline, change.end, change.change),
        (32.0, 44.0, 12.0)
    );
    assert_eq!(mine.change.own_excluded, None);
    // Slots 1–4 changed by 11, 12, 13, 14 (slot 6 has no baseline): median 12.5.
    assert_eq!(mine.change.room_compared, 4);
    assert_eq!(mine.change.room_median_change, Some(12.5));
    assert_eq!(mine.change.windows, report.change.windows);
}

#[test]
fn the_rooms_median_is_withheld_where_fewer_than_three_make_it_up() {
    let mut data = room();
    // Only slots 1 and 2 score after the 10th minute.
    for participant in &mut data.participants {
        if participant.slot != 1 && participant.slot != 2 {
            participant
                .metrics
                .retain(|row| row.at_ms < T0_MS + 600_000);
        }
    }
    let report = Report::build(&data, 3);
    let mine = report.personal(&data, 1);
    for point in &mine.room {
        if point.active < MIN_ROOM_PARTICIPANTS {
            assert_eq!(point.median, None, "{point:?}");
        } else {
            assert!(point.median.is_some(), "{point:?}");
        }
    }
    assert!(mine.room.iter().any(|point| point.active == 2));
    assert!(mine.room.iter().any(|point| point.median.is_some()));
}

#[test]
fn a_participant_without_heart_data_sees_the_room_only() {
    let data = room();
    let report = Report::build(&data, 3);
    let theirs = report.personal(&data, 5);
    assert!(!theirs.had_heart_data);
    assert!(theirs.own.is_empty());
    assert_eq!(theirs.change.own, None);
    assert_eq!(
        theirs.change.own_excluded, None,
        "not compared, not excluded"
    );
    assert!(theirs.room.iter().any(|point| point.median.is_some()));
    assert_eq!(theirs.change.room_median_change, Some(12.5));
}

#[test]
fn too_little_baseline_is_said_and_low_quality_scores_are_not_shown() {
    let mut data = room();
    data.participants[5].metrics.push({
        let mut low = score(700.0, 99.0);
        low.quality = Quality::Low;
        low
    });
    let report = Report::build(&data, 3);
    let late = report.personal(&data, 6);
    assert!(late.had_heart_data);
    assert_eq!(late.change.own, None);
    assert_eq!(
        late.change.own_excluded,
        Some(ExclusionReason::TooLittleBaselineData)
    );
    assert!(late.own.iter().all(|own| own.score == 55.0));
}

#[test]
fn with_two_compared_the_rooms_change_is_withheld() {
    let mut data = session(120, 600, 60);
    data.participants = (1..=2)
        .map(|slot| participant(slot, scores(0, 780, |secs| 30.0 + secs / 60.0)))
        .collect();
    let report = Report::build(&data, 3);
    let mine = report.personal(&data, 1);
    assert!(mine.change.own.is_some());
    assert_eq!(mine.change.room_compared, 2);
    assert_eq!(mine.change.room_median_change, None);
    assert!(mine.room.iter().all(|point| point.median.is_none()));
}
