// The console's live view of the room: a Socket.IO connection as a `display`, which receives
// the 1 Hz broadcasts (group metrics, room snapshot) and the session's phase changes. It sends
// nothing but `time_sync`. socket.io-client reconnects by itself after a drop.
import { io, type Socket } from "socket.io-client";
import type { GroupMetricsUpdate } from "../generated/hub.group_metrics_update";
import type { RoomSnapshot } from "../generated/hub.room_snapshot";
import type { PhaseChanged } from "../generated/hub.phase_changed";
import type { SessionComplete } from "../generated/hub.session_complete";
import type { Pacer } from "../generated/hub.pacer";
import type { ParticipantUpdate } from "../generated/hub.participant_update";
import type { ErrorEvent } from "../generated/hub.error";
import type { TimeSyncReply } from "../generated/hub.time_sync";
import type { TimeSyncRequest } from "../generated/client.time_sync";
import type { Handshake } from "../generated/handshake";
import { protocolVersion } from "../generated/protocol_version";

/** What the hub sends a display. */
export interface DisplayEvents {
  group_metrics_update: (data: GroupMetricsUpdate) => void;
  room_snapshot: (data: RoomSnapshot) => void;
  phase_changed: (data: PhaseChanged) => void;
  session_complete: (data: SessionComplete) => void;
  pacer: (data: Pacer) => void;
  participant_update: (data: ParticipantUpdate) => void;
  time_sync: (data: TimeSyncReply) => void;
  error: (data: ErrorEvent) => void;
}

/** What a display may send. */
export interface DisplayEmits {
  time_sync: (data: TimeSyncRequest) => void;
}

export type DisplaySocket = Socket<DisplayEvents, DisplayEmits>;

/** Opens the display connection to the hub at `baseUrl` (`""` = this page's origin). */
export function connectDisplay(baseUrl: string, roomCode: string | null): DisplaySocket {
  const auth: Handshake = { role: "display", protocol: protocolVersion.current };
  if (roomCode !== null) auth.roomCode = roomCode;
  const options = {
    path: "/socket.io/",
    transports: ["websocket"],
    auth,
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
  };
  return baseUrl === "" ? io(options) : io(baseUrl, options);
}
