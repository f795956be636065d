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
//!
//! This file holds the [`Engine`] itself: its state, its constructors, its outputs, its
//! read-only views and its timeline (what is due next, and running everything due up to a
//! given time). The inputs and the work they trigger are `impl Engine` blocks beside it:
//!
//! - `participants`: join, resume, disconnect, leave, intention, time sync, the end of a
//!   resume grace, and who holds a resume token;
//! - `beats`: client scores, RR batches and their durability;
//! - `facilitator`: start, advance, extend and end a session, the schedule and the pacer;
//! - `lifecycle`: how a session opens, changes phase and completes, whoever caused it;
//! - `tick`: the 1 Hz group metrics, snapshots and feedback;
//! - `synchrony`: the 5-second synchrony round, spread over wake-ups in a large room;
//! - `suspend`: the caller's computer slept — resume graces and beat ages leave the sleep out.

mod beats;
mod facilitator;
mod lifecycle;
mod participants;
mod suspend;
mod synchrony;
mod tick;

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::fmt;

use rand::{SeedableRng, rngs::StdRng};
use synchub_hrv::StreamWorkspace;
use synchub_hrv::synchrony::SynchronyAnalyzer;

pub use self::synchrony::SYNCHRONY_MAX_PAIRS;
use self::synchrony::{SYNCHRONY_SAMPLES, SynchronyInProgress};
use crate::effect::{Broadcast, Message, Pacer, SessionInfo};
use crate::error::EngineError;
use crate::ids::ParticipantId;
use crate::input::{EngineConfig, ParticipantView, RestoredSession};
use crate::participant::{Connection, Participant};
use crate::record::{GroupSnapshot, Phase, Record, ScheduleMode};
use crate::running::Session;
use crate::schedule::ScheduleConfig;
use crate::timing::TICK_MS;

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
    /// The caller's recent sleeps (`handle_suspended`), oldest first.
    sleeps: Vec<suspend::Sleep>,
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
            let waiting = Connection::Disconnected {
                since_ms: now_ms,
                grace_ends_ms,
            };
            let mut participant = Participant::new(&row, slot, waiting, now_ms);
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
        facilitator::validate_pacer(config.pacer_breaths_per_min, config.pacer_inhale_ratio)?;
        Ok(Self {
            config,
            pending_schedule: None,
            session: None,
            next_open_ms: None,
            last_rolling_slot_ms: None,
            now_ms,
            sleeps: Vec::with_capacity(suspend::REMEMBERED_SLEEPS),
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
            self.continue_synchrony_slice();
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
}
