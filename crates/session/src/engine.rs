//! The engine: one room's schedule, participants and group metrics as a state machine.
//!
//! Shaped like `quinn-proto`'s `Connection`: the caller owns the clock and the sockets, feeds
//! inputs through `handle_*(now_ms, …)`, drains effects through `poll_message`,
//! `poll_broadcast` and `poll_record`, and wakes the engine at `poll_timeout` with
//! `handle_timeout`. Every `handle_*` first catches the schedule up to `now_ms` (phase ends,
//! 1 Hz ticks, resume-grace expiries), so inputs always land in the right session even when the
//! caller was late to call `handle_timeout`.
//!
//! Per input the work is O(1) (or O(batch) for RR): nothing is recomputed for the whole room
//! when one participant speaks. The room is visited once per 1 Hz tick, in O(n) plus an O(n)
//! selection for the median, and once every 5 s for synchrony (spread over several wake-ups
//! in a large room, so no single call holds the caller up for the whole round).

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::fmt;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use synchub_hrv::synchrony::SynchronyAnalyzer;
use synchub_hrv::{
    ALGORITHM, Beat, CoherencePhase, Quality, StreamConfig, StreamWorkspace, StreamingAnalyzer,
    validate_rr_ms,
};

use crate::effect::{
    Broadcast, Contribution, Message, MessageBody, Pacer, PersonalFeedback, Petal, PhaseChange,
    RoomSnapshot, SessionInfo, SessionJoined, TokenOwner,
};
use crate::error::EngineError;
use crate::group::GroupStats;
use crate::ids::{ParticipantId, ResumeToken, SessionId};
use crate::input::{
    EngineConfig, JoinRequest, ParticipantView, RestoredSession, RrBatch, RrOutcome,
};
use crate::participant::{Connection, LatestScore, Participant, SeqLog, SeqState};
use crate::record::{
    BeatBatch, GroupSnapshot, IntentionCategory, PairRecord, ParticipantMetrics, ParticipantRow,
    Phase, Record, ScheduleMode, ScoreSource, SessionRow, SessionSummary, StoredBeat,
    SynchronyRound,
};
use crate::running::Session;
use crate::schedule::{PhaseDurations, ScheduleConfig, next_phase, slot_phase_at, slot_start_ms};

/// Group metrics, room snapshots and group-snapshot records: once per second.
pub const TICK_MS: i64 = 1_000;
/// A score older than this does not count in the group (coherence.md §5).
pub const FRESH_MS: i64 = 15_000;
/// Each connected participant with a fresh score gets `personal_feedback` this often.
pub const FEEDBACK_INTERVAL_MS: i64 = 5_000;
/// Synchrony is computed on every fifth tick (coherence.md §6: every 5 s).
pub const SYNCHRONY_EVERY_TICKS: i64 = 5;
/// Synchrony looks at the last 64 s of heart rate.
pub const SYNCHRONY_WINDOW_SECS: f64 = 64.0;
/// The synchrony window ends this long before the median newest final beat of the
/// participants (see `Engine::synchrony_round`).
const SYNCHRONY_END_SLACK_SECS: f64 = 0.75;
/// Above this many pairs, a random sample of pairs (coherence.md §6).
pub const SYNCHRONY_MAX_PAIRS: usize = 20_000;
/// Beats older than this at arrival are refused (`stale_beats`).
pub const MAX_BEAT_AGE_MS: f64 = 300_000.0;
/// Beats further than this in the future (after clock correction) are refused.
pub const MAX_BEAT_AHEAD_MS: f64 = 5_000.0;
/// RR values outside this range are stored flagged as artifacts; cleaning corrects them.
const PHYSIOLOGICAL_RR_MS: (f64, f64) = (250.0, 2500.0);
/// Samples in one synchrony series: 64 s at 4 Hz.
const SYNCHRONY_SAMPLES: usize = 256;
/// Work of one synchrony slice, in pair-equivalents: a large room's round is spread over
/// wake-ups of about this much work each (a few milliseconds), so inputs wait behind a slice,
/// not behind the whole round (0.2–0.4 s for 10 000 participants on this 2-core machine). A room whose
/// whole round fits (up to about 50 participants) still gets it within its tick.
const SYNCHRONY_SLICE_WORK: usize = 2_000;
/// What adding one participant's series costs, in pair-equivalents (resampling plus two FFTs
/// and the lag statistics, against one real and one surrogate pair).
const SYNCHRONY_SERIES_WORK: usize = 4;

/// A synchrony round between its tick and its record: which window, and how far it got.
#[derive(Debug, Clone, Copy)]
struct SynchronyInProgress {
    /// The tick it belongs to (the record's `at_ms`).
    at_ms: i64,
    /// The common window's end, hub seconds.
    end_secs: f64,
    /// The next room slot whose participant is to be added.
    next_slot: usize,
    /// Every series added and the pairs drawn; only pairs remain.
    planned: bool,
}

/// The next thing on the engine's timeline; ties are handled in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    GraceEnds,
    PhaseEnds,
    Tick,
    OpenRolling,
}

