//! Which heart-rate sensors send real beat-to-beat intervals and which send smoothed ones.
//!
//! Chest straps measure the heart's electrical signal (ECG) and time each R peak to the
//! millisecond: their RR intervals are what HRV and coherence need. Optical sensors (arm bands,
//! watches, ear clips) measure blood volume under the skin (PPG); the pulse wave arrives later
//! and blurred, and the firmware smooths or interpolates the intervals it reports. Coherence
//! from such a sensor reads lower and steadier than the truth (coherence.md §4), so the console
//! shows a warning next to it. The Heart Rate Service does not say which kind a sensor is: we
//! recognise it from the Device Information strings and the advertised name, and fall back to
//! the Body Sensor Location.

use crate::measurement::BodyLocation;

/// What kind of sensor a strap is, as far as its names and location tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorKind {
    /// An electrical chest strap: real RR intervals. `label` names the model family matched.
    ChestStrap {
        /// The model family, e.g. "Polar H10".
        label: &'static str,
    },
    /// An optical sensor or a watch: RR intervals smoothed by the device.
    Optical {
        /// The model family or the reason, e.g. "Polar OH1" or "a sensor worn on the wrist".
        label: &'static str,
    },
    /// Nothing we recognise; its RR intervals are used without a warning.
    Unknown,
}

impl SensorKind {
    /// The warning the console shows next to a sensor whose RR intervals are smoothed.
    pub fn smoothed_rr_warning(self) -> Option<String> {
        match self {
            SensorKind::Optical { label } => Some(format!(
                "{label} is an optical sensor: it smooths its beat intervals, so HRV and coherence \
                 read lower and less precisely than from a chest strap"
            )),
            SensorKind::ChestStrap { .. } | SensorKind::Unknown => None,
        }
    }
}

/// A rule: the words that identify a family (matched as consecutive words, each word of the
/// rule a prefix of a word of the device's strings), and what the family is.
struct Rule {
    words: &'static [&'static str],
    kind: SensorKind,
}

const fn optical(words: &'static [&'static str], label: &'static str) -> Rule {
    Rule {
        words,
        kind: SensorKind::Optical { label },
    }
}

const fn chest(words: &'static [&'static str], label: &'static str) -> Rule {
    Rule {
        words,
        kind: SensorKind::ChestStrap { label },
    }
}

/// The table, first match wins: specific optical families before the chest straps whose names
/// they share ("TICKR FIT" before "TICKR"), brand words last. Names as the devices advertise
/// them ("Polar H10 1A2B3C4D", "HRM-Pro:123456", "TICKR FIT 1234", "RHYTHM+ 5678") and as their
/// Model Number string reads ("H10", "OH1").
const RULES: &[Rule] = &[
    // Optical arm bands and ear clips.
    optical(&["oh1"], "Polar OH1"),
    optical(&["verity"], "Polar Verity Sense"),
    optical(&["polar", "sense"], "Polar Verity Sense"),
    optical(&["tickr", "fit"], "Wahoo TICKR FIT"),
    optical(&["scosche"], "Scosche Rhythm"),
    optical(&["rhythm"], "Scosche Rhythm"),
    optical(&["hw807"], "Coospo HW807"),
    optical(&["hw706"], "Coospo HW706"),
    optical(&["hw9"], "Coospo HW9"),
    optical(&["whoop"], "WHOOP"),
    optical(&["mio"], "Mio"),
    optical(&["coros"], "COROS"),
    optical(&["armband"], "an arm band"),
    // Watches and fitness bands that broadcast their optical heart rate.
    optical(&["forerunner"], "a Garmin watch"),
    optical(&["fenix"], "a Garmin watch"),
    optical(&["epix"], "a Garmin watch"),
    optical(&["venu"], "a Garmin watch"),
    optical(&["vivoactive"], "a Garmin watch"),
    optical(&["instinct"], "a Garmin watch"),
    optical(&["polar", "ignite"], "a Polar watch"),
    optical(&["polar", "vantage"], "a Polar watch"),
    optical(&["polar", "grit"], "a Polar watch"),
    optical(&["polar", "pacer"], "a Polar watch"),
    optical(&["polar", "unite"], "a Polar watch"),
    optical(&["amazfit"], "an Amazfit watch"),
    optical(&["watch"], "a watch"),
    optical(&["band"], "a fitness band"),
    // Electrical chest straps: models whose names would also match a Polar model, then brands
    // that make only chest straps among the devices that advertise the Heart Rate Service.
    chest(&["h64"], "Magene H64"),
    chest(&["h303"], "Magene H303"),
    chest(&["h808"], "Coospo H808S"),
    chest(&["coospo"], "Coospo"),
    chest(&["magene"], "Magene"),
    chest(&["h10"], "Polar H10"),
    chest(&["h9"], "Polar H9"),
    chest(&["h7"], "Polar H7"),
    chest(&["hrm-pro"], "Garmin HRM-Pro"),
    chest(&["hrm-dual"], "Garmin HRM-Dual"),
    chest(&["hrm-run"], "Garmin HRM-Run"),
    chest(&["hrm-tri"], "Garmin HRM-Tri"),
    chest(&["hrm-fit"], "Garmin HRM-Fit"),
    chest(&["hrm", "600"], "Garmin HRM 600"),
    chest(&["tickr"], "Wahoo TICKR"),
    chest(&["trackr"], "Wahoo TRACKR"),
    chest(&["polar", "h6"], "Polar H6"),
    chest(&["h6"], "Coospo H6"),
    chest(&["movesense"], "Movesense"),
    chest(&["viiiiva"], "4iiii Viiiiva"),
    chest(&["hxm"], "Zephyr HxM"),
    chest(&["smart", "sensor"], "Suunto Smart Sensor"),
    chest(&["hrm"], "a heart-rate strap"),
];

