//! A room of participants who all send RR batches once a second, as `synchub-sim` does, for
//! the tick and memory benchmarks.

use synchub_session::record::ScheduleMode;
use synchub_session::record::{DeviceKind, IntentionCategory};
use synchub_session::{
    Engine, EngineConfig, JoinRequest, ParticipantId, PhaseDurations, RrBatch, ScheduleConfig,
};

/// 2026-01-01T10:00:00Z.
pub const START_MS: i64 = 1_767_261_600_000;

/// Drains every effect, as the hub does after each burst of inputs; returns how many there were.
pub fn drain(engine: &mut Engine) -> usize {
    let mut effects = 0;
    while let Some(record) = engine.poll_record() {
        effects += 1;
        // A healthy store confirms every batch at once.
        if let synchub_session::record::Record::Beats(batch) = &record
            && let Some(seq) = batch.seq
        {
            engine.handle_beats_durable(batch.participant_id, seq);
        }
    }
    while engine.poll_message().is_some() {
        effects += 1;
    }
    while engine.poll_broadcast().is_some() {
        effects += 1;
    }
    effects
}

/// One very long manual session, so however many iterations criterion runs, the session is
/// still in its active phase.
pub fn engine() -> Engine {
    let config = EngineConfig {
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations {
                preparation_secs: 0,
                active_secs: 100_000_000,
                integration_secs: 0,
            },
        },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, START_MS, [3; 32]).expect("engine");
    engine.handle_start_session(START_MS).expect("start");
    engine
}

pub fn join(engine: &mut Engine, k: usize, at_ms: i64) -> ParticipantId {
    engine
        .handle_join(
            at_ms,
            JoinRequest {
                pseudonym: format!("{k:064x}"),
                intention: Some(IntentionCategory::Other),
                research_consent: true,
                device: DeviceKind::Sim,
                clock_offset_ms: None,
            },
        )
        .expect("join")
}

/// A participant's heart: a slow breathing rhythm of its own rate and phase, with a little
/// deterministic jitter, beating on its own clock.
pub struct Heart {
    id: ParticipantId,
    last_beat_ms: f64,
    base_rr_ms: f64,
    breath_hz: f64,
    phase: f64,
    jitter_state: u64,
    seq: u64,
    batch: Vec<f64>,
}

impl Heart {
    fn new(id: ParticipantId, k: usize, start_ms: f64) -> Self {
        let spread = (k * 7919 % 1000) as f64 / 1000.0;
        Self {
            id,
            last_beat_ms: start_ms,
            base_rr_ms: 800.0 + 200.0 * spread,
            breath_hz: 0.08 + 0.04 * spread,
            phase: std::f64::consts::TAU * ((k * 104_729 % 997) as f64 / 997.0),
            jitter_state: k as u64 * 0x9E37_79B9_7F4A_7C15 + 1,
            seq: 0,
            batch: Vec::new(),
        }
    }

    fn next_rr_ms(&mut self) -> f64 {
        // xorshift: cheap and reproducible.
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 7;
        self.jitter_state ^= self.jitter_state << 17;
        let jitter = (self.jitter_state % 1000) as f64 / 1000.0 - 0.5;
        let t_secs = self.last_beat_ms / 1000.0;
        self.base_rr_ms
            + 60.0 * (std::f64::consts::TAU * self.breath_hz * t_secs + self.phase).sin()
            + 20.0 * jitter
    }

    /// Sends the beats that ended up to `now_ms` as one batch.
    fn send(&mut self, engine: &mut Engine, now_ms: i64) {
        self.batch.clear();
        loop {
            let rr_ms = self.next_rr_ms();
            if self.last_beat_ms + rr_ms > now_ms as f64 {
                break;
            }
            self.last_beat_ms += rr_ms;
            self.batch.push(rr_ms);
        }
        if self.batch.is_empty() {
            return;
        }
        self.seq += 1;
        engine
            .handle_rr_intervals(
                now_ms,
                self.id,
                RrBatch {
                    rr_ms: self.batch.clone(),
                    ended_at_client_ms: Some(self.last_beat_ms),
                    seq: Some(self.seq),
                },
            )
            .expect("rr batch");
    }
}

/// `participants` who joined at the start and have sent one batch a second since.
pub struct RrRoom {
    pub engine: Engine,
    pub hearts: Vec<Heart>,
    /// Hub time of the latest batches.
    pub now_ms: i64,
}

impl RrRoom {
    pub fn new(participants: usize) -> Self {
        let mut engine = engine();
        let hearts = (0..participants)
            .map(|k| {
                let id = join(&mut engine, k, START_MS);
                Heart::new(id, k, START_MS as f64)
            })
            .collect();
        drain(&mut engine);
        Self {
            engine,
            hearts,
            now_ms: START_MS,
        }
    }

    /// One second passes: every participant sends its beats so far in the middle of that
    /// second, effects are drained. The tick at the end of the second is not run here: see
    /// [`RrRoom::tick`].
    pub fn send_second(&mut self) {
        self.now_ms += 1_000;
        let at_ms = self.now_ms + 500;
        for heart in &mut self.hearts {
            heart.send(&mut self.engine, at_ms);
        }
        drain(&mut self.engine);
    }

    /// Runs the engine's timers from the tick at the end of the current second up to (not
    /// including) the next tick, draining after each, as the hub does. Returns whether a
    /// synchrony round was recorded, and the longest single `handle_timeout` + drain.
    // Wall time is what this measures; the pure crate's clippy.toml bans it in library code.
    #[allow(clippy::disallowed_methods)]
    pub fn tick(&mut self) -> (bool, std::time::Duration) {
        let mut synchrony = false;
        let mut longest = std::time::Duration::ZERO;
        while let Some(wake_ms) = self.engine.poll_timeout() {
            if wake_ms >= self.now_ms + 2_000 {
                break;
            }
            let started = std::time::Instant::now();
            self.engine.handle_timeout(wake_ms);
            while let Some(record) = self.engine.poll_record() {
                synchrony |= matches!(record, synchub_session::record::Record::Synchrony(_));
            }
            drain(&mut self.engine);
            longest = longest.max(started.elapsed());
        }
        (synchrony, longest)
    }
}
