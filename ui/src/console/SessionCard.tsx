// The session at a glance: its phase and the time left in big type, and the three buttons a
// facilitator needs (start, next phase, end — ending asks once more). After a session ends,
// its summary stays here until the next one starts.
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { HubInfo } from "../generated/rest.hub_info";
import type { SessionInfo } from "../generated/rest.session_info";
import { formatDuration, formatScore, phaseLabel } from "../lib/format";
import { useAction, useTicker, type Polled } from "./hooks";
import { phaseTimeLeft, type RoomState } from "./room-state";
import { Problem } from "./Problem";
import { ReportButton } from "./ReportButton";

export function SessionCard(props: { api: HubApi; hub: HubInfo; current: Polled<SessionInfo | null>; room: RoomState }) {
  const { api, hub, current, room } = props;
  const action = useAction();
  const [confirmEnd, setConfirmEnd] = useState(false);
  const now = useTicker(500);
  const session = current.data;
  const running = session !== null && session.currentPhase !== "complete";

  useEffect(() => {
    if (!running) setConfirmEnd(false);
  }, [running]);

  // Prefer the live phase (1 Hz, pushed) over the polled one when they are for this session.
  const livePhase = room.phase && session && room.phase.sessionId === session.sessionId ? room.phase : null;
  const phase = livePhase?.phase ?? session?.currentPhase ?? null;
  const endsAt = livePhase?.endsAt ?? session?.phaseEndsAt ?? null;
  // The snapshot's countdown needs no clock agreement with the hub; the phase's end time is
  // the fallback before the first snapshot.
  const left = (session && phaseTimeLeft(room, session.sessionId, now)) ?? (endsAt === null || endsAt === undefined ? null : endsAt - now);
  const summary = !running && room.completed ? room.completed.summary : null;
  const completedId = !running && room.completed ? room.completed.sessionId : null;

  const after = async (work: () => Promise<unknown>) => {
    await action.run(work);
    current.refresh();
  };

  return (
    <section class="card session-card" aria-labelledby="session-heading">
      <h2 id="session-heading">Session</h2>
      <div class="session-row">
        <div class="session-state">
          <span class="phase-big" data-testid="session-phase">
            {running ? phaseLabel(phase) : "No session running"}
          </span>
          {running && left !== null && (
            <span class="time-left tabular" data-testid="time-left">
              {formatDuration(left)} <span class="muted">left in phase</span>
            </span>
          )}
          {!running && hub.schedule.mode === "rolling" && (
            <span class="muted">Rolling schedule: the next session starts by itself.</span>
          )}
        </div>
        <div class="session-buttons">
          {!running && (
            <button type="button" class="primary big" disabled={action.pending} onClick={() => after(() => api.startSession())}>
              Start session
            </button>
          )}
          {running && session && (
            <>
              <button type="button" class="big" disabled={action.pending || phase === "integration"} onClick={() => after(() => api.advanceSession(session.sessionId))}>
                Next phase
              </button>
              {confirmEnd ? (
                <>
                  <button type="button" class="danger big" disabled={action.pending} onClick={() => after(() => api.endSession(session.sessionId))}>
                    Yes, end now
                  </button>
                  <button type="button" class="quiet" onClick={() => setConfirmEnd(false)}>
                    Keep going
                  </button>
                </>
              ) : (
                <button type="button" class="danger big" onClick={() => setConfirmEnd(true)}>
                  End session
                </button>
              )}
            </>
          )}
        </div>
      </div>
      <Problem message={action.error ?? current.error} />
      {summary && (
        <div class="summary-box" data-testid="session-summary">
          <div class="row">
            <h3>Last session</h3>
            {completedId && <ReportButton api={api} sessionId={completedId} label="Report" />}
          </div>
          <dl class="summary-grid">
            <div><dt>Length</dt><dd class="tabular">{formatDuration(summary.duration)}</dd></div>
            <div><dt>People</dt><dd class="tabular">{summary.participantCount}</dd></div>
            <div><dt>Average</dt><dd class="tabular">{formatScore(summary.averageCoherence)}</dd></div>
            <div><dt>Peak</dt><dd class="tabular">{formatScore(summary.peakCoherence)}</dd></div>
          </dl>
          <p class="band-times">
            <span class="muted">The group's average was </span>
            <span class="band-high">high {formatDuration(summary.timeInPhase.high)}</span>
            <span class="muted"> · </span>
            <span class="band-medium">medium {formatDuration(summary.timeInPhase.medium)}</span>
            <span class="muted"> · </span>
            <span class="band-low">low {formatDuration(summary.timeInPhase.low)}</span>
          </p>
        </div>
      )}
    </section>
  );
}
