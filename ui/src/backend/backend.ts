// One interface to the hub, two implementations (GitButler's `IBackend` pattern): the same
// console runs in a browser against `synchub serve` (HttpBackend) and in the desktop window
// (TauriBackend). Both reach the hub's HTTP API and Socket.IO the same way; they differ only
// in where the hub's address and admin token come from, and in what the desktop can do that a
// browser cannot (put the projector on a second monitor).

/** Where the hub is and how to prove we are its facilitator. */
export interface HubConnection {
  /** Origin of the hub's HTTP API, without a trailing slash; `""` means this page's origin. */
  baseUrl: string;
  /** The admin token, or null when the facilitator has not entered it yet. */
  adminToken: string | null;
}

/** A display the desktop app can open the projector on (`invoke('list_monitors')`). */
export interface Monitor {
  index: number;
  name: string;
  width: number;
  height: number;
}

/** The desktop app's embedded hub stopped unexpectedly (`invoke('hub_restarts')`). */
export interface HubRestart {
  /** When its engine failed, ms since the Unix epoch. */
  failedAtMs: number;
  /** The failure's message. */
  reason: string;
  /** Whether the app started the hub again. */
  restarted: boolean;
  /** Whether the running session resumed; null when none was running. */
  sessionResumed: boolean | null;
  /** Why the app did not restart it (with what to do), when it did not. */
  notRestartedBecause: string | null;
}

export interface Backend {
  readonly kind: "http" | "tauri";
  /** Whether the facilitator types the admin token (browser) or the app hands it over. */
  readonly asksForToken: boolean;
  /** Whether this backend can open the projector window on a monitor (desktop only). */
  readonly canProject: boolean;
  /** The hub's address and the admin token. */
  connection(): Promise<HubConnection>;
  /** Keep a token the facilitator typed (or a rotation returned), for this tab or window. */
  rememberToken(token: string): void;
  /** Drop a token the hub refused (the desktop asks the app for the current one again). */
  forgetToken(): void;
  /** Monitors for the projector; empty where `canProject` is false. */
  listMonitors(): Promise<Monitor[]>;
  /** Opens the full-screen projector on monitor `index`. */
  openProjector(index: number): Promise<void>;
  /** Every unexpected stop of the desktop app's embedded hub, oldest first; always empty in a
   *  browser (a `synchub serve` that stops is restarted by its service manager). */
  hubRestarts(): Promise<HubRestart[]>;
}
