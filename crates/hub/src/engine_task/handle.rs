//! What the rest of the hub holds of the engine task: the [`EngineHandle`] to send it
//! [`Input`]s and read its published [`RoomView`], and the types those inputs carry. Everything
//! here is domain-level: a connection is a [`Peer`], a client's request a [`ClientInput`], and a
//! Socket.IO acknowledgement a [`Reply`] the edge answers itself.

use std::sync::Arc;

use synchub_protocol::Role;
use synchub_session::record::{GroupSnapshot, Phase};
use synchub_session::{
    EngineError, Pacer, ParticipantId, ParticipantView, ResumeToken, ScheduleConfig, SessionId,
    SessionInfo, TokenOwner,
};
use synchub_store::CommitReport;
use tokio::sync::{mpsc, oneshot, watch};

use super::cadence::Cadence;
use crate::client_input::{ClientInput, JoinFields};
use crate::clock::Clock;
use crate::encoded::Encoded;
use crate::guessing::GuessCharge;
use crate::peer::{AddressKey, ConnId, Peer};

/// Who a new connection is, after the edge validated its handshake and pseudonymised its id.
#[derive(Debug, Clone)]
pub struct Identity {
    pub role: Role,
    /// Where this connection's wrong strap codes are charged (its address, never shown).
    pub guesses: GuessCharge,
    /// `hex(HMAC-SHA256(org_secret, userId))`; the raw id stays at the edge.
    pub pseudonym: String,
    /// A resume token from the handshake, if it was well-formed.
    pub resume_token: Option<ResumeToken>,
    /// When it hears the group's figures: every tick, or the original clients' cadence (it
    /// announced no protocol version).
    pub cadence: Cadence,
    /// The client's network address as a keyed hash, for the participants-per-address cap;
    /// `None` when the address is not capped (loopback, a hub-read strap).
    pub address: Option<AddressKey>,
}

/// A client's request for an answer to the input it sent (a Socket.IO acknowledgement). The
/// engine task answers with the first event it sends to that connection, while handling the
/// input, whose name is in `answered_by`; or with [`Answer::NothingMatched`] once the input is
/// handled. The edge decides which events answer and sends the acknowledgement.
#[derive(Debug)]
pub struct Reply {
    pub answered_by: &'static [&'static str],
    pub answer: oneshot::Sender<Answer>,
}

/// What answers a [`Reply`].
#[derive(Debug)]
pub enum Answer {
    /// The event sent to the connection (its payload is the acknowledgement's).
    Event(Arc<Encoded>),
    /// No event of those asked for was sent while the input was handled.
    NothingMatched,
}

/// Facilitator commands from the REST API.
#[derive(Debug)]
pub enum AdminCommand {
    StartSession(oneshot::Sender<Result<SessionId, EngineError>>),
    Advance(SessionId, oneshot::Sender<Result<Phase, EngineError>>),
    End(SessionId, oneshot::Sender<Result<(), EngineError>>),
    SetSchedule(ScheduleConfig, oneshot::Sender<Result<(), EngineError>>),
    /// The room's breathing pace; `inhale_ratio: None` keeps the current ratio.
    SetPacer {
        breaths_per_min: f64,
        inhale_ratio: Option<f64>,
        reply: oneshot::Sender<Result<Pacer, EngineError>>,
    },
}

/// Everything the engine task reacts to.
#[derive(Debug)]
pub enum Input {
    /// A connection passed its handshake.
    Open {
        conn: ConnId,
        peer: Arc<dyn Peer>,
        identity: Identity,
    },
    /// A client's request, in domain terms (the edge handled the wire: `hello`, the display
    /// role, decoding).
    Client {
        conn: ConnId,
        input: ClientInput,
        /// An acknowledgement the client asked for.
        reply: Option<Reply>,
    },
    /// The connection is gone.
    Closed {
        conn: ConnId,
    },
    /// The store committed; its durable beat batches become `rr_ack`s.
    Committed(CommitReport),
    Admin(AdminCommand),
    /// Stop: close every connection, hand every record to the store, then answer.
    Shutdown(oneshot::Sender<()>),
    /// A participant exercising their data rights with their resume token: which participant
    /// of which session the token was issued to (their rights reach that row only). With `leave`, the participant also leaves the session first (before an
    /// erasure, so nothing more is recorded for them), and the token is spent.
    WhoseToken {
        token: ResumeToken,
        leave: bool,
        reply: oneshot::Sender<Option<TokenOwner>>,
    },
    /// The facilitator ends the claim of the participant in `slot` on the strap showing
    /// `code`; answers whether there was such a claim.
    RevokeClaim {
        code: String,
        slot: u32,
        reply: oneshot::Sender<bool>,
    },
    /// A strap (read by the hub or by a relay) was assigned to a wearer: `conn` is its
    /// connection from now on, and its beats arrive as [`ClientInput::Beats`] from that
    /// connection.
    StrapAssigned {
        conn: ConnId,
        code: String,
        pseudonym: String,
        join: JoinFields,
        /// Who hears what the wearer is sent: nobody for a strap the hub reads itself
        /// (`None`); for a relay's strap, the relay (its `rr_ack`s become `relay_ack`s).
        peer: Option<Arc<dyn Peer>>,
        /// Answered once the wearer's connection exists (and joined, with a session running).
        reply: oneshot::Sender<()>,
    },
    /// The strap's wearer leaves the session; the strap's connection ends.
    StrapReleased {
        conn: ConnId,
    },
    /// Test builds only (feature `fault-injection`): the engine task panics, so the tests can
    /// prove what a real panic does to a running hub.
    #[cfg(feature = "fault-injection")]
    InjectPanic,
}

/// What the REST API and the demo read without asking the engine: refreshed at every
/// broadcast (so at least once a second while a session runs) and after facilitator commands.
#[derive(Debug, Clone, Default)]
pub struct RoomView {
    pub session: Option<SessionInfo>,
    pub group: Option<GroupSnapshot>,
    pub participants: Vec<ParticipantView>,
    pub schedule: Option<ScheduleConfig>,
    /// The strap code of each participant who wears a hub-read strap.
    pub strap_codes: Vec<(ParticipantId, String)>,
    /// Who claimed which strap (`claim_strap`): the strap's code and the claimer.
    pub strap_claims: Vec<(String, ParticipantId)>,
}

/// The handle connection handlers and REST routes hold.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub inputs: mpsc::Sender<Input>,
    pub view: watch::Receiver<Arc<RoomView>>,
    /// The engine's clock: what "now" is for everything the hub stamps.
    pub clock: Clock,
}

impl EngineHandle {
    /// Sends a facilitator command and waits for its answer (`None`: the engine task stopped).
    pub async fn admin<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> AdminCommand,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.inputs.send(Input::Admin(make(reply))).await.ok()?;
        answer.await.ok()
    }

    /// Sends an input that answers on a oneshot and waits for the answer (`None`: the engine
    /// task stopped).
    pub async fn admin_input<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Input,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.inputs.send(make(reply)).await.ok()?;
        answer.await.ok()
    }
}
