// The console's memory of the live room: the group-coherence history of the current session
// (for the chart), each slot's recent scores (for the sparklines), and the latest snapshot and
// phase. Fed by the display socket; pure, so it is tested without a hub.
import type { GroupMetrics } from "../generated/hub.group_metrics_update";
import type { RoomSnapshot } from "../generated/hub.room_snapshot";
import type { PhaseChanged } from "../generated/hub.phase_changed";
import type { SessionComplete } from "../generated/hub.session_complete";

/** Sparkline length per slot (one point a second: two minutes). */
export const SPARK_POINTS = 120;
/** Chart length: 4 h at 1 Hz is far beyond any session; the cap only bounds memory. */
export const HISTORY_POINTS = 4 * 3600;

/** `groupMetrics` as the hub sends it (with `synchronyBaseline` beside `synchronyIndex`). */
export type LiveGroupMetrics = GroupMetrics;

export interface GroupHistory {
  /** Seconds since the Unix epoch (uPlot's time axis). */
  times: number[];
  /** null while nobody is active (the hub's 0 then means "no data", not "no coherence"). */
  average: Array<number | null>;
  median: Array<number | null>;
  synchrony: Array<number | null>;
}

export interface RoomState {
  sessionId: string | null;
  metrics: LiveGroupMetrics | null;
  history: GroupHistory;
  snapshot: RoomSnapshot | null;
  /** Local clock when `snapshot` arrived: its `phaseTimeLeft` counts down from then, which
   *  needs no clock agreement between this computer and the hub. */
  snapshotReceivedAt: number;
  /** Recent scores per slot, oldest first. */
  sparks: Map<number, number[]>;
  phase: PhaseChanged | null;
  completed: SessionComplete | null;
  /** Bumped on every change, so views can memoise cheaply. */
  version: number;
}

export function emptyHistory(): GroupHistory {
  return { times: [], average: [], median: [], synchrony: [] };
}

export function emptyRoom(): RoomState {
  return { sessionId: null, metrics: null, history: emptyHistory(), snapshot: null, snapshotReceivedAt: 0, sparks: new Map(), phase: null, completed: null, version: 0 };
}

/** A new session starts a new history; the same session appends (mutating, for speed at 1 Hz). */
export function applyGroupMetrics(room: RoomState, metrics: LiveGroupMetrics): RoomState {
  let history = room.history;
  let sparks = room.sparks;
  let completed = room.completed;
  if (metrics.sessionId !== room.sessionId) {
    history = emptyHistory();
    sparks = new Map();
    completed = null;
  }
  const seconds = metrics.timestamp / 1000;
  const last = history.times[history.times.length - 1];
  if (last === undefined || seconds > last) {
    history.times.push(seconds);
    const active = metrics.activeCount > 0;
    history.average.push(active ? metrics.averageCoherence : null);
    history.median.push(active ? metrics.medianCoherence : null);
    history.synchrony.push(metrics.synchronyIndex ?? null);
    if (history.times.length > HISTORY_POINTS) {
      for (const series of [history.times, history.average, history.median, history.synchrony]) series.shift();
    }
  }
  return { ...room, sessionId: metrics.sessionId, metrics, history, sparks, completed, version: room.version + 1 };
}

export function applySnapshot(room: RoomState, snapshot: RoomSnapshot, receivedAt: number = Date.now()): RoomState {
  const sparks = snapshot.sessionId && snapshot.sessionId !== room.sessionId && room.sessionId !== null ? new Map() : room.sparks;
  for (const participant of snapshot.participants) {
    let series = sparks.get(participant.slot);
    if (series === undefined) {
      series = [];
      sparks.set(participant.slot, series);
    }
    if (participant.quality !== "warming_up") series.push(participant.coherence);
    if (series.length > SPARK_POINTS) series.shift();
  }
  return { ...room, snapshot, snapshotReceivedAt: receivedAt, sparks, version: room.version + 1 };
}

export function applyPhase(room: RoomState, phase: PhaseChanged): RoomState {
  return { ...room, phase, version: room.version + 1 };
}

export function applyComplete(room: RoomState, completed: SessionComplete): RoomState {
  return { ...room, completed, version: room.version + 1 };
}

/** ms left in the current phase of `sessionId` at local time `now`, from the latest snapshot;
 *  null when the snapshot is not about that session. */
export function phaseTimeLeft(room: RoomState, sessionId: string, now: number): number | null {
  const snapshot = room.snapshot;
  if (snapshot === null || snapshot.sessionId !== sessionId || snapshot.phase === "complete") return null;
  return Math.max(0, snapshot.phaseTimeLeft - Math.max(0, now - room.snapshotReceivedAt));
}
