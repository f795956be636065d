// Desktop only: put the full-screen mandala on a monitor (usually the projector).
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { Monitor } from "../backend/backend";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

export function Projector(props: { api: HubApi }) {
  const [monitors, setMonitors] = useState<Monitor[] | null>(null);
  const action = useAction();
  const load = () => void action.run(async () => setMonitors(await props.api.backend.listMonitors()));
  useEffect(load, []);
  return (
    <details class="card panel" open>
      <summary>
        <h2>Projector</h2>
        <span class="muted">{monitors === null ? "" : `${monitors.length} screen${monitors.length === 1 ? "" : "s"}`}</span>
      </summary>
      <ul class="monitors">
        {monitors?.map((monitor) => (
          <li key={monitor.index} class="row">
            <span>{monitor.name} <span class="faint">{monitor.width}×{monitor.height}</span></span>
            <button type="button" disabled={action.pending} onClick={() => action.run(() => props.api.backend.openProjector(monitor.index))}>
              Show the mandala here
            </button>
          </li>
        ))}
      </ul>
      <button type="button" class="quiet" onClick={load}>Look for screens again</button>
      <Problem message={action.error} />
    </details>
  );
}
