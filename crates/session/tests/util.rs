//! A virtual room around one engine, in the shape of quinn-proto's test `Pair`: the clock only
//! moves when the test says so, jumping from one `poll_timeout` to the next, and every effect
//! is collected with the time it came out. A fifteen-minute session runs in milliseconds.

use synchub_session::record::{DeviceKind, IntentionCategory, Record};
use synchub_session::{
    Broadcast, Engine, EngineConfig, JoinRequest, Message, MessageBody, ParticipantId,
    PersonalFeedback, RestoredParticipant, RestoredSession, RrBatch, RrOutcome,
};

/// 2026-01-01T10:00:00Z: a quarter-hour, so the default rolling slot starts here.
pub const TEN_O_CLOCK_MS: i64 = 1_767_261_600_000;

pub struct Room {
    pub engine: Engine,
    pub now_ms: i64,
    pub messages: Vec<(i64, Message)>,
    pub broadcasts: Vec<(i64, Broadcast)>,
    pub records: Vec<(i64, Record)>,
    /// Confirm every beat batch durable as soon as it comes out, as a healthy store would.
    pub store_confirms: bool,
}

impl Room {
    pub fn new(config: EngineConfig, start_ms: i64) -> Self {
        let engine = Engine::new(config, start_ms, [7; 32]).expect("valid config");
        let mut room = Self {
            engine,
            now_ms: start_ms,
            messages: Vec::new(),
            broadcasts: Vec::new(),
            records: Vec::new(),
            store_confirms: true,
        };
        room.drain();
        room
    }

    pub fn from_engine(engine: Engine, now_ms: i64) -> Self {
        let mut room = Self {
            engine,
            now_ms,
            messages: Vec::new(),
            broadcasts: Vec::new(),
            records: Vec::new(),
            store_confirms: true,
        };
        room.drain();
        room
    }

    /// Collects every effect; the store's durability confirmations go straight back in.
    pub fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(record) = self.engine.poll_record() {
                progressed = true;
                if self.store_confirms
                    && let Record::Beats(batch) = &record
                    && let Some(seq) = batch.seq
                {
                    self.engine.handle_beats_durable(batch.participant_id, seq);
                }
                self.records.push((self.now_ms, record));
            }
            while let Some(message) = self.engine.poll_message() {
                progressed = true;
                self.messages.push((self.now_ms, message));
            }
            while let Some(broadcast) = self.engine.poll_broadcast() {
                progressed = true;
                self.broadcasts.push((self.now_ms, broadcast));
            }
            if !progressed {
                break;
            }
        }
    }

    /// Runs the engine's timers up to `until_ms`, jumping from one wake-up to the next.
    pub fn advance_to(&mut self, until_ms: i64) {
        while let Some(wake_ms) = self.engine.poll_timeout() {
            if wake_ms > until_ms {
                break;
            }
            assert!(
                wake_ms >= self.now_ms,
                "timeout in the past: {wake_ms} < {}",
                self.now_ms
            );
            self.now_ms = wake_ms;
            self.engine.handle_timeout(wake_ms);
            self.drain();
        }
        self.now_ms = self.now_ms.max(until_ms);
    }

    pub fn advance_by(&mut self, ms: i64) {
        self.advance_to(self.now_ms + ms);
    }

    pub fn join(&mut self, device: DeviceKind) -> ParticipantId {
        let id = self
            .engine
            .handle_join(self.now_ms, join_request(device))
            .expect("join");
        self.drain();
        id
    }

    /// Joins without draining, so several joins share one poll round.
    pub fn join_quietly(&mut self, device: DeviceKind) -> ParticipantId {
        self.engine
            .handle_join(self.now_ms, join_request(device))
            .expect("join")
    }

    pub fn score(&mut self, participant: ParticipantId, score: f64) {
        self.engine
            .handle_update_coherence(self.now_ms, participant, score)
            .expect("score");
        self.drain();
    }

    pub fn rr(&mut self, participant: ParticipantId, batch: RrBatch) -> RrOutcome {
        let outcome = self
            .engine
            .handle_rr_intervals(self.now_ms, participant, batch)
            .expect("rr batch");
        self.drain();
        outcome
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().map(|(_, record)| record)
    }

    pub fn broadcasts(&self) -> impl Iterator<Item = &Broadcast> {
        self.broadcasts.iter().map(|(_, broadcast)| broadcast)
    }

    /// Messages to one participant.
    pub fn messages_to(&self, participant: ParticipantId) -> impl Iterator<Item = &MessageBody> {
        self.messages
            .iter()
            .filter(move |(_, message)| message.to == participant)
            .map(|(_, message)| &message.body)
    }

    pub fn feedback_to(&self, participant: ParticipantId) -> Vec<&PersonalFeedback> {
        self.messages_to(participant)
            .filter_map(|body| match body {
                MessageBody::PersonalFeedback(feedback) => Some(feedback),
                _ => None,
            })
            .collect()
    }

    pub fn acks_to(&self, participant: ParticipantId) -> Vec<u64> {
        self.messages_to(participant)
            .filter_map(|body| match body {
                MessageBody::RrAck { seq } => Some(*seq),
                _ => None,
            })
            .collect()
    }
}

