//! The text each domain enum is stored as.
//!
//! Stored values are part of the schema (exports and the central database read them), so they
//! are spelled out here once, in snake case, instead of leaking Rust's `Debug` names.

use synchub_session::record::{DeviceKind, IntentionCategory, Phase, ScheduleMode, ScoreSource};

pub(crate) fn mode(mode: ScheduleMode) -> &'static str {
    match mode {
        ScheduleMode::Rolling => "rolling",
        ScheduleMode::Manual => "manual",
    }
}

pub(crate) fn mode_from(text: &str) -> Option<ScheduleMode> {
    stored(&[ScheduleMode::Rolling, ScheduleMode::Manual], mode, text)
}

pub(crate) fn phase(phase: Phase) -> &'static str {
    match phase {
        Phase::Preparation => "preparation",
        Phase::Active => "active",
        Phase::Integration => "integration",
        Phase::Complete => "complete",
    }
}

pub(crate) fn phase_from(text: &str) -> Option<Phase> {
    let phases = [
        Phase::Preparation,
        Phase::Active,
        Phase::Integration,
        Phase::Complete,
    ];
    stored(&phases, phase, text)
}

pub(crate) fn device(device: DeviceKind) -> &'static str {
    match device {
        DeviceKind::Ios => "ios",
        DeviceKind::Android => "android",
        DeviceKind::Web => "web",
        DeviceKind::Ble => "ble",
        DeviceKind::Sim => "sim",
        DeviceKind::Unknown => "unknown",
    }
}

/// Text no known device is stored as reads back as `Unknown`.
pub(crate) fn device_from(text: &str) -> DeviceKind {
    let devices = [
        DeviceKind::Ios,
        DeviceKind::Android,
        DeviceKind::Web,
        DeviceKind::Ble,
        DeviceKind::Sim,
    ];
    stored(&devices, device, text).unwrap_or(DeviceKind::Unknown)
}

pub(crate) fn intention(intention: IntentionCategory) -> &'static str {
    match intention {
        IntentionCategory::PhysicalHealing => "physical_healing",
        IntentionCategory::EmotionalRelease => "emotional_release",
        IntentionCategory::Anxiety => "anxiety",
        IntentionCategory::Abundance => "abundance",
        IntentionCategory::Energy => "energy",
        IntentionCategory::Grief => "grief",
        IntentionCategory::Other => "other",
    }
}

/// Text no known category is stored as reads back as `Other`.
pub(crate) fn intention_from(text: &str) -> IntentionCategory {
    let intentions = [
        IntentionCategory::PhysicalHealing,
        IntentionCategory::EmotionalRelease,
        IntentionCategory::Anxiety,
        IntentionCategory::Abundance,
        IntentionCategory::Energy,
        IntentionCategory::Grief,
    ];
    stored(&intentions, intention, text).unwrap_or(IntentionCategory::Other)
}

/// The one of `values` stored as `text`. Reading back searches with the very function that
/// writes, so the two directions cannot disagree.
fn stored<T: Copy>(values: &[T], text_of: fn(T) -> &'static str, text: &str) -> Option<T> {
    values.iter().copied().find(|value| text_of(*value) == text)
}

pub(crate) fn score_source(source: ScoreSource) -> &'static str {
    match source {
        ScoreSource::Hub => "hub",
        ScoreSource::Client => "client",
    }
}

/// `synchub_hrv`'s quality and coherence-phase enums are stored by their variant name in snake
/// case. Going through `Debug` keeps this crate independent of their exact variant list (they
/// belong to the signal-processing crate and may grow); the names are stable identifiers.
pub(crate) fn variant_name(value: &impl std::fmt::Debug) -> String {
    let debug = format!("{value:?}");
    let mut snake = String::with_capacity(debug.len() + 4);
    for (index, character) in debug.chars().enumerate() {
        if character.is_ascii_uppercase() {
            if index > 0 {
                snake.push('_');
            }
            snake.push(character.to_ascii_lowercase());
        } else if character.is_ascii_alphanumeric() || character == '_' {
            snake.push(character);
        } else {
            // A variant with fields: keep only its name.
            break;
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_stored_text() {
        for p in [
            Phase::Preparation,
            Phase::Active,
            Phase::Integration,
            Phase::Complete,
        ] {
            assert_eq!(phase_from(phase(p)), Some(p));
        }
        for m in [ScheduleMode::Rolling, ScheduleMode::Manual] {
            assert_eq!(mode_from(mode(m)), Some(m));
        }
        assert_eq!(device_from(device(DeviceKind::Ble)), DeviceKind::Ble);
        assert_eq!(device_from("toaster"), DeviceKind::Unknown);
        assert_eq!(
            intention_from(intention(IntentionCategory::Grief)),
            IntentionCategory::Grief
        );
    }

    #[test]
    fn variant_names_are_snake_case() {
        #[derive(Debug)]
        enum Example {
            Good,
            VeryLow,
            WithField(#[allow(dead_code)] u8),
        }
        assert_eq!(variant_name(&Example::Good), "good");
        assert_eq!(variant_name(&Example::VeryLow), "very_low");
        assert_eq!(variant_name(&Example::WithField(3)), "with_field");
    }
}
