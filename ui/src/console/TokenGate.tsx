// Asks the facilitator for the admin token once per browser tab (the desktop app never asks:
// it hands the token over itself). `synchub serve` prints where the token file is.
import { useState } from "preact/hooks";

export function TokenGate(props: { problem: string | null; onToken: (token: string) => void }) {
  const [token, setToken] = useState("");
  return (
    <main class="gate">
      <form
        class="gate-card"
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim() !== "") props.onToken(token.trim());
        }}
      >
        <h1>Sync Hub console</h1>
        <p class="muted">
          Enter the admin token. <code>synchub serve</code> printed where it is kept (the file <code>admin_token</code> in
          the hub's data folder). This tab remembers it until you close it.
        </p>
        {props.problem && (
          <p class="problem" role="alert">
            {props.problem}
          </p>
        )}
        <label for="admin-token">Admin token</label>
        <input
          id="admin-token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          autofocus
        />
        <button type="submit" class="primary">
          Open the console
        </button>
      </form>
    </main>
  );
}
