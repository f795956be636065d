// Relays: other computers (a laptop, a Raspberry Pi) that read the straps this one cannot hold
// and forward them. "Add a relay" creates its token and shows the command to run there; each
// relay shows whether it is connected, its straps and the beats it still holds for the hub.
import { useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { RelayCreated } from "../generated/rest.relay_created";
import type { RelayInfo } from "../generated/rest.relay_list";
import { HubError } from "../lib/api-error";
import { useAction, usePoll } from "./hooks";
import { Problem } from "./Problem";

export function Relays(props: { api: HubApi }) {
  const relays = usePoll(
    () =>
      props.api.relays().catch((error: unknown) => {
        // A hub without relays yet: nothing to show.
        if (error instanceof HubError && error.status === 404) return { relays: [] };
        throw error;
      }),
    3_000,
  );
  const action = useAction();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<RelayCreated | null>(null);
  const list = relays.data?.relays ?? [];
  const connected = list.filter((relay) => relay.connected).length;
  return (
    <details class="card panel" open={list.length > 0}>
      <summary>
        <h2>Relays</h2>
        <span class="muted">{list.length === 0 ? "for more straps" : `${connected} of ${list.length} connected`}</span>
      </summary>
      <p class="note">A relay is another computer near more straps: it reads them with its own Bluetooth and forwards them here. Its straps appear above with "via" its name.</p>
      <Problem message={relays.error} />
      <ul class="relays">
        {list.map((relay) => <RelayRow key={relay.name} api={props.api} relay={relay} onChanged={relays.refresh} />)}
      </ul>
      <form
        class="assign-form"
        onSubmit={(event) => {
          event.preventDefault();
          setCreated(null);
          void action.run(async () => {
            const body = await props.api.addRelay(name.trim());
            setCreated(body);
            setName("");
            relays.refresh();
          });
        }}
      >
        <label for="relay-name">Add a relay: its name (lowercase letters, digits, -)</label>
        <input id="relay-name" type="text" required maxLength={32} pattern="[a-z0-9][a-z0-9\-]*" placeholder="back-row" value={name} onInput={(event) => setName(event.currentTarget.value)} />
        <button type="submit" class="primary" disabled={action.pending || name.trim() === ""}>Add a relay</button>
      </form>
      {created !== null && (
        <p class="note" role="status">
          Run this on the relay's computer (the token is shown once): <code class="token">{created.command}</code>
        </p>
      )}
      <Problem message={action.error} />
    </details>
  );
}

function queueLine(relay: RelayInfo): string {
  const queue = relay.queue;
  if (!queue) return "no report yet";
  if (queue.batches === 0) return "nothing waiting";
  const age = queue.oldestAgeMs != null ? `, oldest ${Math.round(queue.oldestAgeMs / 1000)} s` : "";
  return `${queue.batches} beat batches waiting for the hub${age}`;
}

function RelayRow(props: { api: HubApi; relay: RelayInfo; onChanged: () => void }) {
  const { relay } = props;
  const action = useAction();
  return (
    <li class={`relay ${relay.connected ? "relay-connected" : "relay-away"}`}>
      <div class="row">
        <strong>{relay.name}</strong>
        <span class={`state ${relay.connected ? "state-connected" : "state-reconnecting"}`}>{relay.connected ? "connected" : "not connected"}</span>
      </div>
      <p class="strap-facts">
        {relay.straps.length} straps · queue: {queueLine(relay)}
        {relay.queue?.warning ? <span class="battery-low"> · {relay.queue.warning}</span> : null}
      </p>
      {!relay.connected && relay.queue && relay.queue.batches > 0 && <p class="faint">Its beats are kept on the relay and arrive when it reconnects.</p>}
      <button
        type="button"
        class="quiet"
        disabled={action.pending}
        onClick={() => {
          if (!window.confirm(`Revoke relay ${relay.name}? It is disconnected and its token stops working.`)) return;
          void action.run(() => props.api.revokeRelay(relay.name)).then(props.onChanged);
        }}
      >
        Revoke
      </button>
      <Problem message={action.error} />
    </li>
  );
}