/// The running session as the store would read it back after a crash, from the records the
/// room has drained: its row, its latest phase, the participants joined and not closed (no
/// durable seqs), and how many ever joined.
pub fn stored_session(room: &Room) -> RestoredSession {
    let mut session = None;
    let mut latest_phase = None;
    let mut participants = Vec::new();
    let mut joined_total = 0;
    for record in room.records() {
        match record {
            Record::SessionOpened(row) => session = Some(row.clone()),
            Record::PhaseChanged {
                phase,
                at_ms,
                ends_at_ms,
                ..
            } => latest_phase = Some((*phase, *at_ms, *ends_at_ms)),
            Record::ParticipantJoined(row) => {
                joined_total += 1;
                participants.push(RestoredParticipant {
                    row: row.clone(),
                    durable_seqs: Vec::new(),
                });
            }
            Record::ParticipantClosed(closed) => participants
                .retain(|participant| participant.row.participant_id != closed.participant_id),
            _ => {}
        }
    }
    let (phase, phase_started_at_ms, phase_ends_at_ms) = latest_phase.expect("a phase record");
    RestoredSession {
        session: session.expect("a session row"),
        phase,
        phase_started_at_ms,
        phase_ends_at_ms: phase_ends_at_ms.expect("a running phase"),
        participants,
        joined_total,
    }
}

pub fn join_request(device: DeviceKind) -> JoinRequest {
    JoinRequest {
        pseudonym: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        intention: Some(IntentionCategory::Grief),
        research_consent: true,
        device,
        clock_offset_ms: None,
    }
}

/// A heart that beats on its own clock; the test pulls the beats that ended by a given time.
pub struct Heart {
    /// When the latest generated beat ended, ms (hub time).
    pub last_beat_ms: f64,
    rhythm: Rhythm,
    noise_state: u64,
    pending_rr_ms: Option<f64>,
}

#[derive(Clone, Copy)]
pub enum Rhythm {
    /// RR = 1000 + 80·sin(2π·0.1·t): paced breathing at 6/min, coherent.
    Paced,
    /// RR = 800 ± 50 ms uniform noise: incoherent.
    Noise,
}

impl Heart {
    pub fn new(rhythm: Rhythm, start_ms: f64, seed: u64) -> Self {
        Self {
            last_beat_ms: start_ms,
            rhythm,
            noise_state: seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
            pending_rr_ms: None,
        }
    }

    fn next_rr_ms(&mut self) -> f64 {
        match self.rhythm {
            Rhythm::Paced => {
                let t_secs = self.last_beat_ms / 1000.0;
                1000.0 + 80.0 * (2.0 * std::f64::consts::PI * 0.1 * t_secs).sin()
            }
            Rhythm::Noise => {
                // A 64-bit LCG: deterministic, good enough for white-ish noise.
                self.noise_state = self
                    .noise_state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let unit = (self.noise_state >> 11) as f64 / (1_u64 << 53) as f64;
                800.0 + (unit - 0.5) * 100.0
            }
        }
    }

    /// The beats that ended after the previous call and by `until_ms`, as one batch whose
    /// `endedAt` is in a client clock running `client_behind_ms` behind hub time.
    pub fn beats_until(
        &mut self,
        until_ms: f64,
        seq: Option<u64>,
        client_behind_ms: f64,
    ) -> RrBatch {
        let mut rr_ms = Vec::new();
        loop {
            let rr = match self.pending_rr_ms.take() {
                Some(rr) => rr,
                None => self.next_rr_ms(),
            };
            if self.last_beat_ms + rr > until_ms {
                self.pending_rr_ms = Some(rr);
                break;
            }
            self.last_beat_ms += rr;
            rr_ms.push(rr);
        }
        RrBatch {
            rr_ms,
            ended_at_client_ms: Some(self.last_beat_ms - client_behind_ms),
            seq,
        }
    }
}

/// Population statistics the slow, obvious way (sort), to check the engine's figures.
pub fn reference_stats(scores: &[f64]) -> (f64, f64, f64) {
    if scores.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let std = (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    (mean, median, std)
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}
