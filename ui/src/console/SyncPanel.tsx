// Shipping stored sessions to the central research database: where they go (the hub shows the
// address without its password), what is waiting, and how the run goes, table by table. The
// status comes from GET /api/hub every few seconds, so a running sync shows its progress.
import { useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { SyncStatus } from "../generated/rest.hub_info";
import { formatCount, formatDateTime, formatDuration } from "../lib/format";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

const stateLabels: Record<SyncStatus["state"], string> = {
  disabled: "no central database set",
  never: "set, not run yet",
  idle: "up to date as of the last run",
  running: "syncing now",
  failed: "the last run failed",
};

export function SyncPanel(props: { api: HubApi; sync: SyncStatus; onChanged: () => void }) {
  const { sync } = props;
  const action = useAction();
  const [databaseUrl, setDatabaseUrl] = useState("");
  const [everyMinutes, setEveryMinutes] = useState(String(Math.round((sync.everySecs ?? 300) / 60)));
  const configured = sync.state !== "disabled";
  const change = (work: () => Promise<unknown>, after?: () => void) =>
    void action.run(work).then((ok) => {
      if (ok) after?.();
      props.onChanged();
    });

  return (
    <details class="card panel" open={sync.state === "running" || sync.state === "failed"}>
      <summary>
        <h2>Central sync</h2>
        <span class={sync.state === "failed" ? "battery-low" : "muted"} data-testid="sync-state">{stateLabels[sync.state] ?? sync.state}</span>
      </summary>
      <dl class="facts">
        <div><dt>Waiting to sync</dt><dd class="tabular">{formatCount(sync.unsyncedRows)} rows</dd></div>
        <div><dt>Last success</dt><dd>{sync.lastSyncAt ? formatDateTime(sync.lastSyncAt) : "never"}</dd></div>
        {sync.everySecs != null && configured && <div><dt>Every</dt><dd class="tabular">{formatDuration(sync.everySecs * 1000)}</dd></div>}
      </dl>
      {sync.database && <p class="muted small">To <code>{sync.database}</code></p>}
      {sync.tables.length > 0 && (
        <div class="table-wrap">
          <table class="compact" data-testid="sync-tables">
            <thead><tr><th scope="col">Table</th><th scope="col">Rows sent</th><th scope="col">State</th></tr></thead>
            <tbody>
              {sync.tables.map((table) => (
                <tr key={table.table}>
                  <td>{table.table}</td>
                  <td class="tabular">{formatCount(table.rows)}</td>
                  <td class={table.done ? "quality-good" : "muted"}>{table.done ? "done" : sync.state === "running" ? "sending…" : "not finished"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {sync.lastError && <p class="problem">Last error: {sync.lastError}</p>}
      <div class="row">
        <button type="button" class="primary" disabled={action.pending || !configured || sync.state === "running"} onClick={() => change(() => props.api.runSync())}>
          Sync now
        </button>
        {configured && (
          <button type="button" class="quiet" disabled={action.pending} onClick={() => change(() => props.api.putSync({ databaseUrl: null }))}>
            Turn sync off
          </button>
        )}
      </div>
      <form
        class="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          const everySecs = Math.round(Number(everyMinutes) * 60);
          change(() => props.api.putSync({ ...(databaseUrl.trim() === "" ? {} : { databaseUrl: databaseUrl.trim() }), everySecs }), () => setDatabaseUrl(""));
        }}
      >
        <div class="span-all">
          <label for="database-url">{configured ? "Another central database (optional)" : "Central database"} — a PostgreSQL URL; the hub keeps it and shows it without its password</label>
          <input id="database-url" type="text" autocomplete="off" spellcheck={false} placeholder="postgres://user:password@host:5432/db" value={databaseUrl} onInput={(event) => setDatabaseUrl(event.currentTarget.value)} />
        </div>
        <div>
          <label for="sync-every">Sync every, min</label>
          <input id="sync-every" type="number" min="1" max="1440" step="1" required value={everyMinutes} onInput={(event) => setEveryMinutes(event.currentTarget.value)} />
        </div>
        <div class="form-actions">
          <button type="submit" disabled={action.pending || (!configured && databaseUrl.trim() === "")}>Save</button>
        </div>
      </form>
      <Problem message={action.error} />
    </details>
  );
}
