// The admin token: rotate it after it may have been seen (a console opened from another
// computer with --admin-remote, a shared screen). The old token is refused at once, by every
// console still holding it; this console keeps working with the new one, which is shown once
// so it can be given to a colleague's console.
import { useState } from "preact/hooks";
import type { HubApi } from "../backend/api";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

export function AdminTokenPanel(props: { api: HubApi }) {
  const action = useAction();
  const [fresh, setFresh] = useState<string | null>(null);
  return (
    <details class="card panel">
      <summary>
        <h2>Admin token</h2>
        <span class="muted">rotate after it was shared</span>
      </summary>
      <p class="note">
        A new token replaces the current one at once: other consoles must enter the new token. The same from a terminal:{" "}
        <code>synchub admin-token --rotate</code>.
      </p>
      <button
        type="button"
        disabled={action.pending}
        onClick={() => {
          setFresh(null);
          void action.run(async () => {
            const body = await props.api.rotateAdminToken();
            setFresh(body.adminToken);
          });
        }}
      >
        Rotate the admin token
      </button>
      {fresh !== null && (
        <p class="note" role="status">
          New token (this console already uses it): <code class="token">{fresh}</code>
        </p>
      )}
      <Problem message={action.error} />
    </details>
  );
}
