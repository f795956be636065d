// Past sessions, newest first, with their figures; one can be opened for its details, and
// each one's report saved as a page.
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { SessionInfo } from "../generated/rest.session_info";
import { formatDateTime, formatDuration, formatScore, phaseLabel } from "../lib/format";
import { useAction, usePoll } from "./hooks";
import { Problem } from "./Problem";
import { ReportButton } from "./ReportButton";

export function History(props: { api: HubApi; completedSessionId: string | null }) {
  const sessions = usePoll(() => props.api.sessions(), 30_000);
  const [open, setOpen] = useState<SessionInfo | null>(null);
  const action = useAction();
  useEffect(() => sessions.refresh(), [props.completedSessionId]);
  const list = sessions.data ?? [];
  return (
    <details class="card panel span-2">
      <summary>
        <h2>Past sessions</h2>
        <span class="muted">{sessions.data === null ? "" : `${list.length}`}</span>
      </summary>
      <Problem message={sessions.error ?? action.error} />
      {list.length === 0 ? (
        <p class="faint">No sessions yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="compact history" data-testid="history">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Length</th>
                <th scope="col">People</th>
                <th scope="col">Average</th>
                <th scope="col">Peak</th>
                <th scope="col">State</th>
                <th scope="col"><span class="visually-hidden">Details and report</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((session) => (
                <tr key={session.sessionId}>
                  <td>{formatDateTime(session.startedAt)}</td>
                  <td class="tabular">
                    {session.summary ? formatDuration(session.summary.duration) : <>{formatDuration(session.duration)} <span class="faint">planned</span></>}
                  </td>
                  <td class="tabular">{session.summary?.participantCount ?? session.participantCount}</td>
                  <td class="tabular">{formatScore(session.summary?.averageCoherence ?? session.groupMetrics.averageCoherence)}</td>
                  <td class="tabular">{formatScore(session.summary?.peakCoherence ?? session.groupMetrics.peakCoherence)}</td>
                  <td>{phaseLabel(session.currentPhase)}</td>
                  <td>
                    <button type="button" class="quiet" onClick={() => action.run(async () => setOpen(await props.api.session(session.sessionId)))}>
                      Details
                    </button>
                    <ReportButton api={props.api} sessionId={session.sessionId} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && (
        <div class="summary-box" aria-live="polite">
          <div class="row">
            <h3>Session of {formatDateTime(open.startedAt)}</h3>
            <button type="button" class="quiet" onClick={() => setOpen(null)}>Close</button>
          </div>
          <dl class="summary-grid">
            <div><dt>Planned length</dt><dd class="tabular">{formatDuration(open.duration)}</dd></div>
            {open.summary && (
              <>
                <div><dt>Ran for</dt><dd class="tabular">{formatDuration(open.summary.duration)}</dd></div>
                <div><dt>People who joined</dt><dd class="tabular">{open.summary.participantCount}</dd></div>
                <div>
                  <dt>Group average high / medium / low for</dt>
                  <dd class="tabular">
                    {formatDuration(open.summary.timeInPhase.high)} / {formatDuration(open.summary.timeInPhase.medium)} / {formatDuration(open.summary.timeInPhase.low)}
                  </dd>
                </div>
              </>
            )}
            <div><dt>People now / at the end</dt><dd class="tabular">{open.participantCount}</dd></div>
            <div><dt>Average</dt><dd class="tabular">{formatScore(open.groupMetrics.averageCoherence)}</dd></div>
            <div><dt>Peak</dt><dd class="tabular">{formatScore(open.groupMetrics.peakCoherence)}</dd></div>
            <div><dt>Median</dt><dd class="tabular">{formatScore(open.groupMetrics.medianCoherence)}</dd></div>
            <div><dt>Synchrony</dt><dd class="tabular">{open.groupMetrics.synchronyIndex == null ? "–" : open.groupMetrics.synchronyIndex.toFixed(2)}</dd></div>
            <div><dt>Spread (high / medium / low)</dt><dd class="tabular">{open.groupMetrics.coherenceDistribution.high} / {open.groupMetrics.coherenceDistribution.medium} / {open.groupMetrics.coherenceDistribution.low}</dd></div>
          </dl>
          <p class="faint small">Session id {open.sessionId}</p>
        </div>
      )}
    </details>
  );
}
