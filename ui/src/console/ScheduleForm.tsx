// How sessions start (rolling slots back to back, or only when the facilitator starts one) and
// how long each phase lasts. Entered in minutes; the hub takes seconds.
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { Schedule } from "../generated/rest.schedule";
import { formatDuration } from "../lib/format";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

/** Minutes as typed (`"0.5"`) to whole seconds. */
export function secsFromMinutes(text: string): number {
  return Math.round(Number(text) * 60);
}

function minutesFromSecs(secs: number): string {
  return String(Math.round((secs / 60) * 100) / 100);
}

export function ScheduleForm(props: { api: HubApi; schedule: Schedule; onSaved: () => void }) {
  const action = useAction();
  const [mode, setMode] = useState(props.schedule.mode);
  const [slot, setSlot] = useState(String(props.schedule.slotMinutes));
  const [preparation, setPreparation] = useState(minutesFromSecs(props.schedule.phases.preparation));
  const [active, setActive] = useState(minutesFromSecs(props.schedule.phases.active));
  const [integration, setIntegration] = useState(minutesFromSecs(props.schedule.phases.integration));
  const [saved, setSaved] = useState(false);

  useEffect(() => setSaved(false), [mode, slot, preparation, active, integration]);

  const s = props.schedule;
  return (
    <details class="card panel">
      <summary>
        <h2>Schedule</h2>
        <span class="muted">
          {s.mode === "rolling" ? `rolling, every ${s.slotMinutes} min` : "manual"} · {formatDuration(s.phases.preparation * 1000)} + {formatDuration(s.phases.active * 1000)} + {formatDuration(s.phases.integration * 1000)}
        </span>
      </summary>
      <form
        class="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          void action
            .run(() =>
              props.api.putSchedule({
                mode,
                slotMinutes: Math.round(Number(slot)),
                phases: { preparation: secsFromMinutes(preparation), active: secsFromMinutes(active), integration: secsFromMinutes(integration) },
              }),
            )
            .then((ok) => {
              setSaved(ok);
              props.onSaved();
            });
        }}
      >
        <fieldset class="span-all">
          <legend>Sessions start</legend>
          <label class="check"><input type="radio" name="mode" checked={mode === "rolling"} onChange={() => setMode("rolling")} /> by themselves, one slot after another (rolling)</label>
          <label class="check"><input type="radio" name="mode" checked={mode === "manual"} onChange={() => setMode("manual")} /> when I press Start (manual)</label>
        </fieldset>
        <div>
          <label for="slot-minutes">Slot length, min</label>
          <input id="slot-minutes" type="number" min="1" max="240" step="1" required value={slot} onInput={(event) => setSlot(event.currentTarget.value)} />
        </div>
        <div>
          <label for="phase-preparation">Preparation, min</label>
          <input id="phase-preparation" type="number" min="0" max="240" step="0.25" required value={preparation} onInput={(event) => setPreparation(event.currentTarget.value)} />
        </div>
        <div>
          <label for="phase-active">Active, min</label>
          <input id="phase-active" type="number" min="0.25" max="240" step="0.25" required value={active} onInput={(event) => setActive(event.currentTarget.value)} />
        </div>
        <div>
          <label for="phase-integration">Integration, min</label>
          <input id="phase-integration" type="number" min="0" max="240" step="0.25" required value={integration} onInput={(event) => setIntegration(event.currentTarget.value)} />
        </div>
        <div class="form-actions span-all">
          <button type="submit" class="primary" disabled={action.pending}>Save schedule</button>
          {saved && <span class="muted" role="status">Saved.</span>}
        </div>
      </form>
      <Problem message={action.error} />
    </details>
  );
}
