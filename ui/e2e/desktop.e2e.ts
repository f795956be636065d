// The console as the desktop app runs it: Tauri injects `window.__TAURI_INTERNALS__`, and the
// console must take the hub's address and admin token from `invoke('hub_connection')` (never
// asking for a token), list monitors and open the projector through two more commands, and show
// the app's restarts of its embedded hub (`hub_restarts`) on a banner until dismissed. The Tauri
// shell itself is not here, so its four commands are answered by a small script in the page
// that records what was asked; everything else is the real hub. (The shell's restart itself is
// tested in src-tauri against a real embedded hub.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, startHub, type Hub } from "./harness";

describe("console in the desktop app", () => {
  let hub: Hub;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // A room without a code, so this file also covers the console's display connection with no
    // `roomCode` in its handshake.
    hub = await startHub({ roomCode: null });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(
      ({ baseUrl, adminToken }) => {
        const calls: Array<[string, unknown]> = [];
        (window as unknown as { __desktopCalls: typeof calls }).__desktopCalls = calls;
        const restarts: unknown[] = [];
        (window as unknown as { __hubRestarts: typeof restarts }).__hubRestarts = restarts;
        (window as unknown as { __TAURI_INTERNALS__: unknown }).__TAURI_INTERNALS__ = {
          invoke: async (command: string, args: unknown) => {
            calls.push([command, args]);
            if (command === "hub_connection") return { baseUrl, adminToken };
            if (command === "list_monitors") return [{ index: 0, name: "Built-in", width: 2560, height: 1600 }, { index: 1, name: "HDMI-1", width: 1920, height: 1080 }];
            if (command === "open_projector") return null;
            if (command === "hub_restarts") return restarts;
            throw `unknown command ${command}`;
          },
        };
      },
      { baseUrl: hub.hubUrl, adminToken: hub.token },
    );
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it("opens without asking for a token and puts the projector on a chosen monitor", async () => {
    await page.goto(hub.pageUrl + "/");
    await page.getByTestId("room-code").filter({ hasText: "none needed" }).waitFor();
    expect(await page.getByLabel("Admin token").count()).toBe(0);
    await page.getByText("HDMI-1").waitFor();
    await page.locator("li", { hasText: "HDMI-1" }).getByRole("button", { name: "Show the mandala here" }).click();
    await page.waitForFunction(() => (window as unknown as { __desktopCalls: Array<[string]> }).__desktopCalls.some(([command]) => command === "open_projector"));
    const calls = await page.evaluate(() => (window as unknown as { __desktopCalls: Array<[string, unknown]> }).__desktopCalls);
    expect(calls.find(([command]) => command === "open_projector")).toEqual(["open_projector", { monitor: 1 }]);
    // The hub connection is asked for once, whatever the number of requests.
    expect(calls.filter(([command]) => command === "hub_connection")).toHaveLength(1);
    await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
  });

  it("tells the facilitator when the app restarted its hub, until dismissed", async () => {
    expect(await page.getByTestId("restart-banner").count()).toBe(0);
    await page.evaluate(() => {
      (window as unknown as { __hubRestarts: unknown[] }).__hubRestarts.push({
        failedAtMs: Date.now(),
        reason: "injected fault: the engine task panics",
        restarted: true,
        sessionResumed: true,
        notRestartedBecause: null,
      });
    });
    const banner = page.getByTestId("restart-banner");
    await banner.filter({ hasText: "was restarted; the session resumed" }).waitFor();
    expect(await banner.textContent()).toContain("Reason: injected fault: the engine task panics");
    await banner.getByRole("button", { name: "Dismiss" }).click();
    await banner.waitFor({ state: "detached" });
  });
});
