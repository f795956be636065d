// The room's breathing pacer: breaths per minute and the in-breath's share of each breath.
// Every phone, browser and the projector follow it at once.
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { Pacer } from "../generated/hub.pacer";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

export function PacerControl(props: { api: HubApi; pacer: Pacer | null }) {
  const action = useAction();
  const [rate, setRate] = useState("6");
  const [inhalePct, setInhalePct] = useState("40");
  const [saved, setSaved] = useState<Pacer | null>(null);
  const current = saved ?? props.pacer;

  useEffect(() => {
    if (props.pacer) {
      setRate(String(props.pacer.breathsPerMin));
      setInhalePct(String(Math.round(props.pacer.inhaleRatio * 100)));
    }
  }, [props.pacer?.breathsPerMin, props.pacer?.inhaleRatio]);

  return (
    <details class="card panel">
      <summary>
        <h2>Breathing pacer</h2>
        <span class="muted">{current ? `${current.breathsPerMin} / min, in ${Math.round(current.inhaleRatio * 100)}%` : ""}</span>
      </summary>
      <form
        class="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => setSaved(await props.api.putPacer({ breathsPerMin: Number(rate), inhaleRatio: Number(inhalePct) / 100 })));
        }}
      >
        <div>
          <label for="pacer-rate">Breaths per minute</label>
          <input id="pacer-rate" type="number" min="1" max="30" step="0.5" required value={rate} onInput={(event) => setRate(event.currentTarget.value)} />
        </div>
        <div>
          <label for="pacer-inhale">In-breath share, %</label>
          <input id="pacer-inhale" type="number" min="10" max="90" step="5" required value={inhalePct} onInput={(event) => setInhalePct(event.currentTarget.value)} />
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.pending}>Set pacer</button>
        </div>
      </form>
      <Problem message={action.error} />
    </details>
  );
}
