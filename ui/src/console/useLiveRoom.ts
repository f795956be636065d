// Subscribes the console to the room as a `display` over Socket.IO and folds the broadcasts
// into a `RoomState`. Reconnects by itself; `connected` says whether the view is live.
import { useEffect, useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import { connectDisplay } from "../backend/live";
import type { Pacer } from "../generated/hub.pacer";
import { applyComplete, applyGroupMetrics, applyPhase, applySnapshot, emptyRoom, type LiveGroupMetrics, type RoomState } from "./room-state";

export interface LiveRoom {
  room: RoomState;
  connected: boolean;
  pacer: Pacer | null;
  /** The last `error` event's message (a display should never get one; shown if it does). */
  problem: string | null;
}

export function useLiveRoom(api: HubApi, roomCode: string | null, onSessionEvent: () => void): LiveRoom {
  const [room, setRoom] = useState<RoomState>(emptyRoom);
  const [connected, setConnected] = useState(false);
  const [pacer, setPacer] = useState<Pacer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let socket: ReturnType<typeof connectDisplay> | null = null;
    let cancelled = false;
    void api.backend.connection().then(({ baseUrl }) => {
      if (cancelled) return;
      socket = connectDisplay(baseUrl, roomCode);
      socket.on("connect", () => {
        setConnected(true);
        setProblem(null);
      });
      socket.on("disconnect", () => setConnected(false));
      socket.on("connect_error", () => setConnected(false));
      socket.on("group_metrics_update", ({ groupMetrics }) => setRoom((state) => applyGroupMetrics(state, groupMetrics as LiveGroupMetrics)));
      socket.on("room_snapshot", (snapshot) => setRoom((state) => applySnapshot(state, snapshot)));
      socket.on("phase_changed", (phase) => {
        setRoom((state) => applyPhase(state, phase));
        onSessionEvent();
      });
      socket.on("session_complete", (complete) => {
        setRoom((state) => applyComplete(state, complete));
        onSessionEvent();
      });
      socket.on("pacer", setPacer);
      socket.on("error", (error) => setProblem(error.message));
    });
    return () => {
      cancelled = true;
      socket?.disconnect();
    };
    // onSessionEvent is a stable callback from the parent, so it is not a dependency.
  }, [api, roomCode]);

  return { room, connected, pacer, problem };
}
