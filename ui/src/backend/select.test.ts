import { describe, expect, it } from "vitest";
import { HttpBackend, TOKEN_KEY } from "./http";
import { isTauri, selectBackend, type WindowLike } from "./select";
import type { Invoke } from "./tauri";

function memoryStorage(): WindowLike["sessionStorage"] & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (key) => data.get(key) ?? null,
    setItem: (key, value) => void data.set(key, value),
    removeItem: (key) => void data.delete(key),
  };
}

/** A stand-in for the desktop app's four commands, recording what was asked. */
function desktopCommands(calls: Array<[string, unknown]>): Invoke {
  return (async (command: string, args?: Record<string, unknown>) => {
    calls.push([command, args]);
    switch (command) {
      case "hub_connection":
        return { baseUrl: "http://127.0.0.1:41234/", adminToken: "desktop-token" };
      case "list_monitors":
        return [{ index: 1, name: "HDMI-1", width: 1920, height: 1080 }];
      case "open_projector":
        return null;
      case "hub_restarts":
        return [{ failedAtMs: 1_765_000_000_000, reason: "boom", restarted: true, sessionResumed: true, notRestartedBecause: null }];
      default:
        throw new Error(`unknown command ${command}`);
    }
  }) as Invoke;
}

describe("selectBackend", () => {
  it("uses HTTP in a plain browser and never loads the Tauri API", async () => {
    let loaded = false;
    const backend = selectBackend({ sessionStorage: memoryStorage() }, async () => {
      loaded = true;
      return desktopCommands([]);
    });
    expect(backend.kind).toBe("http");
    expect(backend.asksForToken).toBe(true);
    expect(backend.canProject).toBe(false);
    await backend.connection();
    expect(loaded).toBe(false);
  });

  it("uses Tauri when the desktop app injected its internals", async () => {
    const calls: Array<[string, unknown]> = [];
    const win = { __TAURI_INTERNALS__: {}, sessionStorage: memoryStorage() };
    expect(isTauri(win)).toBe(true);
    const backend = selectBackend(win, async () => desktopCommands(calls));
    expect(backend.kind).toBe("tauri");
    expect(backend.asksForToken).toBe(false);
    expect(await backend.connection()).toEqual({ baseUrl: "http://127.0.0.1:41234", adminToken: "desktop-token" });
    // The connection is asked for once and then reused.
    await backend.connection();
    expect(await backend.listMonitors()).toEqual([{ index: 1, name: "HDMI-1", width: 1920, height: 1080 }]);
    await backend.openProjector(1);
    expect(await backend.hubRestarts()).toEqual([
      { failedAtMs: 1_765_000_000_000, reason: "boom", restarted: true, sessionResumed: true, notRestartedBecause: null },
    ]);
    expect(calls).toEqual([
      ["hub_connection", undefined],
      ["list_monitors", undefined],
      ["open_projector", { monitor: 1 }],
      ["hub_restarts", undefined],
    ]);
  });
});

describe("HttpBackend", () => {
  it("keeps the typed token in sessionStorage, trimmed, and forgets it on request", async () => {
    const storage = memoryStorage();
    const backend = new HttpBackend(storage);
    expect((await backend.connection()).adminToken).toBeNull();
    backend.rememberToken("  abc123\n");
    expect(storage.data.get(TOKEN_KEY)).toBe("abc123");
    expect(await backend.connection()).toEqual({ baseUrl: "", adminToken: "abc123" });
    backend.forgetToken();
    expect((await backend.connection()).adminToken).toBeNull();
  });

  it("refuses to open a projector", async () => {
    await expect(new HttpBackend(memoryStorage()).openProjector(0)).rejects.toThrow(/desktop app/);
  });

  it("has no embedded hub to report restarts of", async () => {
    expect(await new HttpBackend(memoryStorage()).hubRestarts()).toEqual([]);
  });
});
