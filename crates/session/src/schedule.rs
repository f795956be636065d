//! When sessions and their phases begin and end.
//!
//! Pure arithmetic on milliseconds, kept apart from the engine so the slot rules can be read and
//! tested on their own: rolling sessions sit on UTC-aligned slots (a slot is preparation +
//! active + integration long, counted from the Unix epoch, so 15-minute slots start at :00,
//! :15, :30 and :45 and every hub in the world agrees on them).

use crate::error::EngineError;
use crate::record::{Phase, ScheduleMode};

/// How long each phase of a session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseDurations {
    pub preparation_secs: u32,
    pub active_secs: u32,
    pub integration_secs: u32,
}

impl Default for PhaseDurations {
    /// The original platform's session: 30 s + 750 s + 120 s = 15 minutes.
    fn default() -> Self {
        Self {
            preparation_secs: 30,
            active_secs: 750,
            integration_secs: 120,
        }
    }
}

impl PhaseDurations {
    /// The whole session (= the rolling slot length).
    pub fn total_ms(&self) -> i64 {
        (i64::from(self.preparation_secs)
            + i64::from(self.active_secs)
            + i64::from(self.integration_secs))
            * 1000
    }

    /// How long `phase` lasts (zero for `Complete`).
    pub fn phase_ms(&self, phase: Phase) -> i64 {
        let secs = match phase {
            Phase::Preparation => self.preparation_secs,
            Phase::Active => self.active_secs,
            Phase::Integration => self.integration_secs,
            Phase::Complete => 0,
        };
        i64::from(secs) * 1000
    }

    pub(crate) fn validate(&self) -> Result<(), EngineError> {
        if self.total_ms() == 0 {
            return Err(EngineError::InvalidSchedule(
                "the phases add up to zero seconds",
            ));
        }
        Ok(())
    }
}

/// The schedule: rolling or manual, and the phase lengths of the sessions it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    pub mode: ScheduleMode,
    pub phases: PhaseDurations,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            mode: ScheduleMode::Rolling,
            phases: PhaseDurations::default(),
        }
    }
}

/// The phase after `phase` (`Complete` stays `Complete`).
pub fn next_phase(phase: Phase) -> Phase {
    match phase {
        Phase::Preparation => Phase::Active,
        Phase::Active => Phase::Integration,
        Phase::Integration | Phase::Complete => Phase::Complete,
    }
}

/// Start of the UTC-aligned slot that contains `now_ms`.
pub fn slot_start_ms(now_ms: i64, phases: &PhaseDurations) -> i64 {
    let slot_ms = phases.total_ms().max(1);
    now_ms.div_euclid(slot_ms) * slot_ms
}

/// Where a slot starting at `slot_start_ms` stands at `now_ms`: the phase in progress, when it
/// began and when it ends. Zero-length phases are skipped; `now_ms` at or past the slot end
/// gives `Complete` at the slot end.
pub fn slot_phase_at(
    slot_start_ms: i64,
    phases: &PhaseDurations,
    now_ms: i64,
) -> (Phase, i64, i64) {
    let mut phase_start_ms = slot_start_ms;
    for phase in [Phase::Preparation, Phase::Active, Phase::Integration] {
        let phase_end_ms = phase_start_ms + phases.phase_ms(phase);
        if now_ms < phase_end_ms {
            return (phase, phase_start_ms, phase_end_ms);
        }
        phase_start_ms = phase_end_ms;
    }
    (Phase::Complete, phase_start_ms, phase_start_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_MS: i64 = 60_000;
    /// 2026-01-01T10:00:00Z.
    const TEN_O_CLOCK_MS: i64 = 1_767_261_600_000;

    #[test]
    fn fifteen_minute_slots_start_on_the_quarter_hour() {
        let phases = PhaseDurations::default();
        assert_eq!(phases.total_ms(), 15 * MINUTE_MS);
        assert_eq!(
            slot_start_ms(TEN_O_CLOCK_MS + 7 * MINUTE_MS, &phases),
            TEN_O_CLOCK_MS
        );
        assert_eq!(slot_start_ms(TEN_O_CLOCK_MS, &phases), TEN_O_CLOCK_MS);
        assert_eq!(
            slot_start_ms(TEN_O_CLOCK_MS + 15 * MINUTE_MS - 1, &phases),
            TEN_O_CLOCK_MS
        );
    }

    #[test]
    fn a_hub_started_at_ten_past_seven_is_in_the_active_phase_of_the_ten_o_clock_slot() {
        let phases = PhaseDurations::default();
        assert_eq!(
            slot_phase_at(TEN_O_CLOCK_MS, &phases, TEN_O_CLOCK_MS + 7 * MINUTE_MS),
            (
                Phase::Active,
                TEN_O_CLOCK_MS + 30_000,
                TEN_O_CLOCK_MS + 780_000
            )
        );
        assert_eq!(
            slot_phase_at(TEN_O_CLOCK_MS, &phases, TEN_O_CLOCK_MS + 10_000),
            (Phase::Preparation, TEN_O_CLOCK_MS, TEN_O_CLOCK_MS + 30_000)
        );
        assert_eq!(
            slot_phase_at(TEN_O_CLOCK_MS, &phases, TEN_O_CLOCK_MS + 800_000),
            (
                Phase::Integration,
                TEN_O_CLOCK_MS + 780_000,
                TEN_O_CLOCK_MS + 900_000
            )
        );
    }

    #[test]
    fn zero_length_phases_are_skipped() {
        let phases = PhaseDurations {
            preparation_secs: 0,
            active_secs: 60,
            integration_secs: 0,
        };
        assert_eq!(slot_phase_at(0, &phases, 0), (Phase::Active, 0, 60_000));
        assert_eq!(
            slot_phase_at(0, &phases, 60_000),
            (Phase::Complete, 60_000, 60_000)
        );
    }

    #[test]
    fn a_schedule_of_zero_seconds_is_refused() {
        let phases = PhaseDurations {
            preparation_secs: 0,
            active_secs: 0,
            integration_secs: 0,
        };
        assert!(phases.validate().is_err());
        assert!(PhaseDurations::default().validate().is_ok());
    }
}
