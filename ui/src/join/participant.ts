// The join page's connection to the hub, as a small state machine the view renders. It joins
// with the form's answers, keeps the resume token, rejoins by itself after a drop (socket.io
// reconnects; the handshake offers the latest token; `join_session` is sent again on every
// connect, which the hub treats as idempotent), keeps the clock offset for the pacer, and
// re-claims a strap on every new connection (a claim belongs to the connection).
import type { Handshake } from "../generated/handshake";
import { protocolVersion } from "../generated/protocol_version";
import type { JoinSession } from "../generated/client.join_session";
import type { SessionJoined } from "../generated/hub.session_joined";
import type { Pacer } from "../generated/hub.pacer";
import type { PersonalFeedback } from "../generated/hub.personal_feedback";
import type { PhaseChanged } from "../generated/hub.phase_changed";
import type { SessionComplete } from "../generated/hub.session_complete";
import type { GroupMetricsUpdate } from "../generated/hub.group_metrics_update";
import type { ParticipantUpdate } from "../generated/hub.participant_update";
import type { ErrorEvent } from "../generated/hub.error";
import type { TimeSyncReply } from "../generated/hub.time_sync";
import type { StrapClaim } from "../generated/hub.strap_claim";
import { ClockOffset } from "../lib/pacer";
import { normaliseRoomCode, type JoinChoice, type ResumeStore } from "./resume";

export type JoinStatus = "form" | "connecting" | "waiting" | "joined" | "reconnecting" | "complete";

export type SessionPhase = SessionJoined["currentPhase"];
export type SessionSummary = SessionComplete["summary"];

/** Everything the join page shows. */
export interface JoinState {
  status: JoinStatus;
  /** A plain sentence about the last problem, or null. */
  problem: string | null;
  choice: JoinChoice | null;
  participantId: string | null;
  roomName: string | null;
  phase: SessionPhase | null;
  /** When the current phase ends, hub clock (ms). */
  phaseEndsAt: number | null;
  pacer: Pacer | null;
  feedback: PersonalFeedback | null;
  groupAverage: number | null;
  participantCount: number | null;
  /** The strap code this connection took over, once the hub accepted it. */
  strapClaimed: string | null;
  /** A sentence about the last claim on a strap this page shows (someone else claiming the
   *  strap it shows, or the facilitator ending a claim), or null. */
  strapNotice: string | null;
  summary: SessionSummary | null;
  /** Once the session is over: the resume token that opens "your session" (`GET
   *  /api/me/report`, for 24 hours), no longer offered for rejoining. */
  reportToken: string | null;
}

export const initialJoinState: JoinState = {
  status: "form",
  problem: null,
  choice: null,
  participantId: null,
  roomName: null,
  phase: null,
  phaseEndsAt: null,
  pacer: null,
  feedback: null,
  groupAverage: null,
  participantCount: null,
  strapClaimed: null,
  strapNotice: null,
  summary: null,
  reportToken: null,
};

/** What the hub sends a participant. */
export interface ParticipantEvents {
  connect: () => void;
  disconnect: (reason: string) => void;
  connect_error: (error: Error) => void;
  session_joined: (data: SessionJoined) => void;
  pacer: (data: Pacer) => void;
  personal_feedback: (data: PersonalFeedback) => void;
  phase_changed: (data: PhaseChanged) => void;
  session_complete: (data: SessionComplete) => void;
  group_metrics_update: (data: GroupMetricsUpdate) => void;
  participant_update: (data: ParticipantUpdate) => void;
  time_sync: (data: TimeSyncReply) => void;
  strap_claim: (data: StrapClaim) => void;
  error: (data: ErrorEvent) => void;
}

/** The part of a socket.io-client `Socket` this needs. */
export interface ParticipantSocket {
  on<E extends keyof ParticipantEvents>(event: E, listener: ParticipantEvents[E]): unknown;
  emit(event: string, data?: unknown): unknown;
  disconnect(): unknown;
  /** Drop the transport and reconnect at once (socket.io: close the engine). */
  reconnectNow(): void;
}

/** Opens a socket whose handshake is `auth()` at every (re)connect. */
export type Connect = (auth: () => Handshake) => ParticipantSocket;

/** Retry `join_session` this often while the hub has no session to join. */
export const WAITING_RETRY_MS = 5_000;
/** Re-measure the clock offset this often. */
export const TIME_SYNC_EVERY_MS = 120_000;
/** The hub broadcasts group metrics every second; this long without a word from it while
 *  joined means the Wi-Fi went away without closing the socket (a phone walking out of range),
 *  which socket.io alone would notice only after its ping timeout (about 45 s). */
export const SILENCE_LIMIT_MS = 10_000;
const WATCHDOG_EVERY_MS = 2_500;

