// What reads the straps: each Bluetooth adapter of the hub's computer with the straps connected
// through it (signal and battery), how many more it can take, and a plain line for every strap
// that cannot be connected and what to do about it. A controller holds only a handful of
// connections, so this is where a facilitator sees a room outgrow one laptop.
import type { Strap, StrapList } from "../generated/rest.strap_list";
import { sentence, strapStateLabel } from "../lib/format";
import type { Polled } from "./hooks";
import { Problem } from "./Problem";
import { adapterLoad, readersOf, readersSummary } from "./reader-groups";

export function Readers(props: { straps: Polled<StrapList> }) {
  const list = props.straps.data;
  if (list === null || !list.available) return null;
  const waiting = list.straps.some((strap) => strap.connectionProblem);
  return (
    <details class="card panel readers" open={waiting} data-testid="readers">
      <summary>
        <h2>Readers</h2>
        <span class="muted">{readersSummary(list)}</span>
      </summary>
      <Problem message={props.straps.error} />
      <ReaderList list={list} />
    </details>
  );
}

/** The panel's body, from one strap list. */
export function ReaderList(props: { list: StrapList }) {
  const { list } = props;
  const readers = readersOf(list);
  return (
    <div class="reader-list">
      {list.advice && <p class="note reader-advice">{sentence(list.advice)}</p>}
      {readers.unconnectable.length > 0 && (
        <section class="reader reader-waiting" aria-label="Straps that cannot be connected">
          <h3>Cannot be connected</h3>
          <ul class="reader-straps">
            {readers.unconnectable.map((strap) => (
              <li key={strap.id} class="reader-problem">
                <StrapLabel strap={strap} />: {sentence(strap.connectionProblem ?? strapStateLabel(strap.state))}
              </li>
            ))}
          </ul>
        </section>
      )}
      {readers.adapters.map(({ adapter, straps }) => (
        <section key={adapter.id} class={`reader ${adapter.present ? "" : "reader-gone"}`} aria-label={`Adapter ${adapter.id}`}>
          <h3>
            {adapter.id}
            {adapter.address && <span class="faint"> · {adapter.address}</span>}
          </h3>
          <p class={`reader-load ${adapter.present && adapter.freeConnections === 0 ? "reader-full" : "muted"}`}>{adapterLoad(adapter)}</p>
          {adapter.controllerRefusal && <p class="note">{sentence(adapter.controllerRefusal)}</p>}
          {straps.length > 0 && (
            <ul class="reader-straps">
              {straps.map((strap) => (
                <li key={strap.id}>
                  <StrapLabel strap={strap} />
                  <span class={`state state-${strap.state}`}> · {strapStateLabel(strap.state)}</span>
                  {strap.rssi != null && <span class="faint"> · {strap.rssi} dBm</span>}
                  {strap.batteryPct != null && <span class={strap.batteryLow ? "battery-low" : ""}> · battery {strap.batteryPct}%</span>}
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
      {readers.unplaced.length > 0 && (
        <p class="faint">
          Being connected: {readers.unplaced.map((strap) => strap.code).join(", ")}
        </p>
      )}
    </div>
  );
}

function StrapLabel(props: { strap: Strap }) {
  const { strap } = props;
  return (
    <>
      <strong class="strap-code">{strap.code}</strong> {strap.name ?? strap.model ?? "strap"}
    </>
  );
}