/// The session engine of one room. See the crate docs for the roles and an example.
pub struct Engine {
    config: EngineConfig,
    /// A schedule change waiting for the current session to complete.
    pending_schedule: Option<ScheduleConfig>,
    session: Option<Session>,
    /// Rolling mode, when the current slot already hosted its session: the next slot start.
    next_open_ms: Option<i64>,
    last_rolling_slot_ms: Option<i64>,
    /// The latest time the engine has seen; time never runs backwards inside the engine.
    now_ms: i64,
    rng: StdRng,
    pacer: Pacer,
    messages: VecDeque<Message>,
    broadcasts: VecDeque<Broadcast>,
    records: VecDeque<Record>,
    participant_count_dirty: bool,
    scratch_scores: Vec<f64>,
    scratch_due: Vec<u32>,
    /// One participant's heart-rate series on its way into the synchrony analyser.
    scratch_series: Vec<f64>,
    /// The participants added to the synchrony round in progress, in the analyser's order.
    scratch_series_ids: Vec<ParticipantId>,
    synchrony: Option<SynchronyAnalyzer>,
    /// The synchrony round in progress, when a large room's round is spread over wake-ups.
    synchrony_round: Option<SynchronyInProgress>,
    /// The FFT plan and scratch of every participant's analyser, shared: a participant keeps
    /// only its own beats and state (a few KiB instead of ~115 KiB each).
    workspace: StreamWorkspace,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("now_ms", &self.now_ms)
            .field("session", &self.session.as_ref().map(Session::info))
            .field("messages", &self.messages.len())
            .field("broadcasts", &self.broadcasts.len())
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

fn new_uuid_v4(rng: &mut StdRng) -> uuid::Uuid {
    let mut bytes = [0_u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn new_uuid_v7(rng: &mut StdRng, now_ms: i64) -> uuid::Uuid {
    let mut bytes = [0_u8; 10];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(u64::try_from(now_ms).unwrap_or(0), &bytes)
        .into_uuid()
}

fn validate_pacer(breaths_per_min: f64, inhale_ratio: f64) -> Result<(), EngineError> {
    let bpm_ok = breaths_per_min > 0.0 && breaths_per_min <= 60.0;
    let ratio_ok = inhale_ratio > 0.0 && inhale_ratio < 1.0;
    if bpm_ok && ratio_ok {
        Ok(())
    } else {
        Err(EngineError::InvalidPacer {
            breaths_per_min,
            inhale_ratio,
        })
    }
}

fn feedback(session: &Session, at_ms: i64, latest: &LatestScore) -> PersonalFeedback {
    let group_average = session.group.average_coherence;
    PersonalFeedback {
        session_id: session.id(),
        at_ms,
        your_coherence: latest.score,
        group_average,
        contribution: if latest.score >= group_average {
            Contribution::HelpingLift
        } else {
            Contribution::BeingSupported
        },
        coherence_phase: latest.phase(),
        session_phase: session.phase,
        coherence_ratio: latest.ratio,
        heart_rate_bpm: latest.hr_bpm,
        breaths_per_min: latest.breaths_per_min,
        quality: latest.quality,
    }
}

impl Engine {
    /// A new engine at `now_ms`. `rng_seed` must come from a cryptographically secure source
    /// (the hub seeds from the OS): resume tokens and ids are drawn from it. In rolling mode the
    /// session of the slot in progress opens at once, in the phase that slot is in.
    pub fn new(config: EngineConfig, now_ms: i64, rng_seed: [u8; 32]) -> Result<Self, EngineError> {
        let mut engine = Self::without_session(config, now_ms, rng_seed)?;
        if engine.config.schedule.mode == ScheduleMode::Rolling {
            engine.open_rolling_or_wait(now_ms);
        }
        Ok(engine)
    }

    /// An engine that continues a session that was running when the hub stopped (a crash, a
    /// restart). The session keeps its id, phase times and mode; its participants wait for
    /// their phones to resume with the tokens they hold (each gets the resume grace from
    /// `now_ms`, then is closed). Analyser state and the session's running totals start afresh:
    /// the summary covers what this engine saw, plus `joined_total`. Phases that ended while the
    /// hub was down are caught up at their scheduled times (records and broadcasts), possibly
    /// completing the session. Nothing already stored is emitted again.
    pub fn restore(
        config: EngineConfig,
        now_ms: i64,
        rng_seed: [u8; 32],
        restored: RestoredSession,
    ) -> Result<Self, EngineError> {
        if restored.phase == Phase::Complete {
            return Err(EngineError::InvalidRestore("the session already completed"));
        }
        if restored.phase_ends_at_ms < restored.phase_started_at_ms {
            return Err(EngineError::InvalidRestore(
                "the phase ends before it starts",
            ));
        }
        let mut engine = Self::without_session(config, now_ms, rng_seed)?;
        let row = restored.session;
        if row.mode == ScheduleMode::Rolling {
            engine.last_rolling_slot_ms = row.slot_start_ms;
        }
        let mut session = Session::new(
            row,
            restored.phase,
            restored.phase_started_at_ms,
            restored.phase_ends_at_ms,
            now_ms,
        );
        let grace_ends_ms = now_ms + engine.config.resume_grace_ms;
        for restored_participant in restored.participants {
            let row = restored_participant.row;
            if session.by_id.contains_key(&row.participant_id) {
                continue;
            }
            let slot = session.take_free_slot();
            let mut participant = Participant {
                id: row.participant_id,
                slot,
                token: row.resume_token,
                pseudonym: row.pseudonym,
                device: row.device,
                intention: row.intention,
                research_consent: row.research_consent,
                connection: Connection::Disconnected {
                    since_ms: now_ms,
                    grace_ends_ms,
                },
                clock: Default::default(),
                analyzer: None,
                seqs: SeqLog::default(),
                latest: None,
                peak: None,
                high_secs: 0.0,
                next_feedback_ms: now_ms + FEEDBACK_INTERVAL_MS,
            };
            for seq in restored_participant.durable_seqs {
                participant.seqs.insert_durable(seq);
            }
            session
                .grace
                .push(Reverse((grace_ends_ms, row.participant_id)));
            session.insert(participant);
        }
        session.joined_total = restored.joined_total.max(session.participant_count);
        engine.session = Some(session);
        engine.participant_count_dirty = true;
        engine.advance_to(now_ms);
        Ok(engine)
    }

    fn without_session(
        config: EngineConfig,
        now_ms: i64,
        rng_seed: [u8; 32],
    ) -> Result<Self, EngineError> {
        config.schedule.phases.validate()?;
        validate_pacer(config.pacer_breaths_per_min, config.pacer_inhale_ratio)?;
        Ok(Self {
            config,
            pending_schedule: None,
            session: None,
            next_open_ms: None,
            last_rolling_slot_ms: None,
            now_ms,
            rng: StdRng::from_seed(rng_seed),
            pacer: Pacer {
                breaths_per_min: config.pacer_breaths_per_min,
                inhale_ratio: config.pacer_inhale_ratio,
                epoch_hub_ms: now_ms,
            },
            messages: VecDeque::new(),
            broadcasts: VecDeque::new(),
            records: VecDeque::new(),
            participant_count_dirty: false,
            scratch_scores: Vec::new(),
            scratch_due: Vec::new(),
            scratch_series: Vec::with_capacity(SYNCHRONY_SAMPLES),
            scratch_series_ids: Vec::new(),
            synchrony: None,
            synchrony_round: None,
            workspace: StreamWorkspace::new(),
        })
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next message for one participant. Call after every `handle_*` call (or batch of
    /// calls) and after `handle_timeout`, until it returns `None`; send each to the
    /// connection(s) of `to`. Messages for a participant that has no connection right now are
    /// not generated (a resume brings fresh state).
    pub fn poll_message(&mut self) -> Option<Message> {
        self.messages.pop_front()
    }

    /// The next broadcast for the room (see [`Broadcast::audience`]). Call at the same moments
    /// as `poll_message`, until `None`. Participant-count changes are produced here, lazily,
    /// once the queue is empty: however many joins and leaves happened since the last drain,
    /// the room gets one `ParticipantCount`.
    pub fn poll_broadcast(&mut self) -> Option<Broadcast> {
        if let Some(broadcast) = self.broadcasts.pop_front() {
            return Some(broadcast);
        }
        if std::mem::take(&mut self.participant_count_dirty) {
            let session = self.session.as_ref()?;
            return Some(Broadcast::ParticipantCount {
                session_id: session.id(),
                participant_count: session.participant_count,
            });
        }
        None
    }

    /// The next record to persist, in the order things happened. Call at the same moments as
    /// `poll_message`, until `None`, and hand them to the store in that order; when the store
    /// reports a `Record::Beats` with a `seq` durable, call [`Engine::handle_beats_durable`].
    pub fn poll_record(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// When the engine next needs `handle_timeout` (hub time, ms): the next 1 Hz tick, phase
    /// end, resume-grace expiry or rolling session start, or the engine's present while a
    /// large room's synchrony round is being spread over wake-ups (see
    /// [`Engine::handle_timeout`]). `None` when nothing is scheduled (manual mode with no
    /// session). Ask again after every `handle_*` call.
    pub fn poll_timeout(&self) -> Option<i64> {
        if self.synchrony_round.is_some() {
            // The rest of a spread synchrony round is due at once; inputs that arrived
            // meanwhile go first if the caller takes them first.
            return Some(self.now_ms);
        }
        self.next_event().map(|(at_ms, _)| at_ms)
    }

    /// Runs everything scheduled up to `now_ms`, in time order, each at its own scheduled time.
    /// After a long pause only the latest missed tick runs (no burst of stale metrics).
    ///
    /// A large room's synchrony round is spread over several calls: each call does one slice
    /// of it (a few milliseconds of work), and [`Engine::poll_timeout`] asks for the next call
    /// at once until the round is recorded. Other inputs may be handled between the calls.
    pub fn handle_timeout(&mut self, now_ms: i64) {
        let had_round = self.synchrony_round.is_some();
        self.advance_to(now_ms);
        // A round that began in this call already had its first slice.
        if had_round {
            self.continue_synchrony(SYNCHRONY_SLICE_WORK);
        }
    }

    // ----- read-only views ---------------------------------------------------------------

    /// The running session, if any.
    pub fn current_session(&self) -> Option<SessionInfo> {
        self.session.as_ref().map(Session::info)
    }

    /// Participants joined and not closed in the current session (0 without one).
    pub fn participant_count(&self) -> u32 {
        self.session
            .as_ref()
            .map_or(0, |session| session.participant_count)
    }

    /// The latest 1 Hz group figures of the current session.
    pub fn group_metrics(&self) -> Option<&GroupSnapshot> {
        self.session.as_ref().map(|session| &session.group)
    }

    /// The room's pacer.
    pub fn pacer(&self) -> Pacer {
        self.pacer
    }

    /// The schedule the next session will follow.
    pub fn schedule(&self) -> ScheduleConfig {
        self.pending_schedule.unwrap_or(self.config.schedule)
    }

    /// The participants of the current session, in slot order.
    pub fn participants(&self) -> impl Iterator<Item = ParticipantView> + '_ {
        self.session
            .iter()
            .flat_map(|session| session.slots.iter().flatten())
            .map(|participant| ParticipantView {
                participant_id: participant.id,
                slot: participant.slot,
                device: participant.device,
                connected: participant.is_connected(),
                coherence: participant.latest.map(|latest| latest.score),
                quality: participant.latest.map(|latest| latest.quality),
                source: participant.latest.map(|latest| latest.source),
            })
    }

    /// Who holds this resume token in the current session (restored participants included),
    /// compared in constant time. A participant who left, or was closed after the grace, is
    /// still found until the session completes; after that no token is.
    pub fn participant_by_token(&self, token: &ResumeToken) -> Option<TokenOwner> {
        let session = self.session.as_ref()?;
        let present = session
            .slots
            .iter()
            .flatten()
            .map(|participant| (&participant.token, participant.id, &participant.pseudonym));
        let left = session
            .left
            .iter()
            .map(|owner| (&owner.token, owner.participant_id, &owner.pseudonym));
        // Every entry is compared; the scan does not stop at a match.
        let mut found = None;
        for (known, participant_id, pseudonym) in present.chain(left) {
            if known.constant_time_eq(token) {
                found = Some(TokenOwner {
                    session_id: session.id(),
                    participant_id,
                    pseudonym: pseudonym.clone(),
                });
            }
        }
        found
    }

    // ----- participant inputs --------------------------------------------------------------

    /// A participant joins the current session (a completed session's joiners land in the
    /// next one). Emits `ParticipantJoined`, `SessionJoined` + `Pacer` to the participant, and
    /// a coalesced participant count.
    pub fn handle_join(
        &mut self,
        now_ms: i64,
        request: JoinRequest,
    ) -> Result<ParticipantId, EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self.session.as_mut().ok_or(EngineError::NoActiveSession)?;
        if let Some(capacity) = self.config.max_participants
            && session.participant_count >= capacity
        {
            return Err(EngineError::SessionFull { capacity });
        }
        let id = ParticipantId(new_uuid_v4(&mut self.rng));
        let token = loop {
            let mut bytes = [0_u8; 16];
            self.rng.fill_bytes(&mut bytes);
            let token = ResumeToken(bytes);
            if !session.by_token.contains_key(&token.lookup_key()) {
                break token;
            }
        };
        let slot = session.take_free_slot();
        let mut participant = Participant {
            id,
            slot,
            token,
            pseudonym: request.pseudonym.clone(),
            device: request.device,
            intention: request.intention,
            research_consent: request.research_consent,
            connection: Connection::Connected,
            clock: Default::default(),
            analyzer: None,
            seqs: SeqLog::default(),
            latest: None,
            peak: None,
            high_secs: 0.0,
            next_feedback_ms: now_ms + FEEDBACK_INTERVAL_MS,
        };
        if let Some(offset_ms) = request.clock_offset_ms {
            participant.clock.add_sample(offset_ms);
        }
        session.insert(participant);
        session.joined_total += 1;
        self.records
            .push_back(Record::ParticipantJoined(ParticipantRow {
                session_id: session.id(),
                participant_id: id,
                pseudonym: request.pseudonym,
                intention: request.intention,
                research_consent: request.research_consent,
                device: request.device,
                joined_at_ms: now_ms,
                resume_token: token,
            }));
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::SessionJoined(Box::new(SessionJoined {
                participant_id: id,
                resume_token: token,
                resumed: false,
                session: session.info(),
                group: session.group.clone(),
            })),
        });
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::Pacer(self.pacer),
        });
        self.participant_count_dirty = true;
        Ok(id)
    }

