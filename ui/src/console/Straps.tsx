// Chest straps the hub reads over Bluetooth LE: each with its short code (participants type it
// on the join page to see their own feedback), its state, battery and heart rate, the adapter it
// goes through, why it cannot be connected when it cannot, and who it is assigned to. When the
// hub cannot use Bluetooth, it says why, calmly: the room works without.
import { useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { IntentionCategory } from "../generated/client.join_session";
import type { Strap, StrapList } from "../generated/rest.strap_list";
import { HubError } from "../lib/api-error";
import { intentionCategories, intentionLabel, sentence, strapStateLabel } from "../lib/format";
import { type Polled, useAction, usePoll } from "./hooks";
import { Problem } from "./Problem";

/** `GET /api/straps` every 3 s, shared by the straps and readers panels. */
export function useStrapList(api: HubApi): Polled<StrapList> {
  return usePoll(
    () =>
      api.straps().catch((error: unknown) => {
        // A hub without the straps endpoint yet: the same calm message as "not available".
        if (error instanceof HubError && error.status === 404) return { available: false, reason: "This hub version does not read chest straps.", straps: [], adapters: [] };
        throw error;
      }),
    3_000,
  );
}

export function Straps(props: { api: HubApi; straps: Polled<StrapList> }) {
  const { straps } = props;
  const list = straps.data;
  return (
    <details class="card panel" open={list !== null && list.available && list.straps.length > 0}>
      <summary>
        <h2>Chest straps</h2>
        <span class="muted">{list === null ? "" : list.available ? `${list.straps.length} found` : "not available"}</span>
      </summary>
      <Problem message={straps.error} />
      {list !== null && !list.available && <p class="note">{sentence(list.reason ?? "Bluetooth is not available on this computer")} Phones and browsers still work.</p>}
      {list !== null && list.available && list.straps.length === 0 && <p class="faint">Searching… Put a strap on (wet the electrodes) to wake it.</p>}
      <ul class="straps">
        {list?.straps.map((strap) => <StrapRow key={strap.id} api={props.api} strap={strap} onChanged={straps.refresh} />)}
      </ul>
    </details>
  );
}

function StrapRow(props: { api: HubApi; strap: Strap; onChanged: () => void }) {
  const { strap } = props;
  const action = useAction();
  const [assigning, setAssigning] = useState(false);
  const [label, setLabel] = useState("");
  const [intention, setIntention] = useState<IntentionCategory | "">("");
  const [research, setResearch] = useState(false);
  const title = strap.name ?? strap.model ?? "Heart-rate strap";
  return (
    <li class={`strap strap-${strap.state}`}>
      <div class="strap-head">
        <span class="strap-code big-code" title="Code for the join page">{strap.code}</span>
        <span class="strap-name">{title}{strap.manufacturer ? <span class="faint"> · {strap.manufacturer}</span> : null}{strap.via ? <span class="faint"> · via {strap.via}</span> : null}</span>
      </div>
      <p class="strap-facts">
        <span class={`state state-${strap.state}`}>{strapStateLabel(strap.state)}</span>
        {strap.adapter && <span class="faint"> · {strap.adapter}</span>}
        {strap.heartRateBpm != null && <span> · {Math.round(strap.heartRateBpm)} bpm</span>}
        {strap.batteryPct != null && <span class={strap.batteryLow ? "battery-low" : ""}> · battery {strap.batteryPct}%</span>}
        {strap.batteryPct == null && strap.batteryLow && <span class="battery-low"> · battery low</span>}
        {strap.rssi != null && <span class="faint"> · {strap.rssi} dBm</span>}
        {strap.smoothedRrWarning ? <span class="battery-low"> · {strap.smoothedRrWarning}</span> : null}
      </p>
      {strap.connectionProblem && <p class="note strap-problem">{sentence(strap.connectionProblem)}</p>}
      {strap.claimedBy && strap.claimedBy.length > 0 && (
        <ul class="strap-claims">
          {strap.claimedBy.map((slot) => (
            <li key={slot} class="row">
              <span>Claimed by the participant in <strong>slot {slot + 1}</strong> (their phone shows this strap's feedback)</span>
              <button type="button" class="quiet" disabled={action.pending} onClick={() => action.run(() => props.api.revokeStrapClaim(strap.id, slot)).then(props.onChanged)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      {strap.assigned ? (
        <div class="row">
          <span>Worn by <strong>{strap.assigned.label}</strong>{strap.assigned.slot != null && <span class="muted"> (slot {strap.assigned.slot + 1})</span>}</span>
          <button type="button" class="quiet" disabled={action.pending} onClick={() => action.run(() => props.api.unassignStrap(strap.id)).then(props.onChanged)}>
            Release
          </button>
        </div>
      ) : assigning ? (
        <form
          class="assign-form"
          onSubmit={(event) => {
            event.preventDefault();
            void action
              .run(() =>
                props.api.assignStrap(strap.id, {
                  label: label.trim(),
                  ...(intention ? { intention: { category: intention } } : {}),
                  consent: { research },
                }),
              )
              .then((ok) => {
                if (ok) setAssigning(false);
                props.onChanged();
              });
          }}
        >
          <label for={`strap-label-${strap.id}`}>Label (a first name or a seat; not stored)</label>
          <input id={`strap-label-${strap.id}`} type="text" required maxLength={64} value={label} onInput={(event) => setLabel(event.currentTarget.value)} />
          <label for={`strap-intention-${strap.id}`}>Intention</label>
          <select id={`strap-intention-${strap.id}`} value={intention} onChange={(event) => setIntention(event.currentTarget.value as IntentionCategory | "")}>
            <option value="">none</option>
            {intentionCategories.map((category) => <option key={category} value={category}>{intentionLabel(category)}</option>)}
          </select>
          <label class="check"><input type="checkbox" checked={research} onChange={(event) => setResearch(event.currentTarget.checked)} /> The wearer agrees to research use</label>
          <div class="row">
            <button type="submit" class="primary" disabled={action.pending || label.trim() === ""}>Assign</button>
            <button type="button" class="quiet" onClick={() => setAssigning(false)}>Cancel</button>
          </div>
        </form>
      ) : (
        <button type="button" onClick={() => setAssigning(true)}>Assign to someone</button>
      )}
      <Problem message={action.error} />
    </li>
  );
}

