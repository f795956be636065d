// Research export: consented, pseudonymised data for a date range, as JSON, CSV or Parquet.
// Fetched with the admin token and saved as a file (a plain link could not carry the token).
import { useState } from "preact/hooks";
import type { ExportFormat, HubApi } from "../backend/api";
import { formatBytes } from "../lib/format";
import { useAction } from "./hooks";
import { Problem } from "./Problem";
import { saveFile } from "../lib/save-file";

function isoDay(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The export range in ms: from the start of `fromDay` to the end of `toDay`, local time. */
export function rangeFromDays(fromDay: string, toDay: string): { startMs: number; endMs: number } {
  const startMs = new Date(`${fromDay}T00:00:00`).getTime();
  const endMs = new Date(`${toDay}T00:00:00`).getTime() + 24 * 3600 * 1000 - 1;
  return { startMs, endMs };
}

export function ExportPanel(props: { api: HubApi }) {
  const action = useAction();
  const today = Date.now();
  const [from, setFrom] = useState(isoDay(today - 30 * 24 * 3600 * 1000));
  const [to, setTo] = useState(isoDay(today));
  const [format, setFormat] = useState<ExportFormat>("csv");
  const [done, setDone] = useState<string | null>(null);

  return (
    <details class="card panel">
      <summary>
        <h2>Research export</h2>
        <span class="muted">consented data only</span>
      </summary>
      <form
        class="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          setDone(null);
          void action.run(async () => {
            const { startMs, endMs } = rangeFromDays(from, to);
            const { blob, fileName } = await props.api.researchExport(startMs, endMs, format);
            saveFile(blob, fileName);
            setDone(`Saved ${fileName} (${formatBytes(blob.size)}).`);
          });
        }}
      >
        <div>
          <label for="export-from">From</label>
          <input id="export-from" type="date" required value={from} onInput={(event) => setFrom(event.currentTarget.value)} />
        </div>
        <div>
          <label for="export-to">To</label>
          <input id="export-to" type="date" required value={to} onInput={(event) => setTo(event.currentTarget.value)} />
        </div>
        <div>
          <label for="export-format">Format</label>
          <select id="export-format" value={format} onChange={(event) => setFormat(event.currentTarget.value as ExportFormat)}>
            <option value="csv">CSV</option>
            <option value="json">JSON</option>
            <option value="parquet">Parquet</option>
          </select>
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.pending}>{action.pending ? "Preparing…" : "Download"}</button>
        </div>
      </form>
      {done && <p class="muted" role="status">{done}</p>}
      <Problem message={action.error} />
    </details>
  );
}
