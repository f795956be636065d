import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Handshake } from "../generated/handshake";
import { ParticipantSession, SILENCE_LIMIT_MS, WAITING_RETRY_MS, type JoinState, type ParticipantEvents } from "./participant";
import { ResumeStore, type JoinChoice } from "./resume";

/** An in-memory stand-in for a socket.io connection: the test plays the hub's part. */
class RoomLine {
  handlers = new Map<string, (data?: unknown) => void>();
  sent: Array<[string, unknown]> = [];
  handshakes: Handshake[] = [];
  disconnected = false;
  reconnects = 0;

  constructor(private readonly auth: () => Handshake) {}

  on<E extends keyof ParticipantEvents>(event: E, listener: ParticipantEvents[E]): void {
    this.handlers.set(event, listener as (data?: unknown) => void);
  }
  emit(event: string, data?: unknown): void {
    this.sent.push([event, data]);
  }
  disconnect(): void {
    this.disconnected = true;
  }
  reconnectNow(): void {
    this.reconnects += 1;
  }
  /** The transport (re)connects: socket.io evaluates `auth` then fires `connect`. */
  connectNow(): void {
    this.handshakes.push(this.auth());
    this.hub("connect");
  }
  hub(event: string, data?: unknown): void {
    this.handlers.get(event)?.(data);
  }
  sentNames(): string[] {
    return this.sent.map(([name]) => name);
  }
}

function memoryStorage() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, value),
    removeItem: (key: string) => void data.delete(key),
  };
}

const choice: JoinChoice = { roomCode: " 4821 ", intention: "grief", consentResearch: false, strapCode: null };

function joined(participantId: string, resumeToken: string) {
  return {
    sessionId: "s1",
    startedAt: 1_000,
    duration: 900_000,
    currentPhase: "preparation",
    participantCount: 3,
    groupMetrics: {
      sessionId: "s1",
      timestamp: 1_000,
      participantCount: 3,
      averageCoherence: 42,
      peakCoherence: 50,
      coherencePhase: "medium",
      coherenceDistribution: { low: 1, medium: 1, high: 1 },
      medianCoherence: 40,
      stdCoherence: 5,
      activeCount: 3,
    },
    audioTrack: { id: "a", name: "A", duration: 900_000 },
    participantId,
    resumeToken,
    phaseEndsAt: 31_000,
    roomName: "Thursday circle",
  };
}

