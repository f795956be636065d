// @vitest-environment happy-dom
// The Readers panel rendered into a DOM from `GET /api/straps` replies shaped as the hub sends
// them: two full adapters with a strap waiting, then one adapter unplugged.
import { type ComponentChild, render } from "preact";
import { afterEach, describe, expect, it } from "vitest";
import type { BluetoothAdapter, Strap, StrapList } from "../generated/rest.strap_list";
import { strapStateLabel } from "../lib/format";
import type { Polled } from "./hooks";
import { adapterLoad, readersOf, readersSummary } from "./reader-groups";
import { ReaderList, Readers } from "./Readers";

const waitingProblem =
  "no free connection: heard by hci0 (7 of 7 connections in use), hci1 (7 of 7 connections in use); plug another Bluetooth adapter into this computer or use a relay near this strap";

function strap(n: number, fields: Partial<Strap>): Strap {
  return { id: `A0:9E:1A:00:00:${n.toString(16).padStart(2, "0")}`, code: `C${n.toString().padStart(3, "0")}`, name: `Polar H10 A1B2C3${n}`, state: "connected", batteryLow: false, ...fields };
}

function adapter(id: string, straps: Strap[], fields: Partial<BluetoothAdapter> = {}): BluetoothAdapter {
  return {
    id,
    address: `00:1A:7D:DA:71:${id === "hci0" ? "13" : "14"}`,
    present: true,
    connectionBudget: 7,
    connectionsInUse: straps.length,
    freeConnections: 7 - straps.length,
    straps: straps.map((placed) => placed.id),
    ...fields,
  };
}

/** Two adapters of 7, both full, with strap 15 heard but left without a connection. */
function fullRoom(): StrapList {
  const onHci0 = [1, 3, 5, 7, 9, 11, 13].map((n) => strap(n, { adapter: "hci0", rssi: -55, batteryPct: 85 }));
  const onHci1 = [2, 4, 6, 8, 10, 12, 14].map((n) => strap(n, { adapter: "hci1", rssi: -60, batteryPct: n === 2 ? 12 : 85, batteryLow: n === 2 }));
  const waiting = strap(15, { state: "no_free_connection", rssi: -80, connectionProblem: waitingProblem });
  return {
    available: true,
    straps: [...onHci0, ...onHci1, waiting],
    adapters: [adapter("hci0", onHci0), adapter("hci1", onHci1)],
    advice:
      "1 strap is heard but not connected: every Bluetooth adapter that hears it has all its connections in use. Plug another Bluetooth adapter (a USB dongle) into this computer, or read it with a relay on a second computer near it.",
  };
}

function polled(list: StrapList | null): Polled<StrapList> {
  return { data: list, error: null, unauthorized: false, refresh: () => undefined };
}

function shown(node: ComponentChild): HTMLElement {
  const container = document.createElement("div");
  document.body.append(container);
  render(node, container);
  return container;
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("the readers panel", () => {
  it("lists each adapter with its straps, their signal and battery, and how full it is", () => {
    const panel = shown(<ReaderList list={fullRoom()} />);
    const hci0 = panel.querySelector('[aria-label="Adapter hci0"]');
    const hci1 = panel.querySelector('[aria-label="Adapter hci1"]');
    expect(hci0?.textContent).toContain("hci0 · 00:1A:7D:DA:71:13");
    expect(hci0?.textContent).toContain("7 of 7 connections in use · none free");
    expect(hci0?.querySelectorAll("li")).toHaveLength(7);
    expect(hci0?.textContent).toContain("C001 Polar H10 A1B2C31 · connected · -55 dBm · battery 85%");
    expect(hci1?.querySelectorAll("li")).toHaveLength(7);
    expect(hci1?.querySelector(".battery-low")?.textContent).toBe(" · battery 12%");
  });

  it("says for each strap that cannot be connected why, and what to do", () => {
    const panel = shown(<ReaderList list={fullRoom()} />);
    const waiting = panel.querySelector('[aria-label="Straps that cannot be connected"]');
    const lines = [...(waiting?.querySelectorAll("li") ?? [])].map((line) => line.textContent);
    expect(lines).toEqual([`C015 Polar H10 A1B2C315: No free connection: heard by hci0 (7 of 7 connections in use), hci1 (7 of 7 connections in use); plug another Bluetooth adapter into this computer or use a relay near this strap.`]);
    expect(panel.querySelector(".reader-advice")?.textContent).toContain("Plug another Bluetooth adapter");
    // The waiting strap is not listed under an adapter.
    expect(panel.querySelector('[aria-label="Adapter hci0"]')?.textContent).not.toContain("C015");
  });

  it("keeps an unplugged adapter, and the straps it held wait with the reason", () => {
    const room = fullRoom();
    const onHci0 = room.straps.filter((placed) => placed.adapter === "hci0");
    const moved = room.straps
      .filter((placed) => placed.adapter !== "hci0")
      .map((placed) => ({ ...placed, adapter: null, state: "no_free_connection" as const, connectionProblem: waitingProblem.replace(", hci1 (7 of 7 connections in use)", "") }));
    const unplugged: StrapList = {
      ...room,
      straps: [...onHci0, ...moved],
      adapters: [adapter("hci0", onHci0), adapter("hci1", [], { present: false, connectionsInUse: 0, freeConnections: 0 })],
    };
    const panel = shown(<ReaderList list={unplugged} />);
    const gone = panel.querySelector('[aria-label="Adapter hci1"]');
    expect(gone?.classList.contains("reader-gone")).toBe(true);
    expect(gone?.textContent).toContain("unplugged");
    expect(panel.querySelectorAll('[aria-label="Straps that cannot be connected"] li')).toHaveLength(8);
    expect(readersSummary(unplugged)).toBe("1 adapter · 0 free connections");
  });

  it("opens itself while a strap waits, and stays out of the way without Bluetooth", () => {
    const open = shown(<Readers straps={polled(fullRoom())} />);
    expect(open.querySelector("details")?.open).toBe(true);
    expect(open.querySelector("summary")?.textContent).toBe("Readers2 adapters · 0 free connections");

    const calm = fullRoom();
    calm.straps = calm.straps.filter((placed) => !placed.connectionProblem);
    calm.advice = null;
    expect(shown(<Readers straps={polled(calm)} />).querySelector("details")?.open).toBe(false);

    const off: StrapList = { available: false, reason: "this hub was started without Bluetooth", straps: [], adapters: [] };
    expect(shown(<Readers straps={polled(off)} />).innerHTML).toBe("");
    expect(shown(<Readers straps={polled(null)} />).innerHTML).toBe("");
  });
});

describe("grouping straps by reader", () => {
  it("puts connected straps under their adapter and problems apart", () => {
    const room = fullRoom();
    room.straps.push(strap(16, { state: "discovered" }));
    const groups = readersOf(room);
    expect(groups.adapters.map((group) => [group.adapter.id, group.straps.length])).toEqual([
      ["hci0", 7],
      ["hci1", 7],
    ]);
    expect(groups.unconnectable.map((waiting) => waiting.code)).toEqual(["C015"]);
    expect(groups.unplaced.map((found) => found.code)).toEqual(["C016"]);
  });

  it("words an adapter's load", () => {
    expect(adapterLoad(adapter("hci0", [strap(1, {})]))).toBe("1 of 7 connections in use · 6 free");
    expect(adapterLoad(adapter("hci0", [], { connectionBudget: 1, freeConnections: 1 }))).toBe("0 of 1 connections in use · 1 free");
    expect(strapStateLabel("no_free_connection")).toBe("heard, no free connection");
  });
});