/// Classifies a sensor from what it tells about itself: the advertised name, the Device
/// Information Model Number (0x2A24) and Manufacturer Name (0x2A29) strings, and the Body
/// Sensor Location (0x2A38). Any of them may be missing; matching ignores case.
pub fn classify(
    name: Option<&str>,
    model: Option<&str>,
    manufacturer: Option<&str>,
    body_location: Option<BodyLocation>,
) -> SensorKind {
    // Manufacturer and model first, so "Polar Electro Oy" + "H10" reads as one phrase; the
    // name is matched on its own so its words never run into the model's.
    let phrases = [
        format!("{} {}", manufacturer.unwrap_or(""), model.unwrap_or("")),
        name.unwrap_or("").to_owned(),
    ];
    let phrases: Vec<Vec<String>> = phrases.iter().map(|phrase| words(phrase)).collect();
    for rule in RULES {
        if phrases
            .iter()
            .any(|words| contains_phrase(words, rule.words))
        {
            return rule.kind;
        }
    }
    match body_location {
        Some(BodyLocation::Wrist) => SensorKind::Optical {
            label: "a sensor worn on the wrist",
        },
        Some(BodyLocation::Finger) => SensorKind::Optical {
            label: "a sensor worn on a finger",
        },
        Some(BodyLocation::Hand) => SensorKind::Optical {
            label: "a sensor worn on the hand",
        },
        Some(BodyLocation::EarLobe) => SensorKind::Optical {
            label: "a sensor clipped to the ear lobe",
        },
        Some(BodyLocation::Chest) => SensorKind::ChestStrap {
            label: "a chest strap",
        },
        _ => SensorKind::Unknown,
    }
}

