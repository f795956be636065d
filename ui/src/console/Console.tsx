// The facilitator's screen: what a glance from two metres needs at the top (phase, time
// left, the group's coherence, who is connected, the room code), and the rarer controls
// (straps, pacer, schedule, projector, sync, export, history) below in collapsible panels.
import { useCallback, useEffect, useRef } from "preact/hooks";
import type { HubApi } from "../backend/api";
import type { HubInfo } from "../generated/rest.hub_info";
import { usePoll } from "./hooks";
import { useLiveRoom } from "./useLiveRoom";
import { SessionCard } from "./SessionCard";
import { JoinCard } from "./JoinCard";
import { GroupFigures } from "./GroupFigures";
import { CoherenceChart } from "./CoherenceChart";
import { Participants } from "./Participants";
import { Readers } from "./Readers";
import { Relays } from "./Relays";
import { Straps, useStrapList } from "./Straps";
import { PacerControl } from "./PacerControl";
import { ScheduleForm } from "./ScheduleForm";
import { Projector } from "./Projector";
import { SyncPanel } from "./SyncPanel";
import { ExportPanel } from "./ExportPanel";
import { History } from "./History";
import { AdminTokenPanel } from "./AdminTokenPanel";
import { HealthBanner } from "./HealthBanner";
import { RestartBanner } from "./RestartBanner";

export function Console(props: { api: HubApi; hub: HubInfo; onUnauthorized: () => void }) {
  const { api } = props;
  const hubInfo = usePoll(() => api.hub(), 5_000);
  const hub = hubInfo.data ?? props.hub;
  const current = usePoll(() => api.currentSession(), 4_000);
  const participants = usePoll(() => api.participants(), 2_000);
  const straps = useStrapList(api);
  const refreshCurrent = useRef(current.refresh);
  refreshCurrent.current = current.refresh;
  const onSessionEvent = useCallback(() => {
    refreshCurrent.current();
  }, []);
  const live = useLiveRoom(api, hub.roomCode ?? null, onSessionEvent);

  const unauthorized = hubInfo.unauthorized || participants.unauthorized;
  useEffect(() => {
    if (unauthorized) props.onUnauthorized();
  }, [unauthorized]);

  return (
    <div class="console">
      <header class="topbar">
        <h1 class="room-name">{hub.name}</h1>
        <span class={`live ${live.connected ? "live-on" : "live-off"}`} role="status" data-testid="live-status">
          {live.connected ? "Live" : "Reconnecting…"}
        </span>
        <span class="faint version">Sync Hub {hub.version}</span>
      </header>
      <RestartBanner api={api} />
      <HealthBanner api={api} />
      {live.problem && <p class="problem" role="alert">{live.problem}</p>}
      <main class="console-grid">
        <div class="col-main">
          <SessionCard api={api} hub={hub} current={current} room={live.room} />
          <GroupFigures room={live.room} live={current.data !== null && current.data.currentPhase !== "complete" && current.data.sessionId === live.room.sessionId} />
          <CoherenceChart room={live.room} startedAtMs={current.data && current.data.sessionId === live.room.sessionId ? current.data.startedAt : null} />
          <Participants list={participants.data} error={participants.error} room={live.room} />
        </div>
        <aside class="col-side">
          <JoinCard hub={hub} />
          <Straps api={api} straps={straps} />
          <Readers straps={straps} />
          <Relays api={api} />
          <PacerControl api={api} pacer={live.pacer} />
          {api.backend.canProject && <Projector api={api} />}
          <ScheduleForm api={api} schedule={hub.schedule} onSaved={hubInfo.refresh} />
          <SyncPanel api={api} sync={hub.sync} onChanged={hubInfo.refresh} />
          <ExportPanel api={api} />
          <AdminTokenPanel api={api} />
        </aside>
        <div class="col-wide panels">
          <History api={api} completedSessionId={live.room.completed?.sessionId ?? null} />
        </div>
      </main>
    </div>
  );
}
