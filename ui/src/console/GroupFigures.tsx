// The room's numbers, large: group coherence (the mean of fresh, good-quality scores), how many
// are active, how the scores spread over the three bands, and heart-rhythm synchrony against
// its surrogate baseline (what chance alone would give) when the hub sends one.
import { coherenceBand, formatIndex, formatScore } from "../lib/format";
import type { RoomState } from "./room-state";

export function GroupFigures(props: { room: RoomState; live: boolean }) {
  const metrics = props.room.metrics;
  // With nobody active the hub reports 0, which would read as "everyone is at 0": show a dash.
  const anyoneActive = (metrics?.activeCount ?? 0) > 0;
  const average = anyoneActive ? (metrics?.averageCoherence ?? null) : null;
  const distribution = metrics?.coherenceDistribution ?? { low: 0, medium: 0, high: 0 };
  const total = distribution.low + distribution.medium + distribution.high;
  const synchrony = metrics?.synchronyIndex ?? null;
  const baseline = metrics?.synchronyBaseline ?? null;

  return (
    <section class={`card figures ${props.live || metrics === null ? "" : "stale"}`} aria-label={props.live ? "Group figures" : "Group figures of the last session"}>
      <div class="figure-block">
        <h2>Group coherence</h2>
        <p class={`huge tabular ${average === null ? "" : `band-${coherenceBand(average)}`}`} data-testid="group-average">
          {formatScore(average)}
        </p>
        <p class="muted">
          {anyoneActive || (metrics?.peakCoherence ?? 0) > 0
            ? `peak ${formatScore(metrics?.peakCoherence)} · median ${formatScore(anyoneActive ? metrics?.medianCoherence : null)}`
            : "waiting for the first scores"}
        </p>
      </div>
      <div class="figure-block">
        <h2>Active</h2>
        <p class="huge tabular" data-testid="active-count">
          {metrics ? metrics.activeCount : "–"}
          <span class="of"> / {metrics ? metrics.participantCount : "–"}</span>
        </p>
        <p class="muted">fresh, good signal / joined</p>
      </div>
      <div class="figure-block distribution-block">
        <h2>Spread</h2>
        <div class="distribution" role="img" aria-label={`${distribution.high} high, ${distribution.medium} medium, ${distribution.low} low`}>
          {(["high", "medium", "low"] as const).map((band) => (
            <div class="dist-row" key={band}>
              <span class={`dist-label band-${band}`}>{band}</span>
              <span class="dist-track">
                <span class={`dist-bar bar-${band}`} style={{ width: `${total === 0 ? 0 : (100 * distribution[band]) / total}%` }} />
              </span>
              <span class="dist-count tabular">{distribution[band]}</span>
            </div>
          ))}
        </div>
      </div>
      <div class="figure-block">
        <h2>Synchrony</h2>
        <p class="huge tabular" data-testid="synchrony">{formatIndex(synchrony)}</p>
        {synchrony === null ? (
          <p class="muted">needs two people sending heartbeats</p>
        ) : (
          <div class="sync-meter" aria-label={`synchrony ${formatIndex(synchrony)}${baseline === null ? "" : `, chance level ${formatIndex(baseline)}`}`}>
            <span class="sync-track">
              <span class="sync-fill" style={{ width: `${Math.min(1, Math.max(0, synchrony)) * 100}%` }} />
              {baseline !== null && <span class="sync-baseline" style={{ left: `${Math.min(1, Math.max(0, baseline)) * 100}%` }} />}
            </span>
            <span class="muted small">
              {baseline === null ? "0 to 1" : `chance level ${formatIndex(baseline)} · ${synchrony > baseline ? "above chance" : "at chance"}`}
            </span>
          </div>
        )}
      </div>
    </section>
  );
}
