// The participants' page for a browser without the Sync app: join with the room code, an
// intention and a research-consent choice (default no), optionally take over a chest strap by
// its code, then see the group's coherence (and your own, with a strap), the shared breathing
// pacer, and the phase with its time left. It reconnects by itself after a Wi-Fi drop. When the
// session is over it shows "your session": the participant's own curve against the room's.
import { useEffect, useMemo, useState } from "preact/hooks";
import { io } from "socket.io-client";
import { formatDuration, formatScore, phaseLabel, coherenceBand, intentionCategories, intentionLabels } from "../lib/format";
import { ParticipantSession, type JoinState, type ParticipantSocket } from "./participant";
import { ResumeStore, type JoinChoice } from "./resume";
import { Pacer } from "./Pacer";
import { YourSession } from "./YourSession";

function roomFromUrl(): string | null {
  const room = new URLSearchParams(window.location.search).get("room");
  return room === null || room.trim() === "" ? null : room.trim();
}

function openSocket(auth: () => object): ParticipantSocket {
  const socket = io({
    path: "/socket.io/",
    transports: ["websocket"],
    auth: (callback) => callback(auth()),
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
  // Closing the engine makes socket.io reconnect at once (with the handshake's latest token).
  return Object.assign(socket, { reconnectNow: () => socket.io.engine?.close() }) as unknown as ParticipantSocket;
}

export function JoinPage() {
  const store = useMemo(() => new ResumeStore(window.localStorage), []);
  const [state, setState] = useState<JoinState | null>(null);
  const session = useMemo(() => new ParticipantSession(openSocket, store, setState), [store]);

  useEffect(() => {
    const again = store.autoRejoinChoice(roomFromUrl());
    if (again !== null) session.join(again);
    const nudge = () => session.nudge();
    window.addEventListener("online", nudge);
    return () => {
      window.removeEventListener("online", nudge);
      session.close();
    };
  }, [session, store]);

  const current = state ?? session.current;
  const lastReport = current.status === "form" ? store.reportToken() : null;
  return (
    <main class="join">
      <header class="join-header">
        <span class="brand">Sync Hub</span>
        {current.roomName && current.roomName !== "Sync Hub" && <span class="muted">{current.roomName}</span>}
      </header>
      {current.status === "form" ? (
        <>
          <JoinForm
            initial={current.choice ?? store.load()?.choice ?? null}
            problem={current.problem}
            onJoin={(choice) => session.join(choice)}
          />
          {/* The last session's report, for a day after it ended (also after a reload). */}
          {lastReport !== null && <YourSession resumeToken={lastReport} />}
        </>
      ) : (
        <InSession state={current} session={session} />
      )}
    </main>
  );
}

function JoinForm(props: { initial: JoinChoice | null; problem: string | null; onJoin: (choice: JoinChoice) => void }) {
  const [roomCode, setRoomCode] = useState(roomFromUrl() ?? props.initial?.roomCode ?? "");
  const [intention, setIntention] = useState<string | null>(props.initial?.intention ?? null);
  const [consent, setConsent] = useState(false);
  const [strapCode, setStrapCode] = useState(props.initial?.strapCode ?? "");

  return (
    <form
      class="join-form"
      onSubmit={(event) => {
        event.preventDefault();
        props.onJoin({ roomCode, intention, consentResearch: consent, strapCode: strapCode.trim() || null });
      }}
    >
      <h1>Join the session</h1>
      {props.problem && (
        <p class="problem" role="alert">
          {props.problem}
        </p>
      )}
      <div class="field">
        <label for="room-code">Room code</label>
        <input
          id="room-code"
          name="room"
          type="text"
          class="room-code-input"
          autocomplete="off"
          autocapitalize="off"
          spellcheck={false}
          maxLength={16}
          value={roomCode}
          onInput={(event) => setRoomCode(event.currentTarget.value)}
        />
        <p class="faint small">The code is on the projector. Leave it empty if the room has none.</p>
      </div>

      <fieldset class="field">
        <legend>Your intention for this session (optional)</legend>
        <div class="chips">
          {intentionCategories.map((category) => (
            <label class={`chip ${intention === category ? "chip-on" : ""}`} key={category}>
              <input
                type="radio"
                name="intention"
                value={category}
                checked={intention === category}
                onChange={() => setIntention(category)}
              />
              {intentionLabels[category]}
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset class="field">
        <legend>May your heart data be used for research?</legend>
        <p class="small muted">
          If you say yes, your heart-rhythm scores from this session are kept without your name and may be shared with
          researchers. If you say no, they are used only to show the group's feedback today. Your intention's words are
          never stored.
        </p>
        <label class="choice">
          <input type="radio" name="consent" value="no" checked={!consent} onChange={() => setConsent(false)} />
          No, only for today's feedback
        </label>
        <label class="choice">
          <input type="radio" name="consent" value="yes" checked={consent} onChange={() => setConsent(true)} />
          Yes, it may be used for research
        </label>
      </fieldset>

      <div class="field">
        <label for="strap-code">Wearing a chest strap from the facilitator? Its code (optional)</label>
        <input
          id="strap-code"
          type="text"
          autocomplete="off"
          autocapitalize="off"
          spellcheck={false}
          maxLength={16}
          value={strapCode}
          onInput={(event) => setStrapCode(event.currentTarget.value)}
        />
      </div>

      <button type="submit" class="primary join-button">
        Join
      </button>
    </form>
  );
}

function InSession(props: { state: JoinState; session: ParticipantSession }) {
  const { state, session } = props;
  const [now, setNow] = useState(() => session.hubNow());
  useEffect(() => {
    const timer = setInterval(() => setNow(session.hubNow()), 500);
    return () => clearInterval(timer);
  }, [session]);
  const hubNow = useMemo(() => () => session.hubNow(), [session]);

  if (state.status === "connecting") {
    return (
      <section class="status-card" aria-live="polite">
        <p class="big-line">Connecting to the room…</p>
        {state.problem && <p class="muted">{state.problem}</p>}
        <button type="button" class="quiet" onClick={() => session.leave()}>
          Back
        </button>
      </section>
    );
  }
  if (state.status === "waiting") {
    return (
      <section class="status-card" aria-live="polite">
        <div class="waiting-dot" aria-hidden="true" />
        <p class="big-line">Waiting for the session to start</p>
        <p class="muted">{state.problem ?? "You will join as soon as the facilitator begins. Keep this page open."}</p>
        <button type="button" class="quiet" onClick={() => session.leave()}>
          Back
        </button>
      </section>
    );
  }
  if (state.status === "complete") {
    const summary = state.summary;
    return (
      <section class="status-card" aria-live="polite">
        <p class="big-line">The session is complete</p>
        {summary && (
          <dl class="summary">
            <div>
              <dt>Length</dt>
              <dd>{formatDuration(summary.duration)}</dd>
            </div>
            <div>
              <dt>People</dt>
              <dd>{summary.participantCount}</dd>
            </div>
            <div>
              <dt>Group average</dt>
              <dd>{formatScore(summary.averageCoherence)}</dd>
            </div>
            <div>
              <dt>Group peak</dt>
              <dd>{formatScore(summary.peakCoherence)}</dd>
            </div>
          </dl>
        )}
        {state.reportToken !== null && <YourSession resumeToken={state.reportToken} />}
        <p class="muted">Thank you for taking part.</p>
        <button type="button" class="primary" onClick={() => state.choice && session.join(state.choice)}>
          Join the next session
        </button>
      </section>
    );
  }

  const timeLeft = state.phaseEndsAt === null ? null : state.phaseEndsAt - now;
  const feedback = state.feedback;
  return (
    <section class="in-session" data-participant-id={state.participantId ?? ""}>
      {state.status === "reconnecting" && (
        <p class="note" role="status">
          Connection lost — reconnecting. You stay in the session.
        </p>
      )}
      {state.problem && (
        <p class="problem" role="alert">
          {state.problem}
        </p>
      )}
      <div class="phase-line" data-testid="phase">
        <span class="phase-name">{phaseLabel(state.phase)}</span>
        {timeLeft !== null && <span class="tabular phase-left">{formatDuration(timeLeft)} left</span>}
      </div>

      {state.pacer ? <Pacer pacer={state.pacer} hubNow={hubNow} /> : <p class="muted">Breathe slowly and softly.</p>}

      <div class="feedback" aria-live="polite">
        {feedback && state.strapClaimed !== null ? (
          <>
            <Figure label="Your coherence" value={feedback.yourCoherence} testId="your-coherence" />
            <Figure label="The group" value={feedback.groupAverage} testId="group-coherence" />
            <p class="contribution" data-testid="contribution">
              {feedback.contribution === "helping_lift" ? "You are helping lift the group." : "The group is supporting you."}
            </p>
          </>
        ) : (
          <>
            <Figure label="The group's coherence" value={state.groupAverage} testId="group-coherence" />
            <p class="muted small">
              {state.participantCount !== null && `${state.participantCount} in the room. `}
              Your browser has no heart data of its own; breathe with the circle and share the group's rhythm.
            </p>
          </>
        )}
      </div>

      {state.strapNotice && (
        <p class="note" role="status" data-testid="strap-notice">
          {state.strapNotice}
        </p>
      )}
      {state.strapClaimed === null && <ClaimStrap session={session} />}
      <p class="faint small you">If the connection drops, this page rejoins by itself and keeps your place.</p>
      <button type="button" class="quiet" onClick={() => session.leave()}>
        Leave the session
      </button>
    </section>
  );
}

function Figure(props: { label: string; value: number | null; testId: string }) {
  const band = props.value === null ? "" : `band-${coherenceBand(props.value)}`;
  return (
    <div class="figure">
      <span class="figure-label">{props.label}</span>
      <span class={`figure-value tabular ${band}`} data-testid={props.testId}>
        {formatScore(props.value)}
      </span>
    </div>
  );
}

function ClaimStrap(props: { session: ParticipantSession }) {
  const [code, setCode] = useState("");
  return (
    <details class="claim">
      <summary>Wearing a chest strap? Connect it</summary>
      <form
        class="claim-form"
        onSubmit={(event) => {
          event.preventDefault();
          props.session.claimStrap(code);
        }}
      >
        <label for="claim-code">The code shown next to your strap on the console</label>
        <div class="row">
          <input id="claim-code" type="text" autocomplete="off" autocapitalize="off" value={code} onInput={(event) => setCode(event.currentTarget.value)} />
          <button type="submit">Connect</button>
        </div>
      </form>
    </details>
  );
}