describe("ParticipantSession", () => {
  let storage: ReturnType<typeof memoryStorage>;
  let store: ResumeStore;
  let lines: RoomLine[];
  let states: JoinState[];
  let session: ParticipantSession;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    storage = memoryStorage();
    store = new ResumeStore(storage, () => 1_000_000, () => "user-1");
    lines = [];
    states = [];
    session = new ParticipantSession(
      (auth) => {
        const line = new RoomLine(auth);
        lines.push(line);
        return line;
      },
      store,
      (state) => states.push(state),
      () => Date.now(),
    );
  });

  afterEach(() => {
    session.close();
    vi.useRealTimers();
  });

  it("joins with the room code, a stable user id, the intention, consent and device", () => {
    session.join(choice);
    const line = lines[0]!;
    line.connectNow();
    expect(line.handshakes[0]).toEqual({ role: "participant", protocol: 2, userId: "user-1", roomCode: "4821" });
    expect(line.sent).toContainEqual([
      "join_session",
      { intention: { category: "grief" }, consent: { research: false }, device: { kind: "web" } },
    ]);
    expect(session.current.status).toBe("connecting");
  });

  it("keeps the resume token and offers it at the next handshake, after a drop", () => {
    session.join(choice);
    const line = lines[0]!;
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    expect(session.current.status).toBe("joined");
    expect(session.current.participantId).toBe("p-1");
    expect(store.tokenFor("4821")).toBe("token-1");

    line.hub("disconnect", "transport close");
    expect(session.current.status).toBe("reconnecting");
    line.connectNow();
    expect(line.handshakes[1]?.resumeToken).toBe("token-1");
    // join_session again on the new connection: idempotent on the hub, and needed when the
    // token expired.
    expect(line.sentNames().filter((name) => name === "join_session")).toHaveLength(2);
    line.hub("session_joined", joined("p-1", "token-1"));
    expect(session.current.status).toBe("joined");
    expect(session.current.participantId).toBe("p-1");
  });

  it("offers a stored token after a page reload, for the same room only", () => {
    store.saveJoined({ ...choice, roomCode: "4821" }, "token-9", "p-9");
    session.join({ ...choice, roomCode: "1111" });
    lines[0]!.connectNow();
    expect(lines[0]!.handshakes[0]?.resumeToken).toBeUndefined();

    store.saveJoined({ ...choice, roomCode: "4821" }, "token-9", "p-9");
    session.join(choice);
    lines[1]!.connectNow();
    expect(lines[1]!.handshakes[0]?.resumeToken).toBe("token-9");
  });

  it("drops the token for rejoining when the session completes, keeping it for the report and the summary", () => {
    session.join(choice);
    lines[0]!.connectNow();
    lines[0]!.hub("session_joined", joined("p-1", "token-1"));
    const summary = {
      startedAt: 0,
      endedAt: 900_000,
      duration: 900_000,
      participantCount: 4,
      averageCoherence: 51,
      peakCoherence: 62,
      timeInPhase: { low: 1, medium: 2, high: 3 },
    };
    lines[0]!.hub("session_complete", { sessionId: "s1", summary });
    expect(session.current.status).toBe("complete");
    expect(session.current.summary).toEqual(summary);
    expect(store.tokenFor("4821")).toBeNull();
    // The token no longer rejoins, but it opens the participant's own report.
    expect(session.current.reportToken).toBe("token-1");
    // A reload (a new store on the same storage) still finds it, and does not rejoin with it.
    const reloaded = new ResumeStore(storage, () => 1_000_000 + 60_000, () => "user-1");
    expect(reloaded.reportToken()).toBe("token-1");
    expect(reloaded.autoRejoinChoice("4821")).toBeNull();
    // Joining another session keeps it until that one completes.
    reloaded.saveChoice(choice);
    reloaded.saveJoined(choice, "token-2", "p-2");
    expect(reloaded.reportToken()).toBe("token-1");
    // A day after the end the hub no longer opens it, and the page no longer offers it.
    const nextDay = new ResumeStore(storage, () => 1_000_000 + 24 * 3600 * 1000, () => "user-1");
    expect(nextDay.reportToken()).toBeNull();
  });

  it("goes back to the form on a wrong room code and forgets the token", () => {
    store.saveJoined({ ...choice, roomCode: "4821" }, "token-1", "p-1");
    session.join(choice);
    lines[0]!.connectNow();
    lines[0]!.hub("error", { code: "bad_room_code", message: "wrong room code" });
    expect(session.current.status).toBe("form");
    expect(session.current.problem).toMatch(/room code is not right/);
    expect(lines[0]!.disconnected).toBe(true);
    expect(store.tokenFor("4821")).toBeNull();
  });

  it("waits while there is no session and asks again every few seconds", () => {
    session.join(choice);
    lines[0]!.connectNow();
    lines[0]!.hub("error", { code: "no_active_session", message: "no session" });
    expect(session.current.status).toBe("waiting");
    const joinsBefore = lines[0]!.sentNames().filter((name) => name === "join_session").length;
    vi.advanceTimersByTime(WAITING_RETRY_MS);
    expect(lines[0]!.sentNames().filter((name) => name === "join_session").length).toBe(joinsBefore + 1);
  });

  it("claims the strap on every new connection and notes when feedback arrives", () => {
    session.join({ ...choice, strapCode: " 7K " });
    const line = lines[0]!;
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    expect(line.sent).toContainEqual(["claim_strap", { strapCode: "7K" }]);
    line.hub("personal_feedback", { yourCoherence: 61, groupAverage: 50, contribution: "helping_lift", phase: "high" });
    expect(session.current.strapClaimed).toBe("7K");
    expect(session.current.groupAverage).toBe(50);

    line.hub("disconnect", "transport close");
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    expect(line.sent.filter(([name]) => name === "claim_strap")).toHaveLength(2);
  });

  it("tells the wearer who else claimed the strap, and stops claiming a strap whose claim was ended", () => {
    session.join({ ...choice, strapCode: "7K" });
    const line = lines[0]!;
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    line.hub("strap_claim", { strapCode: "7K", claimerSlot: 2, change: "claimed", yours: true });
    expect(session.current.strapClaimed).toBe("7K");
    expect(session.current.strapNotice).toBeNull();

    // Someone else claims the strap this page shows: the wearer sees who.
    line.hub("strap_claim", { strapCode: "7K", claimerSlot: 4, change: "claimed", yours: false });
    expect(session.current.strapNotice).toMatch(/slot 5 now also sees the heart data of strap 7K/);
    line.hub("strap_claim", { strapCode: "7K", claimerSlot: 4, change: "revoked", yours: false });
    expect(session.current.strapNotice).toMatch(/ended the claim of slot 5 on strap 7K/);
    expect(session.current.strapClaimed).toBe("7K");

    // The facilitator ends this page's own claim: not claimed again on the next connection.
    line.hub("strap_claim", { strapCode: "7K", claimerSlot: 2, change: "revoked", yours: true });
    expect(session.current.strapClaimed).toBeNull();
    expect(session.current.strapNotice).toMatch(/ended your claim of strap 7K/);
    line.hub("disconnect", "transport close");
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    expect(line.sent.filter(([name]) => name === "claim_strap")).toHaveLength(1);
  });

  it("reconnects by itself when the hub falls silent while joined", () => {
    session.join(choice);
    const line = lines[0]!;
    line.connectNow();
    line.hub("session_joined", joined("p-1", "token-1"));
    // Group metrics every second keep it quiet...
    for (let second = 0; second < 20; second++) {
      vi.advanceTimersByTime(1_000);
      line.hub("group_metrics_update", { groupMetrics: joined("p-1", "t").groupMetrics });
    }
    expect(line.reconnects).toBe(0);
    // ...a silent line (Wi-Fi gone without a close) is dropped and reconnected.
    vi.advanceTimersByTime(SILENCE_LIMIT_MS + 2_500);
    expect(line.reconnects).toBe(1);
    expect(session.current.status).toBe("reconnecting");
  });

  it("reconnects at once when the browser says the network is back", () => {
    session.join(choice);
    lines[0]!.connectNow();
    session.nudge(); // not joined yet: nothing to do
    expect(lines[0]!.reconnects).toBe(0);
    lines[0]!.hub("session_joined", joined("p-1", "token-1"));
    session.nudge();
    expect(lines[0]!.reconnects).toBe(1);
  });

  it("measures the clock offset from time_sync answers", () => {
    session.join(choice);
    const line = lines[0]!;
    line.connectNow();
    vi.advanceTimersByTime(1_000);
    expect(line.sentNames().filter((name) => name === "time_sync")).toHaveLength(3);
    // Sent at 1 000 000 (local), answered at once: the hub is 2 s ahead.
    line.hub("time_sync", { clientTime: Date.now(), hubTime: Date.now() + 2_000 });
    expect(session.hubNow()).toBe(Date.now() + 2_000);
  });
});

describe("ResumeStore", () => {
  it("creates the user id once", () => {
    let made = 0;
    const store = new ResumeStore(memoryStorage(), Date.now, () => `id-${++made}`);
    expect(store.userId()).toBe("id-1");
    expect(store.userId()).toBe("id-1");
  });

  it("rejoins by itself after a reload only when recent and for the room in the URL", () => {
    let now = 0;
    const store = new ResumeStore(memoryStorage(), () => now);
    store.saveJoined({ ...choice, roomCode: "4821" }, "t", "p");
    now = 60_000;
    expect(store.autoRejoinChoice(null)?.roomCode).toBe("4821");
    expect(store.autoRejoinChoice("4821")?.roomCode).toBe("4821");
    expect(store.autoRejoinChoice("9999")).toBeNull();
    now = 31 * 60_000;
    expect(store.autoRejoinChoice(null)).toBeNull();
  });

  it("ignores a corrupt record", () => {
    const storage = memoryStorage();
    storage.setItem("synchub.resume", "{not json");
    expect(new ResumeStore(storage).load()).toBeNull();
  });
});