/// Lower-case words, split at anything that is not a letter, a digit, `-` or `+`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '+'))
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains_phrase(words: &[String], phrase: &[&str]) -> bool {
    words.windows(phrase.len()).any(|window| {
        window
            .iter()
            .zip(phrase)
            .all(|(word, wanted)| word.starts_with(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        name: Option<&str>,
        model: Option<&str>,
        manufacturer: Option<&str>,
        expect: SensorKind,
    ) {
        assert_eq!(
            classify(name, model, manufacturer, None),
            expect,
            "{name:?} {model:?} {manufacturer:?}"
        );
    }

    fn chest_strap(label: &'static str) -> SensorKind {
        SensorKind::ChestStrap { label }
    }

    fn optical(label: &'static str) -> SensorKind {
        SensorKind::Optical { label }
    }

    #[test]
    fn chest_straps_by_advertised_name() {
        check(
            Some("Polar H10 1A2B3C4D"),
            None,
            None,
            chest_strap("Polar H10"),
        );
        check(
            Some("Polar H9 1A2B3C4D"),
            None,
            None,
            chest_strap("Polar H9"),
        );
        check(
            Some("Polar H7 1A2B3C4D"),
            None,
            None,
            chest_strap("Polar H7"),
        );
        check(
            Some("HRM-Pro:123456"),
            None,
            None,
            chest_strap("Garmin HRM-Pro"),
        );
        check(
            Some("HRM-Pro+:654321"),
            None,
            None,
            chest_strap("Garmin HRM-Pro"),
        );
        check(
            Some("HRM-Dual:123456"),
            None,
            None,
            chest_strap("Garmin HRM-Dual"),
        );
        check(Some("TICKR 1A2B"), None, None, chest_strap("Wahoo TICKR"));
        check(Some("TICKR X 1A2B"), None, None, chest_strap("Wahoo TICKR"));
        check(Some("H808S 12345"), None, None, chest_strap("Coospo H808S"));
        check(Some("CooSpo H9Z 0042"), None, None, chest_strap("Coospo"));
        check(
            Some("Polar H6 1A2B3C4D"),
            None,
            None,
            chest_strap("Polar H6"),
        );
        check(Some("H6M 45678"), None, None, chest_strap("Coospo H6"));
        check(
            Some("Magene H64 1234"),
            None,
            None,
            chest_strap("Magene H64"),
        );
        check(
            Some("Movesense 174630000192"),
            None,
            None,
            chest_strap("Movesense"),
        );
    }

    #[test]
    fn chest_straps_by_device_information() {
        check(
            None,
            Some("H10"),
            Some("Polar Electro Oy"),
            chest_strap("Polar H10"),
        );
        check(
            None,
            Some("HRM-Dual"),
            Some("Garmin"),
            chest_strap("Garmin HRM-Dual"),
        );
    }

    #[test]
    fn optical_sensors_and_watches_smooth_their_rr() {
        check(Some("Polar OH1 1A2B3C4D"), None, None, optical("Polar OH1"));
        check(
            None,
            Some("OH1"),
            Some("Polar Electro Oy"),
            optical("Polar OH1"),
        );
        check(
            Some("Polar Sense 1A2B3C4D"),
            None,
            None,
            optical("Polar Verity Sense"),
        );
        check(
            None,
            Some("Polar Verity Sense"),
            None,
            optical("Polar Verity Sense"),
        );
        check(
            Some("TICKR FIT 1A2B"),
            None,
            None,
            optical("Wahoo TICKR FIT"),
        );
        check(Some("RHYTHM+ 5678"), None, None, optical("Scosche Rhythm"));
        check(Some("Rhythm24 0123"), None, None, optical("Scosche Rhythm"));
        check(
            None,
            Some("R24"),
            Some("Scosche Industries"),
            optical("Scosche Rhythm"),
        );
        check(
            Some("Forerunner 265"),
            None,
            None,
            optical("a Garmin watch"),
        );
        check(Some("fenix 7"), None, None, optical("a Garmin watch"));
        check(
            Some("Polar Ignite 3 1A2B3C4D"),
            None,
            None,
            optical("a Polar watch"),
        );
        check(Some("Galaxy Watch5 (X1Y2)"), None, None, optical("a watch"));
        check(
            Some("Mi Smart Band 7"),
            None,
            None,
            optical("a fitness band"),
        );
        check(Some("WHOOP 4A1234567"), None, None, optical("WHOOP"));
        check(Some("HW807 12345"), None, None, optical("Coospo HW807"));
    }

    #[test]
    fn a_tickr_fit_model_string_outranks_a_plain_tickr_name() {
        // A TICKR FIT advertising a plain "TICKR" name still reads as optical from its model.
        check(
            Some("TICKR 1A2B"),
            Some("TICKR FIT"),
            Some("Wahoo Fitness"),
            optical("Wahoo TICKR FIT"),
        );
    }

    #[test]
    fn unknown_sensors_fall_back_to_the_body_location() {
        check(Some("XYZ-123"), None, None, SensorKind::Unknown);
        check(None, None, None, SensorKind::Unknown);
        assert_eq!(
            classify(Some("XYZ-123"), None, None, Some(BodyLocation::Wrist)),
            optical("a sensor worn on the wrist")
        );
        assert_eq!(
            classify(Some("XYZ-123"), None, None, Some(BodyLocation::EarLobe)),
            optical("a sensor clipped to the ear lobe")
        );
        assert_eq!(
            classify(Some("XYZ-123"), None, None, Some(BodyLocation::Chest)),
            chest_strap("a chest strap")
        );
        assert_eq!(
            classify(Some("XYZ-123"), None, None, Some(BodyLocation::Other)),
            SensorKind::Unknown
        );
        // A name we know outranks the location: an OH1 reporting "chest" is still optical.
        assert_eq!(
            classify(
                Some("Polar OH1 1A2B3C4D"),
                None,
                None,
                Some(BodyLocation::Chest)
            ),
            optical("Polar OH1")
        );
    }

    #[test]
    fn words_inside_hex_serials_do_not_match() {
        // Serial digits are hex, so "h10" can never appear inside one; "Sensor" is not "sense".
        check(
            Some("Suunto Smart Sensor"),
            None,
            None,
            chest_strap("Suunto Smart Sensor"),
        );
        check(Some("Bike Speed 0H10"), None, None, SensorKind::Unknown);
    }

    #[test]
    fn only_optical_sensors_get_a_warning() {
        assert_eq!(
            optical("Polar OH1").smoothed_rr_warning().unwrap(),
            "Polar OH1 is an optical sensor: it smooths its beat intervals, so HRV and coherence \
             read lower and less precisely than from a chest strap"
        );
        assert_eq!(chest_strap("Polar H10").smoothed_rr_warning(), None);
        assert_eq!(SensorKind::Unknown.smoothed_rr_warning(), None);
    }
}
