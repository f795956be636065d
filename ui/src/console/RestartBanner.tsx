// The desktop app restarts its embedded hub when the hub's engine fails (the session resumes
// and phones rejoin with their tokens): this banner tells the facilitator it happened, when,
// and whether the session resumed, until they dismiss it. If the app could not restart the hub,
// it says so and what to do. In a browser there is nothing to show (`hubRestarts` is empty).
import { useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { HubRestart } from "../backend/backend";
import { usePoll } from "./hooks";

function clock(ms: number): string {
  const at = new Date(ms);
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** One sentence for the facilitator about one restart. */
export function restartSentence(restart: HubRestart): string {
  const when = clock(restart.failedAtMs);
  if (!restart.restarted) {
    return `The hub stopped unexpectedly at ${when} and could not be restarted: ${restart.notRestartedBecause ?? "no reason given"}.`;
  }
  const session =
    restart.sessionResumed === null
      ? "no session was running"
      : restart.sessionResumed
        ? "the session resumed and phones rejoin by themselves"
        : "the session could not be resumed; start a new one";
  return `The hub stopped unexpectedly at ${when} and was restarted; ${session}.`;
}

export function RestartBanner(props: { api: HubApi }) {
  const restarts = usePoll(() => props.api.backend.hubRestarts(), 3_000, props.api.backend.kind === "tauri");
  // Restarts the facilitator has dismissed (the list only grows).
  const [seen, setSeen] = useState(0);
  const list = restarts.data ?? [];
  const fresh = list.slice(seen);
  if (fresh.length === 0) return null;
  const failed = fresh.some((restart) => !restart.restarted);
  return (
    <section class={`restart-banner ${failed ? "restart-failed" : ""}`} role="alert" data-testid="restart-banner">
      <ul>
        {fresh.map((restart) => (
          <li key={restart.failedAtMs}>
            <span class="restart-what">{restartSentence(restart)}</span>
            <span class="restart-reason faint">Reason: {restart.reason}</span>
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => setSeen(list.length)}>
        Dismiss
      </button>
    </section>
  );
}
