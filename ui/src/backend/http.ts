// The browser backend: the hub is this page's origin; the admin token is typed once and kept
// in sessionStorage, so it lives as long as the tab and is never written to disk by us.
import type { Backend, HubConnection, HubRestart, Monitor } from "./backend";

/** sessionStorage key of the admin token. */
export const TOKEN_KEY = "synchub.adminToken";

export class HttpBackend implements Backend {
  readonly kind = "http" as const;
  readonly asksForToken = true;
  readonly canProject = false;

  constructor(
    private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem">,
    private readonly baseUrl = "",
  ) {}

  async connection(): Promise<HubConnection> {
    const token = this.storage.getItem(TOKEN_KEY);
    return { baseUrl: this.baseUrl, adminToken: token === null || token === "" ? null : token };
  }

  rememberToken(token: string): void {
    this.storage.setItem(TOKEN_KEY, token.trim());
  }

  forgetToken(): void {
    this.storage.removeItem(TOKEN_KEY);
  }

  async listMonitors(): Promise<Monitor[]> {
    return [];
  }

  async openProjector(_index: number): Promise<void> {
    throw new Error("The projector can be opened from the desktop app only. Run synchub-projector on this machine instead.");
  }

  async hubRestarts(): Promise<HubRestart[]> {
    return [];
  }
}