    /// A participant comes back on a new connection with its token, inside the grace: same id,
    /// analyser and slot. Emits `SessionJoined { resumed: true }` + `Pacer`. An unknown or
    /// expired token is `UnknownResumeToken`: the hub lets the client join as new.
    pub fn handle_resume(
        &mut self,
        now_ms: i64,
        token: &ResumeToken,
    ) -> Result<ParticipantId, EngineError> {
        self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownResumeToken)?;
        let id = *session
            .by_token
            .get(&token.lookup_key())
            .ok_or(EngineError::UnknownResumeToken)?;
        let participant = session
            .participant_mut(id)
            .map_err(|_| EngineError::UnknownResumeToken)?;
        if !participant.token.constant_time_eq(token) {
            return Err(EngineError::UnknownResumeToken);
        }
        // The grace-heap entry goes stale and is skipped when it comes up.
        participant.connection = Connection::Connected;
        let joined = SessionJoined {
            participant_id: id,
            resume_token: participant.token,
            resumed: true,
            session: session.info(),
            group: session.group.clone(),
        };
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::SessionJoined(Box::new(joined)),
        });
        self.messages.push_back(Message {
            to: id,
            body: MessageBody::Pacer(self.pacer),
        });
        Ok(id)
    }

    /// The participant's connection dropped: it stays in the session (counted, slot kept,
    /// analyser kept) for the resume grace, then is closed with `left_at` = now.
    pub fn handle_disconnect(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let grace_ms = self.config.resume_grace_ms;
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let entry = session.participant_mut(participant)?;
        if entry.is_connected() {
            let grace_ends_ms = now_ms + grace_ms;
            entry.connection = Connection::Disconnected {
                since_ms: now_ms,
                grace_ends_ms,
            };
            session.grace.push(Reverse((grace_ends_ms, participant)));
        }
        Ok(())
    }

    /// The participant leaves (`leave_session`): closed at once, slot freed.
    pub fn handle_leave(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let removed = session
            .remove(participant)
            .ok_or(EngineError::UnknownParticipant(participant))?;
        self.records
            .push_back(session.closed_record(&removed, now_ms));
        self.participant_count_dirty = true;
        Ok(())
    }

    /// `set_intention` (and consent, when a re-join on a resumed connection brings one):
    /// emits `ParticipantChanged`. `research_consent: None` keeps the current consent.
    pub fn handle_set_intention(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        intention: Option<IntentionCategory>,
        research_consent: Option<bool>,
    ) -> Result<(), EngineError> {
        self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let session_id = session.id();
        let entry = session.participant_mut(participant)?;
        entry.intention = intention;
        if let Some(consent) = research_consent {
            entry.research_consent = consent;
        }
        self.records.push_back(Record::ParticipantChanged {
            session_id,
            participant_id: participant,
            intention,
            research_consent: entry.research_consent,
        });
        Ok(())
    }

    /// A `time_sync {clientTime}` from the participant's connection arrived at `now_ms`: one
    /// clock-offset sample (hub − client). The hub answers `{clientTime, hubTime: now_ms}`
    /// itself.
    pub fn handle_time_sync(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        client_time_ms: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        session
            .participant_mut(participant)?
            .clock
            .add_sample(now_ms as f64 - client_time_ms);
        Ok(())
    }

    /// A client-computed score (`update_coherence`, 0–100). Counts in the group exactly like a
    /// hub score; emits a `Metrics` record and `personal_feedback` at once.
    pub fn handle_update_coherence(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        score: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        if !(score.is_finite() && (0.0..=100.0).contains(&score)) {
            return Err(EngineError::InvalidScore { score });
        }
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let slot = session.slot_of(participant)?;
        let latest = LatestScore {
            score,
            at_ms: now_ms,
            quality: Quality::Good,
            source: ScoreSource::Client,
            ratio: None,
            breaths_per_min: None,
            hr_bpm: None,
        };
        let Some(entry) = session.slots[slot].as_mut() else {
            return Err(EngineError::UnknownParticipant(participant));
        };
        entry.set_latest(latest);
        let connected = entry.is_connected();
        self.records.push_back(Record::Metrics(ParticipantMetrics {
            session_id: session.id(),
            participant_id: participant,
            at_ms: now_ms,
            source: ScoreSource::Client,
            algorithm: None,
            score,
            ratio: None,
            peak_hz: None,
            breaths_per_min: None,
            hr_bpm: None,
            mean_rr_ms: None,
            sdnn_ms: None,
            rmssd_ms: None,
            artifact_fraction: None,
            quality: Quality::Good,
        }));
        if connected {
            self.messages.push_back(Message {
                to: participant,
                body: MessageBody::PersonalFeedback(feedback(session, now_ms, &latest)),
            });
        }
        Ok(())
    }

    /// A batch of RR intervals. Beat times: the last beat ended at `ended_at_client_ms`
    /// converted to hub time with the participant's clock offset (arrival time without it);
    /// each earlier beat ended one RR before the next. Order of checks: the participant, RR
    /// validity (`InvalidRr`), a duplicate `seq` (dropped; `rr_ack` again if already durable),
    /// the time range (`StaleBeats`: older than 5 min or more than 5 s ahead). An accepted
    /// batch emits `Record::Beats` (raw values, out-of-range RR flagged as artifacts), feeds
    /// the participant's analyser and emits a `Metrics` record per new 5-second score.
    pub fn handle_rr_intervals(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        batch: RrBatch,
    ) -> Result<RrOutcome, EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let session_id = session.id();
        let entry = session.participant_mut(participant)?;
        for (index, &rr_ms) in batch.rr_ms.iter().enumerate() {
            validate_rr_ms(rr_ms).map_err(|reason| EngineError::InvalidRr { index, reason })?;
        }
        if let Some(seq) = batch.seq
            && let Some(state) = entry.seqs.get(seq)
        {
            if state == SeqState::Durable && entry.is_connected() {
                self.messages.push_back(Message {
                    to: participant,
                    body: MessageBody::RrAck { seq },
                });
            }
            return Ok(RrOutcome::Duplicate);
        }
        let now_f64 = now_ms as f64;
        let last_ended_ms = batch
            .ended_at_client_ms
            .map_or(now_f64, |client_ms| client_ms + entry.clock.offset_ms());
        let span_ms: f64 = batch.rr_ms.iter().skip(1).sum();
        let first_ended_ms = last_ended_ms - span_ms;
        if !batch.rr_ms.is_empty() {
            let oldest_age_ms = now_f64 - first_ended_ms;
            let newest_ahead_ms = last_ended_ms - now_f64;
            if !(oldest_age_ms <= MAX_BEAT_AGE_MS && newest_ahead_ms <= MAX_BEAT_AHEAD_MS) {
                return Err(EngineError::StaleBeats {
                    oldest_age_ms,
                    newest_ahead_ms,
                });
            }
        }
        if let Some(seq) = batch.seq {
            entry.seqs.insert_pending(seq);
        }
        let mut beats = Vec::with_capacity(batch.rr_ms.len());
        let mut time_ms = first_ended_ms;
        for (index, &rr_ms) in batch.rr_ms.iter().enumerate() {
            if index > 0 {
                time_ms += rr_ms;
            }
            beats.push(StoredBeat {
                time_ms,
                rr_ms,
                artifact: !(PHYSIOLOGICAL_RR_MS.0..=PHYSIOLOGICAL_RR_MS.1).contains(&rr_ms),
            });
        }
        // Taken out while the batch is analysed, so the participant's score can be updated
        // between results; put back below.
        let mut analyzer = entry.analyzer.take().unwrap_or_else(|| {
            Box::new(StreamingAnalyzer::new(StreamConfig {
                window_secs: 64.0,
                step_secs: 5.0,
                warmup_secs: 32.0,
                clean: true,
            }))
        });
        let mut out_of_order = 0;
        for beat in &beats {
            let pushed = analyzer.push(
                Beat {
                    time_secs: beat.time_ms / 1000.0,
                    rr_ms: beat.rr_ms,
                },
                &mut self.workspace,
            );
            if pushed.is_err() {
                out_of_order += 1;
            }
        }
        self.records.push_back(Record::Beats(BeatBatch {
            session_id,
            participant_id: participant,
            seq: batch.seq,
            beats,
        }));
        let mut new_scores = 0;
        while let Some(window) = analyzer.poll_result(&mut self.workspace) {
            new_scores += 1;
            let time_domain = analyzer.window_time_domain();
            let at_ms = (window.end_secs * 1000.0).round() as i64;
            let latest = LatestScore {
                score: window.score,
                at_ms,
                quality: window.quality,
                source: ScoreSource::Hub,
                ratio: Some(window.ratio),
                breaths_per_min: Some(window.breaths_per_min),
                hr_bpm: time_domain.map(|time| time.hr_bpm),
            };
            self.records.push_back(Record::Metrics(ParticipantMetrics {
                session_id,
                participant_id: participant,
                at_ms,
                source: ScoreSource::Hub,
                algorithm: Some(ALGORITHM),
                score: window.score,
                ratio: Some(window.ratio),
                peak_hz: Some(window.peak_hz),
                breaths_per_min: Some(window.breaths_per_min),
                hr_bpm: time_domain.map(|time| time.hr_bpm),
                mean_rr_ms: time_domain.map(|time| time.mean_rr_ms),
                sdnn_ms: time_domain.map(|time| time.sdnn_ms),
                rmssd_ms: time_domain.map(|time| time.rmssd_ms),
                artifact_fraction: Some(window.artifact_fraction),
                quality: window.quality,
            }));
            entry.set_latest(latest);
        }
        entry.analyzer = Some(analyzer);
        Ok(RrOutcome::Accepted {
            out_of_order,
            new_scores,
        })
    }

    /// The store confirmed the `Record::Beats` with this seq durable: the participant gets
    /// `rr_ack {seq}` (if connected; after a resume, a resend is re-acknowledged). Unknown
    /// participants and seqs are ignored: the session may have completed meanwhile.
    pub fn handle_beats_durable(&mut self, participant: ParticipantId, seq: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Ok(entry) = session.participant_mut(participant) else {
            return;
        };
        // A seq already durable (a second confirmation) is not acknowledged again.
        if entry.seqs.mark_durable(seq) && entry.is_connected() {
            self.messages.push_back(Message {
                to: participant,
                body: MessageBody::RrAck { seq },
            });
        }
    }

    // ----- facilitator inputs --------------------------------------------------------------

    /// The room's pacer changes: broadcast to everyone, and sent to each joiner from now on.
    pub fn handle_set_pacer(
        &mut self,
        now_ms: i64,
        breaths_per_min: f64,
        inhale_ratio: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        validate_pacer(breaths_per_min, inhale_ratio)?;
        self.pacer = Pacer {
            breaths_per_min,
            inhale_ratio,
            epoch_hub_ms: now_ms,
        };
        self.broadcasts.push_back(Broadcast::Pacer(self.pacer));
        Ok(())
    }

    /// Changes the schedule. With a session running it applies once that session completes
    /// (the running session keeps its phases); with none it applies now (switching to rolling
    /// opens the slot in progress).
    pub fn handle_set_schedule(
        &mut self,
        now_ms: i64,
        schedule: ScheduleConfig,
    ) -> Result<(), EngineError> {
        schedule.phases.validate()?;
        let now_ms = self.advance_to(now_ms);
        if self.session.is_some() {
            self.pending_schedule = Some(schedule);
        } else {
            self.pending_schedule = None;
            self.config.schedule = schedule;
            self.next_open_ms = None;
            if schedule.mode == ScheduleMode::Rolling {
                self.open_rolling_or_wait(now_ms);
            }
        }
        Ok(())
    }

    /// Starts a session now (manual mode, or a rolling hub between sessions): phases from the
    /// current schedule. `SessionInProgress` when one is running.
    pub fn handle_start_session(&mut self, now_ms: i64) -> Result<SessionId, EngineError> {
        let now_ms = self.advance_to(now_ms);
        if self.session.is_some() {
            return Err(EngineError::SessionInProgress);
        }
        self.next_open_ms = None;
        let phases = self.config.schedule.phases;
        Ok(self.open_session(now_ms, ScheduleMode::Manual, phases))
    }

    /// Ends the current phase now; the next begins (after integration, the session
    /// completes). Returns the phase now running (`Complete` when the session completed).
    pub fn handle_advance_phase(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
    ) -> Result<Phase, EngineError> {
        let now_ms = self.advance_to(now_ms);
        self.check_current(session_id)?;
        self.end_phase(now_ms);
        Ok(match &self.session {
            Some(session) if session.id() == session_id => session.phase,
            _ => Phase::Complete,
        })
    }

    /// Adds `extra_secs` to the current phase (and so to the session). Broadcasts the current
    /// phase again with its new end; nothing is recorded, because the next phase's
    /// `PhaseChanged` record carries the real end. Returns the new phase end.
    pub fn handle_extend_phase(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
        extra_secs: u32,
    ) -> Result<i64, EngineError> {
        self.advance_to(now_ms);
        self.check_current(session_id)?;
        if extra_secs == 0 {
            return Err(EngineError::InvalidSchedule("an extension of zero seconds"));
        }
        let session = self.session.as_mut().ok_or(EngineError::NoActiveSession)?;
        session.phase_ends_at_ms += i64::from(extra_secs) * 1000;
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
        Ok(session.phase_ends_at_ms)
    }

    /// Completes the current session now.
    pub fn handle_end_session(
        &mut self,
        now_ms: i64,
        session_id: SessionId,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        self.check_current(session_id)?;
        self.complete_session(now_ms);
        Ok(())
    }

    fn check_current(&self, session_id: SessionId) -> Result<(), EngineError> {
        match &self.session {
            None => Err(EngineError::NoActiveSession),
            Some(session) if session.id() != session_id => Err(EngineError::UnknownSession),
            Some(_) => Ok(()),
        }
    }

    // ----- the timeline -------------------------------------------------------------------

    fn next_event(&self) -> Option<(i64, Event)> {
        let mut candidates: [Option<(i64, Event)>; 4] = [None; 4];
        if let Some(session) = &self.session {
            candidates[0] = session
                .grace
                .peek()
                .map(|Reverse((at_ms, _))| (*at_ms, Event::GraceEnds));
            candidates[1] = Some((session.phase_ends_at_ms, Event::PhaseEnds));
            candidates[2] = Some((session.next_tick_ms, Event::Tick));
        } else {
            candidates[3] = self.next_open_ms.map(|at_ms| (at_ms, Event::OpenRolling));
        }
        candidates.into_iter().flatten().min()
    }

    /// Processes every due event up to `now_ms` and returns the engine's (monotonic) now.
    fn advance_to(&mut self, now_ms: i64) -> i64 {
        let now_ms = now_ms.max(self.now_ms);
        self.now_ms = now_ms;
        while let Some((at_ms, event)) = self.next_event() {
            if at_ms > now_ms {
                break;
            }
            match event {
                Event::GraceEnds => self.expire_grace(),
                Event::PhaseEnds => self.end_phase(at_ms),
                Event::Tick => {
                    // After a pause, jump to the latest tick that is due and not after the next
                    // other event, so ticks stay in order with phase changes.
                    let other_ms = self
                        .session
                        .as_ref()
                        .map(|session| {
                            let grace_ms = session
                                .grace
                                .peek()
                                .map_or(i64::MAX, |Reverse((at_ms, _))| *at_ms);
                            grace_ms.min(session.phase_ends_at_ms)
                        })
                        .unwrap_or(i64::MAX);
                    let limit_ms = now_ms.min(other_ms.saturating_sub(1)).max(at_ms);
                    let tick_ms = at_ms + (limit_ms - at_ms) / TICK_MS * TICK_MS;
                    self.tick(tick_ms);
                }
                Event::OpenRolling => {
                    self.next_open_ms = None;
                    self.open_rolling_or_wait(now_ms);
                }
            }
        }
        now_ms
    }

    fn expire_grace(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Some(Reverse((at_ms, participant))) = session.grace.pop() else {
            return;
        };
        let still_waiting = session
            .participant_mut(participant)
            .is_ok_and(|entry| {
                matches!(entry.connection, Connection::Disconnected { grace_ends_ms, .. } if grace_ends_ms == at_ms)
            });
        if !still_waiting {
            return;
        }
        if let Some(removed) = session.remove(participant) {
            self.records
                .push_back(session.closed_record(&removed, at_ms));
            self.participant_count_dirty = true;
        }
    }

    /// In rolling mode, each slot hosts one session: open the slot in progress, or wait for
    /// the next slot when this one already had its session (ended early by the facilitator).
    fn open_rolling_or_wait(&mut self, now_ms: i64) {
        let phases = self.config.schedule.phases;
        let slot_ms = slot_start_ms(now_ms, &phases);
        if self.last_rolling_slot_ms == Some(slot_ms) {
            self.next_open_ms = Some(slot_ms + phases.total_ms());
        } else {
            self.open_session(now_ms, ScheduleMode::Rolling, phases);
        }
    }

    fn open_session(
        &mut self,
        now_ms: i64,
        mode: ScheduleMode,
        phases: PhaseDurations,
    ) -> SessionId {
        let (slot_start, schedule_start_ms) = match mode {
            ScheduleMode::Rolling => {
                let slot_ms = slot_start_ms(now_ms, &phases);
                self.last_rolling_slot_ms = Some(slot_ms);
                (Some(slot_ms), slot_ms)
            }
            ScheduleMode::Manual => (None, now_ms),
        };
        let (phase, phase_started_at_ms, phase_ends_at_ms) =
            slot_phase_at(schedule_start_ms, &phases, now_ms);
        let row = SessionRow {
            session_id: SessionId(new_uuid_v7(&mut self.rng, now_ms)),
            mode,
            slot_start_ms: slot_start,
            started_at_ms: now_ms,
            preparation_secs: phases.preparation_secs,
            active_secs: phases.active_secs,
            integration_secs: phases.integration_secs,
            planned_end_ms: schedule_start_ms + phases.total_ms(),
        };
        let session = Session::new(
            row.clone(),
            phase,
            phase_started_at_ms,
            phase_ends_at_ms,
            now_ms,
        );
        self.records.push_back(Record::SessionOpened(row));
        self.records.push_back(Record::PhaseChanged {
            session_id: session.id(),
            phase,
            at_ms: phase_started_at_ms,
            ends_at_ms: Some(phase_ends_at_ms),
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
        let session_id = session.id();
        self.session = Some(session);
        self.participant_count_dirty = true;
        session_id
    }

    /// The current phase ends at `at_ms`: the next non-empty phase begins, or the session
    /// completes.
    fn end_phase(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let mut phase = next_phase(session.phase);
        while phase != Phase::Complete && session.phases.phase_ms(phase) == 0 {
            phase = next_phase(phase);
        }
        if phase == Phase::Complete {
            self.complete_session(at_ms);
            return;
        }
        session.phase = phase;
        session.phase_started_at_ms = at_ms;
        session.phase_ends_at_ms = at_ms + session.phases.phase_ms(phase);
        self.records.push_back(Record::PhaseChanged {
            session_id: session.id(),
            phase,
            at_ms,
            ends_at_ms: Some(session.phase_ends_at_ms),
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(session.phase_change()));
    }

    fn complete_session(&mut self, at_ms: i64) {
        // A round still spread over wake-ups is recorded before the session ends.
        self.continue_synchrony(usize::MAX);
        let Some(session) = self.session.take() else {
            return;
        };
        let session_id = session.id();
        self.records.push_back(Record::PhaseChanged {
            session_id,
            phase: Phase::Complete,
            at_ms,
            ends_at_ms: None,
        });
        self.broadcasts
            .push_back(Broadcast::PhaseChanged(PhaseChange {
                session_id,
                phase: Phase::Complete,
                started_at_ms: at_ms,
                ends_at_ms: None,
            }));
        for participant in session.slots.iter().flatten() {
            self.records
                .push_back(session.closed_record(participant, at_ms));
        }
        let totals = &session.totals;
        let summary = SessionSummary {
            duration_ms: at_ms - session.row.started_at_ms,
            participants: session.joined_total,
            average_coherence: totals.average(),
            peak_coherence: totals.peak,
            secs_low: totals.secs_low,
            secs_medium: totals.secs_medium,
            secs_high: totals.secs_high,
            average_synchrony: totals.average_synchrony(),
        };
        self.records.push_back(Record::SessionCompleted {
            session_id,
            ended_at_ms: at_ms,
            summary: summary.clone(),
        });
        self.broadcasts.push_back(Broadcast::SessionComplete {
            session_id,
            ended_at_ms: at_ms,
            summary,
        });
        self.participant_count_dirty = false;
        if let Some(schedule) = self.pending_schedule.take() {
            self.config.schedule = schedule;
        }
        if self.config.schedule.mode == ScheduleMode::Rolling {
            // Open at the engine's present, not at the scheduled end: after a pause (a restore,
            // a suspended laptop) the slot in progress opens in the phase it is in, exactly as
            // at start-up.
            self.open_rolling_or_wait(self.now_ms.max(at_ms));
        }
    }

    /// The 1 Hz tick: group metrics, room snapshot, group-snapshot record, due feedback, and
    /// every fifth tick a synchrony round. One pass over the room plus an O(n) median.
    fn tick(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        session.next_tick_ms = at_ms + TICK_MS;
        let tick_index = (at_ms - session.tick_origin_ms) / TICK_MS;
        if tick_index % SYNCHRONY_EVERY_TICKS == 0 {
            // The previous round, if the caller has not given it enough wake-ups, ends first.
            self.continue_synchrony(usize::MAX);
            self.begin_synchrony(at_ms);
            self.continue_synchrony(SYNCHRONY_SLICE_WORK);
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let tick_secs = TICK_MS as f64 / 1000.0;
        let scores = &mut self.scratch_scores;
        scores.clear();
        let due = &mut self.scratch_due;
        due.clear();
        let mut petals = Vec::with_capacity(session.participant_count as usize);
        for participant in session.slots.iter_mut().flatten() {
            let mut petal = Petal {
                slot: participant.slot,
                coherence: None,
                phase: None,
                quality: None,
            };
            if let Some(latest) = participant.latest
                && latest.is_fresh_at(at_ms, FRESH_MS)
            {
                petal.coherence = Some(latest.score);
                petal.phase = Some(latest.phase());
                petal.quality = Some(latest.quality);
                if latest.counts_at(at_ms, FRESH_MS) {
                    scores.push(latest.score);
                    if latest.phase() == CoherencePhase::High {
                        participant.high_secs += tick_secs;
                    }
                }
            }
            petals.push(petal);
            if participant.is_connected() && participant.next_feedback_ms <= at_ms {
                participant.next_feedback_ms += FEEDBACK_INTERVAL_MS;
                if participant.next_feedback_ms <= at_ms {
                    participant.next_feedback_ms = at_ms + FEEDBACK_INTERVAL_MS;
                }
                // A stale score is not news: a phone whose sensor stopped hears nothing
                // rather than its score of a minute ago.
                if participant
                    .latest
                    .is_some_and(|latest| latest.is_fresh_at(at_ms, FRESH_MS))
                {
                    due.push(participant.slot);
                }
            }
        }
        let stats = GroupStats::from_scores(scores);
        session.totals.add_tick(&stats, tick_secs);
        let snapshot = GroupSnapshot {
            session_id: session.id(),
            at_ms,
            phase: session.phase,
            participant_count: session.participant_count,
            active_count: stats.active_count,
            average_coherence: stats.average,
            median_coherence: stats.median,
            std_coherence: stats.std,
            peak_coherence: session.totals.peak.unwrap_or(0.0),
            coherence_phase: stats.phase(),
            distribution_low: stats.low,
            distribution_medium: stats.medium,
            distribution_high: stats.high,
            synchrony_index: session.synchrony_index,
        };
        session.group = snapshot.clone();
        if session.participant_count > 0 {
            self.records
                .push_back(Record::GroupSnapshot(snapshot.clone()));
        }
        self.broadcasts.push_back(Broadcast::GroupMetrics(snapshot));
        let session_ends_at_ms = session.ends_at_ms();
        self.broadcasts
            .push_back(Broadcast::RoomSnapshot(RoomSnapshot {
                session_id: session.id(),
                at_ms,
                phase: session.phase,
                phase_ends_at_ms: session.phase_ends_at_ms,
                session_ends_at_ms,
                time_left_ms: (session_ends_at_ms - at_ms).max(0),
                petals,
            }));
        for &slot in due.iter() {
            let Some(participant) = session.slots[slot as usize].as_ref() else {
                continue;
            };
            let Some(latest) = participant.latest else {
                continue;
            };
            self.messages.push_back(Message {
                to: participant.id,
                body: MessageBody::PersonalFeedback(feedback(session, at_ms, &latest)),
            });
        }
    }

    /// Starts a synchrony round over the participants whose analyser covers the last 64 s
    /// (coherence.md §6); [`Engine::continue_synchrony`] does the work.
    ///
    /// All series need one common time base, but each analyser holds only its last window
    /// (plus a 2 s margin) of final beats, and final beats lag arrival by cleaning's look-ahead
    /// and the phone's batching. So the window ends where most participants are: at the median
    /// of their newest final beats (among those with a beat in the last 15 s), less a little
    /// slack. Participants whose held beats do not cover that window sit this round out.
    fn begin_synchrony(&mut self, at_ms: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let at_secs = at_ms as f64 / 1000.0;
        let fresh_secs = FRESH_MS as f64 / 1000.0;
        let newest: &mut Vec<f64> = &mut self.scratch_scores;
        newest.clear();
        newest.extend(
            session
                .slots
                .iter()
                .flatten()
                .filter_map(|participant| participant.analyzer.as_deref()?.last_beat_time_secs())
                .filter(|&last_secs| at_secs - last_secs <= fresh_secs),
        );
        if newest.len() < 2 {
            return;
        }
        let middle = newest.len() / 2;
        let (_, median_secs, _) = newest.select_nth_unstable_by(middle, f64::total_cmp);
        let end_secs = *median_secs - SYNCHRONY_END_SLACK_SECS;
        self.scratch_series_ids.clear();
        let seed = self.rng.next_u64();
        self.synchrony
            .get_or_insert_with(|| SynchronyAnalyzer::new(SYNCHRONY_SAMPLES))
            .begin_round(SYNCHRONY_SAMPLES, seed);
        self.synchrony_round = Some(SynchronyInProgress {
            at_ms,
            end_secs,
            next_slot: 0,
            planned: false,
        });
    }

    /// Does up to `budget` pair-equivalents of the round in progress (see
    /// [`SYNCHRONY_SLICE_WORK`]): participants' series first, in slot order, then the pair
    /// plan, then the pairs; records the round when it is done. Participants who join or leave
    /// meanwhile are simply met or missed by the walk over the slots.
    fn continue_synchrony(&mut self, budget: usize) {
        let Some(mut round) = self.synchrony_round.take() else {
            return;
        };
        let (Some(session), Some(analyzer)) = (self.session.as_ref(), self.synchrony.as_mut())
        else {
            return;
        };
        let mut work = 0usize;
        while !round.planned && work < budget {
            let Some(slot) = session.slots.get(round.next_slot) else {
                if self.scratch_series_ids.len() < 2 {
                    // Nobody to compare: no round.
                    return;
                }
                analyzer.plan_round(SYNCHRONY_MAX_PAIRS);
                round.planned = true;
                break;
            };
            round.next_slot += 1;
            let Some(participant_analyzer) = slot
                .as_ref()
                .and_then(|participant| participant.analyzer.as_deref())
            else {
                continue;
            };
            work += SYNCHRONY_SERIES_WORK;
            let buffer = &mut self.scratch_series;
            if participant_analyzer.heart_rate_series(
                round.end_secs,
                SYNCHRONY_WINDOW_SECS,
                buffer,
                &mut self.workspace,
            ) && buffer.len() == SYNCHRONY_SAMPLES
            {
                analyzer.add_series(buffer);
                if let Some(participant) = slot {
                    self.scratch_series_ids.push(participant.id);
                }
            }
        }
        if !round.planned || !analyzer.compute_pairs(budget.saturating_sub(work)) {
            self.synchrony_round = Some(round);
            return;
        }
        let group = analyzer.finish_round();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let ids = &self.scratch_series_ids;
        let pairs = group
            .pairs
            .iter()
            .filter_map(|pair| {
                Some(PairRecord {
                    a: *ids.get(pair.a)?,
                    b: *ids.get(pair.b)?,
                    correlation: pair.correlation,
                    plv: pair.plv,
                    strength: pair.strength,
                })
            })
            .collect();
        session.synchrony_index = Some(group.index);
        session.totals.add_synchrony(group.index);
        self.records.push_back(Record::Synchrony(SynchronyRound {
            session_id: session.id(),
            at_ms: round.at_ms,
            participants: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            index: group.index,
            surrogate_index: group.surrogate_index,
            mean_strength: group.mean_strength,
            surrogate_mean_strength: group.surrogate_mean_strength,
            pairs_sampled: group.pairs_sampled,
            pairs,
        }));
    }
}