export class ParticipantSession {
  private state: JoinState = initialJoinState;
  private socket: ParticipantSocket | null = null;
  private readonly clock = new ClockOffset();
  private timers: ReturnType<typeof setTimeout>[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private syncTimer: ReturnType<typeof setInterval> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private lastHeardAt = 0;

  constructor(
    private readonly connect: Connect,
    private readonly store: ResumeStore,
    private readonly onChange: (state: JoinState) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): JoinState {
    return this.state;
  }

  /** The hub's clock now, for the pacer and the phase countdown. */
  hubNow(): number {
    return this.clock.hubNow(this.now());
  }

  /** Join with the form's answers (or the stored ones after a reload). */
  join(choice: JoinChoice): void {
    this.close();
    const clean: JoinChoice = {
      ...choice,
      roomCode: normaliseRoomCode(choice.roomCode),
      strapCode: choice.strapCode?.trim() || null,
    };
    this.store.saveChoice(clean);
    this.update({ ...initialJoinState, status: "connecting", choice: clean });
    const raw = this.connect(() => this.handshake());
    this.socket = raw;
    // Every event from the hub proves the line is alive (for the watchdog).
    const socket = {
      on: <E extends keyof ParticipantEvents>(event: E, listener: ParticipantEvents[E]) =>
        raw.on(event, ((...args: unknown[]) => {
          this.lastHeardAt = this.now();
          (listener as (...args: unknown[]) => void)(...args);
        }) as ParticipantEvents[E]),
    };
    this.lastHeardAt = this.now();
    this.watchdog = setInterval(() => this.checkSilence(), WATCHDOG_EVERY_MS);
    socket.on("connect", () => this.onConnect());
    socket.on("disconnect", (reason) => this.onDisconnect(reason));
    socket.on("connect_error", () => {
      if (this.state.status === "joined") this.update({ status: "reconnecting" });
      else if (this.state.status === "connecting")
        this.update({ problem: "Cannot reach the hub yet. Still trying…" });
    });
    socket.on("session_joined", (data) => this.onJoined(data));
    socket.on("pacer", (pacer) => this.update({ pacer }));
    socket.on("personal_feedback", (feedback) => this.update({ feedback, groupAverage: feedback.groupAverage }));
    socket.on("group_metrics_update", ({ groupMetrics }) =>
      this.update({ groupAverage: groupMetrics.averageCoherence, participantCount: groupMetrics.participantCount }),
    );
    socket.on("participant_update", ({ participantCount }) => this.update({ participantCount }));
    socket.on("phase_changed", (data) => this.update({ phase: data.phase, phaseEndsAt: data.endsAt }));
    socket.on("session_complete", (data) => this.onComplete(data));
    socket.on("time_sync", (reply) => {
      this.clock.add({ clientTime: reply.clientTime, hubTime: reply.hubTime, receivedAt: this.now() });
    });
    socket.on("strap_claim", (claim) => this.onStrapClaim(claim));
    socket.on("error", (error) => this.onError(error));
  }

  /** Leave the session and go back to the form. */
  leave(): void {
    this.socket?.emit("leave_session");
    this.store.dropToken();
    this.close();
    this.update({ ...initialJoinState, choice: this.state.choice });
  }

  /** Claim a strap after joining (the form's field, or later from the feedback screen). */
  claimStrap(strapCode: string): void {
    const code = strapCode.trim();
    if (code === "" || this.state.choice === null) return;
    const choice = { ...this.state.choice, strapCode: code };
    this.update({ choice, problem: null });
    this.store.saveChoice(choice);
    this.socket?.emit("claim_strap", { strapCode: code });
  }

  /** The network came back (the browser's `online` event): reconnect now rather than after
   *  socket.io's backoff. */
  nudge(): void {
    if (this.state.status === "joined" || this.state.status === "reconnecting") this.socket?.reconnectNow();
  }

  private checkSilence(): void {
    if (this.state.status !== "joined") return;
    if (this.now() - this.lastHeardAt < SILENCE_LIMIT_MS) return;
    this.lastHeardAt = this.now();
    this.update({ status: "reconnecting" });
    this.socket?.reconnectNow();
  }

  /** Stop everything (page unload, tests). */
  close(): void {
    this.socket?.disconnect();
    this.socket = null;
    this.clearTimers();
  }

  private handshake(): Handshake {
    const choice = this.state.choice;
    // Announcing the protocol version gets the group's figures every second; a client that
    // announces nothing is served the original platform's slower cadence.
    const auth: Handshake = { role: "participant", protocol: protocolVersion.current, userId: this.store.userId() };
    if (choice === null) return auth;
    if (choice.roomCode !== "") auth.roomCode = choice.roomCode;
    const token = this.store.tokenFor(choice.roomCode);
    if (token !== null) auth.resumeToken = token;
    return auth;
  }

  private onConnect(): void {
    this.clock.reset();
    this.measureClock();
    this.syncTimer ??= setInterval(() => this.measureClock(), TIME_SYNC_EVERY_MS);
    this.sendJoin();
  }

  private measureClock(): void {
    // Three samples a little apart: the one with the smallest round trip wins.
    for (const delayMs of [0, 300, 900]) {
      this.timers.push(setTimeout(() => this.socket?.emit("time_sync", { clientTime: this.now() }), delayMs));
    }
  }

  private sendJoin(): void {
    const choice = this.state.choice;
    if (choice === null) return;
    const data: JoinSession = {
      consent: { research: choice.consentResearch },
      device: { kind: "web" },
    };
    if (choice.intention !== null) data.intention = { category: choice.intention as "other" };
    this.socket?.emit("join_session", data);
  }

  private onJoined(data: SessionJoined): void {
    const choice = this.state.choice;
    if (choice === null) return;
    this.store.saveJoined(choice, data.resumeToken, data.participantId);
    this.cancelRetry();
    this.update({
      status: "joined",
      problem: null,
      participantId: data.participantId,
      roomName: data.roomName,
      phase: data.currentPhase,
      phaseEndsAt: data.phaseEndsAt,
      groupAverage: data.groupMetrics.averageCoherence,
      participantCount: data.participantCount,
      summary: null,
    });
    if (choice.strapCode !== null) this.socket?.emit("claim_strap", { strapCode: choice.strapCode });
  }

  /** A claim on a strap began or ended: this page's own claim (`yours`), or someone else's on
   *  the strap whose feedback this page shows — the wearer is told who else sees it. */
  private onStrapClaim(claim: StrapClaim): void {
    const code = claim.strapCode;
    const slot = claim.claimerSlot + 1;
    if (claim.yours && claim.change === "claimed") {
      this.update({ strapClaimed: code, problem: null });
    } else if (claim.yours) {
      // Ended by the facilitator: do not claim it again on the next connection.
      const choice = this.state.choice === null ? null : { ...this.state.choice, strapCode: null };
      if (choice !== null) this.store.saveChoice(choice);
      this.update({
        choice,
        strapClaimed: null,
        strapNotice: `The facilitator ended your claim of strap ${code}: this page no longer shows its heart data.`,
      });
    } else if (claim.change === "claimed") {
      this.update({
        strapNotice: `The participant in slot ${slot} now also sees the heart data of strap ${code}. If you did not expect that, tell the facilitator.`,
      });
    } else {
      this.update({ strapNotice: `The facilitator ended the claim of slot ${slot} on strap ${code}: that device no longer sees its heart data.` });
    }
  }

  private onComplete(data: SessionComplete): void {
    // The token can no longer rejoin anything, but it still opens the participant's own report.
    const choice = this.state.choice;
    const reportToken = choice === null ? null : this.store.sessionCompleted(choice.roomCode);
    this.update({ status: "complete", phase: "complete", summary: data.summary, phaseEndsAt: null, reportToken });
  }

  private onDisconnect(reason: string): void {
    if (this.socket === null) return; // we closed it
    if (reason === "io server disconnect") {
      // The hub closed us on purpose (a wrong room code); the error event said why.
      this.close();
      if (this.state.status !== "form") this.update({ status: "form" });
      return;
    }
    if (this.state.status === "joined") this.update({ status: "reconnecting" });
  }

  private onError(error: ErrorEvent): void {
    switch (error.code) {
      case "bad_room_code":
        this.store.dropToken();
        this.close();
        this.update({ status: "form", problem: "That room code is not right. Check the code on the screen and try again." });
        return;
      case "no_active_session":
        this.update({ status: "waiting", problem: null });
        this.scheduleRetry();
        return;
      case "session_full":
        this.update({ status: "waiting", problem: "The room is full right now. We will keep trying." });
        this.scheduleRetry();
        return;
      case "unknown_strap":
        this.update({ strapClaimed: null, problem: `No strap shows the code "${this.state.choice?.strapCode ?? ""}". Check the code on the console.` });
        return;
      case "rate_limited":
        return;
      default:
        this.update({ problem: error.message });
    }
  }

  private scheduleRetry(): void {
    this.cancelRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.sendJoin();
    }, WAITING_RETRY_MS);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    this.cancelRetry();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.syncTimer = null;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private update(patch: Partial<JoinState>): void {
    // A personal_feedback after a claim means the hub accepted it.
    if (patch.feedback && this.state.choice?.strapCode && this.state.strapClaimed === null) {
      patch = { ...patch, strapClaimed: this.state.choice.strapCode };
    }
    this.state = { ...this.state, ...patch };
    if (this.state.status === "joined") this.store.touch();
    this.onChange(this.state);
  }
}
