// Who is in the room, anonymously: one row per slot (the petal position on the projector),
// where the data comes from, the recent scores as a sparkline, the signal quality, and a
// strap's battery. Rows come from GET /api/participants (every 2 s); sparklines from the
// 1 Hz room snapshot.
import type { ParticipantList } from "../generated/rest.participant_list";
import { coherenceBand, formatScore, qualityLabel, sourceLabel } from "../lib/format";
import type { RoomState } from "./room-state";
import { Problem } from "./Problem";

export function Participants(props: { list: ParticipantList | null; error: string | null; room: RoomState }) {
  const rows = props.list?.participants ?? [];
  const connected = rows.filter((row) => row.connected).length;
  return (
    <section class="card participants-card" aria-labelledby="participants-heading">
      <div class="card-head">
        <h2 id="participants-heading">Participants</h2>
        <span class="muted tabular" data-testid="participant-count">
          {connected} connected{rows.length > connected ? ` · ${rows.length - connected} reconnecting` : ""}
        </span>
      </div>
      <Problem message={props.error} />
      {rows.length === 0 ? (
        <p class="faint">Nobody has joined yet. Participants scan the QR code or open the join URL.</p>
      ) : (
        <div class="table-wrap">
          <table class="participants" data-testid="participants">
            <thead>
              <tr>
                <th scope="col">Slot</th>
                <th scope="col">Source</th>
                <th scope="col">Score</th>
                <th scope="col">Last two minutes</th>
                <th scope="col">Signal</th>
                <th scope="col">Strap</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.slot} class={row.connected ? "" : "row-away"}>
                  <td class="tabular">{row.slot + 1}</td>
                  <td>{sourceLabel(row.source)}{row.connected ? "" : <span class="faint"> · away</span>}</td>
                  <td class={`tabular score ${row.coherence == null ? "" : `band-${coherenceBand(row.coherence)}`}`}>{formatScore(row.coherence)}</td>
                  <td><Sparkline values={props.room.sparks.get(row.slot) ?? []} /></td>
                  <td class={`quality quality-${row.quality ?? "none"}`}>{qualityLabel(row.quality)}</td>
                  <td class="tabular">
                    {row.strapCode ? <span class="strap-code">{row.strapCode}</span> : <span class="faint">–</span>}
                    {row.strapBattery != null && <span class={row.strapBattery <= 15 ? "battery-low" : "muted"}> · {row.strapBattery}%</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A 0–100 score line, 120 × 28 px. */
export function Sparkline(props: { values: number[] }) {
  const width = 120;
  const height = 28;
  const values = props.values;
  if (values.length < 2) return <svg class="spark" width={width} height={height} aria-hidden="true" />;
  const step = width / (values.length - 1);
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${(height - 2 - (Math.min(100, Math.max(0, value)) / 100) * (height - 4)).toFixed(1)}`).join(" ");
  const last = values[values.length - 1] ?? 0;
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      <polyline points={points} fill="none" class={`spark-line spark-${coherenceBand(last)}`} stroke-width="2" stroke-linejoin="round" />
    </svg>
  );
}
