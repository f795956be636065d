// A participant's flow on a phone-sized screen against a real hub: the code comes from the
// URL, they pick an intention, leave research consent at "no", join (waiting until the
// facilitator starts the session), and see the phase, the
// group's coherence and the breathing pacer moving. Then the Wi-Fi drops (the page's socket is
// cut) and comes back: same participant. A reload rejoins by itself too. When the session
// ends, the page shows "Your session" (the room's curve: this browser had no heart data), and
// again after a reload.
// Leaves docs/ui/join.png and docs/ui/join-your-session.png behind.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { unlabelledControls } from "./a11y";
import { docsUiDir, hubRequest, launchBrowser, startHub, startSim, waitFor, type Hub, type Sim } from "./harness";

/** The participant id the hub gave this page (kept out of sight, on the session's element). */
function participantId(page: Page): Promise<string> {
  return page.locator("[data-participant-id]").evaluate((element) => element.getAttribute("data-participant-id") ?? "");
}

describe("participant join page", () => {
  let hub: Hub;
  let sim: Sim | null = null;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const sockets: WebSocketRoute[] = [];
  const handshakes: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    hub = await startHub({ roomCode: "4821" });
    browser = await launchBrowser();
    context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      // The deliberate drop below makes the socket log its failure; anything else is a fault
      // (a CSP violation shows up here too).
      if (message.type() === "error" && !/WebSocket|Failed to load resource/.test(message.text())) pageErrors.push(message.text());
    });
    // Stand between the page and the hub's Socket.IO, passing everything through, so the test
    // can see each handshake and cut the connection like a Wi-Fi drop would.
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      sockets.push(ws);
      ws.onMessage((message) => {
        if (typeof message === "string" && message.startsWith("40")) handshakes.push(message);
        server.send(message);
      });
      server.onMessage((message) => ws.send(message));
      ws.onClose(() => server.close());
      server.onClose(() => ws.close());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await sim?.stop();
    await hub?.stop();
  });

  it("prefills the room code, joins with an intention and no research consent", async () => {
    await page.goto(`${hub.pageUrl}/join?room=4821`);
    expect(await page.getByLabel("Room code").inputValue()).toBe("4821");
    expect(await page.getByLabel("No, only for today's feedback").isChecked()).toBe(true);
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByText("Emotional release").click();
    await page.getByRole("button", { name: "Join" }).click();
    // Manual schedule, nothing started yet: the page waits, and joins once the session starts.
    await page.getByText("Waiting for the session to start").waitFor({ timeout: 10_000 });
    await hubRequest(hub, "POST", "/api/sessions");
    sim = startSim(hub, 5);
    await page.locator('[data-participant-id]:not([data-participant-id=""])').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("phase").textContent()).toMatch(/Preparation/);
    expect(await page.getByTestId("phase").textContent()).toMatch(/\d+:\d\d left/);
    // The first handshake carried the room code and no token (none was stored yet).
    expect(handshakes[0]).toContain('"roomCode":"4821"');
    expect(handshakes[0]).not.toContain("resumeToken");
  });

  it("shows the group's coherence and a pacer that moves with the hub's clock", async () => {
    await page.waitForFunction(() => /\d/.test(document.querySelector('[data-testid="group-coherence"]')?.textContent ?? ""), null, { timeout: 30_000 });
    const circle = page.getByTestId("pacer-circle");
    const first = await circle.evaluate((element) => getComputedStyle(element).transform);
    await page.waitForTimeout(1_200);
    const second = await circle.evaluate((element) => getComputedStyle(element).transform);
    expect(first).not.toBe("none");
    expect(second).not.toBe(first);
    await mkdir(docsUiDir, { recursive: true });
    await page.screenshot({ path: join(docsUiDir, "join.png") });
  });

  it("comes back as the same participant after the connection drops", async () => {
    const before = await participantId(page);
    expect(before).not.toBe("");
    const connectionsBefore = sockets.length;
    await sockets[sockets.length - 1]!.close({ code: 4000, reason: "test: Wi-Fi drop" });
    await page.getByText("Connection lost — reconnecting").waitFor({ timeout: 5_000 }).catch(() => {
      // The reconnect can be faster than the check; the handshake below is what matters.
    });
    await waitFor("a new connection", () => (sockets.length > connectionsBefore ? true : undefined), 15_000);
    await page.getByText("Connection lost").waitFor({ state: "detached", timeout: 15_000 });
    expect(handshakes[handshakes.length - 1]).toContain("resumeToken");
    expect(await participantId(page)).toBe(before);
  });

  it("comes back as the same participant after the browser goes offline and online", async () => {
    const before = await participantId(page);
    const connectionsBefore = sockets.length;
    await context.setOffline(true);
    await page.waitForTimeout(3_000);
    await context.setOffline(false);
    await waitFor("a new connection", () => (sockets.length > connectionsBefore ? true : undefined), 20_000);
    await page.getByText("Connection lost").waitFor({ state: "detached", timeout: 15_000 });
    expect(handshakes[handshakes.length - 1]).toContain("resumeToken");
    expect(await participantId(page)).toBe(before);
  });

  it("rejoins by itself after a reload, as the same participant", async () => {
    const before = await participantId(page);
    await page.reload();
    await page.locator(`[data-participant-id="${before}"]`).waitFor({ timeout: 15_000 });
  });

  it("shows 'Your session' when the session ends: the room's curve, as this browser had no heart data", async () => {
    const current = await hubRequest<{ sessionId: string }>(hub, "GET", "/api/sessions/current");
    // Let the simulated room score for a while inside the session, so the room has a curve.
    await page.waitForTimeout(20_000);
    await hubRequest(hub, "POST", `/api/sessions/${current.sessionId}/end`);
    await page.getByRole("heading", { name: "Your session" }).waitFor({ timeout: 15_000 });
    await page.getByTestId("your-session").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("room-line").count()).toBe(1);
    expect(await page.getByTestId("your-line").count()).toBe(0);
    expect(await page.getByTestId("your-change").textContent()).toMatch(/no heart data from you/);
    expect(await page.getByRole("img", { name: "The room's median coherence" }).count()).toBe(1);
    // The chart fits the phone's column: nothing to scroll sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByTestId("your-session").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(docsUiDir, "join-your-session.png"), fullPage: true });
  });

  it("still shows 'Your session' after a reload, on the join form, for the day the report opens", async () => {
    await page.reload();
    await page.getByRole("heading", { name: "Your session" }).waitFor({ timeout: 15_000 });
    await page.getByTestId("your-session").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("room-line").count()).toBe(1);
    expect(await page.getByRole("button", { name: /join/i }).count()).toBeGreaterThan(0);
  });

  it("raised no script errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
