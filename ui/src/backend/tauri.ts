// The desktop backend: the Tauri app embeds the hub and hands the UI its address and admin
// token through `invoke('hub_connection')` — the facilitator never types a token there. Data
// and live calls then go to that embedded hub over HTTP and Socket.IO, exactly as in a browser.
// The four command names and shapes are the contract with src-tauri; keep them in step.
import type { Backend, HubConnection, HubRestart, Monitor } from "./backend";

/** `invoke` from `@tauri-apps/api/core`, injected so this file stays testable. */
export type Invoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

export class TauriBackend implements Backend {
  readonly kind = "tauri" as const;
  readonly asksForToken = false;
  readonly canProject = true;
  private cached: Promise<HubConnection> | null = null;

  constructor(private readonly invoke: Invoke) {}

  connection(): Promise<HubConnection> {
    this.cached ??= this.invoke<{ baseUrl: string; adminToken: string }>("hub_connection").then(
      (answer) => ({ baseUrl: answer.baseUrl.replace(/\/+$/, ""), adminToken: answer.adminToken }),
      (error: unknown) => {
        this.cached = null;
        throw error;
      },
    );
    return this.cached;
  }

  /** After a rotation from the console: the window keeps using the new token (the app hands
   *  out the hub's current token again on the next `hub_connection` anyway). */
  rememberToken(token: string): void {
    const previous = this.cached ?? this.connection();
    this.cached = previous.then((connection) => ({ ...connection, adminToken: token.trim() }));
  }

  /** A refused token: ask the app again next time (it reads the hub's current token). */
  forgetToken(): void {
    this.cached = null;
  }

  listMonitors(): Promise<Monitor[]> {
    return this.invoke<Monitor[]>("list_monitors");
  }

  async openProjector(index: number): Promise<void> {
    await this.invoke<void>("open_projector", { monitor: index });
  }

  hubRestarts(): Promise<HubRestart[]> {
    return this.invoke<HubRestart[]>("hub_restarts");
  }
}
