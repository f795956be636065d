// The console's root: picks the backend (browser or desktop), makes sure we hold an admin
// token the hub accepts, then shows the room.
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { HubApi } from "../backend/api";
import { selectBackend, tauriInvoke } from "../backend/select";
import { HubError, errorMessage } from "../lib/api-error";
import type { HubInfo } from "../generated/rest.hub_info";
import { TokenGate } from "./TokenGate";
import { Console } from "./Console";

type Gate = { kind: "checking" } | { kind: "token"; problem: string | null } | { kind: "open"; hub: HubInfo } | { kind: "failed"; problem: string };

export function App() {
  const backend = useMemo(() => selectBackend(window, tauriInvoke), []);
  const api = useMemo(() => new HubApi(backend), [backend]);
  const [gate, setGate] = useState<Gate>({ kind: "checking" });

  const check = useCallback(async () => {
    const { adminToken } = await backend.connection().catch(() => ({ adminToken: null }));
    if (adminToken === null && backend.asksForToken) {
      setGate({ kind: "token", problem: null });
      return;
    }
    try {
      setGate({ kind: "open", hub: await api.hub() });
    } catch (error) {
      if (error instanceof HubError && error.code === "unauthorized" && backend.asksForToken) {
        setGate({ kind: "token", problem: "The hub did not accept that token. Check it and try again." });
      } else {
        setGate({ kind: "failed", problem: errorMessage(error) });
      }
    }
  }, [api, backend]);

  useEffect(() => {
    void check();
  }, [check]);

  switch (gate.kind) {
    case "checking":
      return <main class="gate"><p class="muted">Connecting to the hub…</p></main>;
    case "token":
      return (
        <TokenGate
          problem={gate.problem}
          onToken={(token) => {
            backend.rememberToken(token);
            setGate({ kind: "checking" });
            void check();
          }}
        />
      );
    case "failed":
      return (
        <main class="gate">
          <div class="gate-card">
            <h1>Sync Hub console</h1>
            <p class="problem" role="alert">{gate.problem}</p>
            <button type="button" class="primary" onClick={() => { setGate({ kind: "checking" }); void check(); }}>
              Try again
            </button>
          </div>
        </main>
      );
    case "open":
      return (
        <Console
          api={api}
          hub={gate.hub}
          onUnauthorized={() => setGate({ kind: "token", problem: "The hub no longer accepts the token. Enter it again." })}
        />
      );
  }
}
