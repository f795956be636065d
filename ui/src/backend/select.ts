// Picks the backend for the window we run in: the desktop app injects
// `window.__TAURI_INTERNALS__`; anything else is a browser talking to `synchub serve`.
import type { Backend } from "./backend";
import { HttpBackend } from "./http";
import { TauriBackend, type Invoke } from "./tauri";

/** The parts of `window` the choice depends on. */
export interface WindowLike {
  __TAURI_INTERNALS__?: unknown;
  sessionStorage: Pick<Storage, "getItem" | "setItem" | "removeItem">;
}

/** Whether we run inside the Tauri desktop app. */
export function isTauri(win: WindowLike): boolean {
  return win.__TAURI_INTERNALS__ !== undefined && win.__TAURI_INTERNALS__ !== null;
}

/** The backend for `win`. `loadInvoke` is only called inside Tauri, so browsers never load
 *  the Tauri API chunk. */
export function selectBackend(win: WindowLike, loadInvoke: () => Promise<Invoke>): Backend {
  if (isTauri(win)) {
    let invoke: Invoke | null = null;
    const lazyInvoke: Invoke = async <T>(command: string, args?: Record<string, unknown>) => {
      invoke ??= await loadInvoke();
      return invoke<T>(command, args);
    };
    return new TauriBackend(lazyInvoke);
  }
  return new HttpBackend(win.sessionStorage);
}

/** `invoke` from the real Tauri API, loaded on demand. */
export async function tauriInvoke(): Promise<Invoke> {
  const core = await import("@tauri-apps/api/core");
  return core.invoke as Invoke;
}
