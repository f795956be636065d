// What the Readers panel shows, worked out from `GET /api/straps` without any rendering: each
// Bluetooth adapter with the straps connected through it, and the straps that cannot be
// connected with why. Kept apart from the component so the grouping is tested on plain data.
import type { BluetoothAdapter, Strap, StrapList } from "../generated/rest.strap_list";

export interface AdapterGroup {
  adapter: BluetoothAdapter;
  /** The straps whose connection goes through this adapter, in the list's order. */
  straps: Strap[];
}

export interface ReaderGroups {
  adapters: AdapterGroup[];
  /** Straps that say why they cannot be connected (`connectionProblem`). */
  unconnectable: Strap[];
  /** Straps with neither an adapter nor a problem: found, or about to be connected. */
  unplaced: Strap[];
}

/** Groups a strap list by the adapter each strap goes through. */
export function readersOf(list: StrapList): ReaderGroups {
  const adapters = list.adapters.map((adapter) => ({ adapter, straps: [] as Strap[] }));
  const byId = new Map(adapters.map((group) => [group.adapter.id, group]));
  const unconnectable: Strap[] = [];
  const unplaced: Strap[] = [];
  for (const strap of list.straps) {
    const group = strap.adapter != null ? byId.get(strap.adapter) : undefined;
    if (strap.connectionProblem) unconnectable.push(strap);
    else if (group) group.straps.push(strap);
    else unplaced.push(strap);
  }
  return { adapters, unconnectable, unplaced };
}

/** The panel's one-line summary: adapters in use and the room they have left. */
export function readersSummary(list: StrapList): string {
  const present = list.adapters.filter((adapter) => adapter.present);
  if (present.length === 0) return list.available ? "no adapter" : "not available";
  const free = present.reduce((sum, adapter) => sum + adapter.freeConnections, 0);
  const adapters = present.length === 1 ? "1 adapter" : `${present.length} adapters`;
  const connections = free === 1 ? "1 free connection" : `${free} free connections`;
  return `${adapters} · ${connections}`;
}

/** "7 of 7 connections in use · none free" for an adapter that is there; why not for one that went away. */
export function adapterLoad(adapter: BluetoothAdapter): string {
  if (!adapter.present) return "unplugged: its straps moved to adapters with room, or wait for one";
  const free = adapter.freeConnections === 0 ? "none free" : adapter.freeConnections === 1 ? "1 free" : `${adapter.freeConnections} free`;
  return `${adapter.connectionsInUse} of ${adapter.connectionBudget} connections in use · ${free}`;
}
