// The facilitator's flow against a real hub: enter the token, start a manual session, watch
// simulated participants appear and the group's figures move, advance the phases, end the
// session and see its summary. Leaves docs/ui/console.png (the room alive) behind.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { unlabelledControls } from "./a11y";
import { docsUiDir, hubRequest, launchBrowser, startHub, startSim, type Hub, type Sim } from "./harness";

const PARTICIPANTS = 8;

describe("facilitator console", () => {
  let hub: Hub;
  let sim: Sim | null = null;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    hub = await startHub({ roomCode: "4821" });
    // Short phases, so advancing and the chart have something to show quickly.
    await hubRequest(hub, "PUT", "/api/schedule", { mode: "manual", slotMinutes: 15, phases: { preparation: 60, active: 600, integration: 120 } });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      // HTTP errors the test provokes (a wrong token, no session yet) are logged as "Failed to
      // load resource"; anything else (a script error, a CSP violation) is a fault.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await sim?.stop();
    await browser?.close();
    await hub?.stop();
  });

  it("asks for the admin token, refuses a wrong one, and opens with the right one", async () => {
    await page.goto(hub.pageUrl + "/");
    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Open the console" }).click();
    await page.getByText("The hub did not accept that token").waitFor();
    await page.getByLabel("Admin token").fill(hub.token);
    await page.getByRole("button", { name: "Open the console" }).click();
    await page.getByTestId("room-code").waitFor();
    expect(await page.getByTestId("room-code").textContent()).toBe("4821");
    expect(await page.getByTestId("join-url").textContent()).toContain("/join?room=4821");
    await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
    // The token lives in this tab's sessionStorage: a reload does not ask again.
    await page.reload();
    await page.getByTestId("room-code").waitFor();
  });

  it("starts a session, shows the participants and the group's figures live", async () => {
    await page.getByRole("button", { name: "Start session" }).click();
    await page.getByTestId("session-phase").filter({ hasText: "Preparation" }).waitFor();
    sim = startSim(hub, PARTICIPANTS);
    await page.waitForFunction(
      (count) => document.querySelectorAll('[data-testid="participants"] tbody tr').length >= count,
      PARTICIPANTS,
      { timeout: 30_000 },
    );
    // The sim sends 90 s of earlier beats on joining, so scores arrive at once.
    await page.waitForFunction(() => /\d/.test(document.querySelector('[data-testid="group-average"]')?.textContent ?? ""), null, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll(".spark polyline").length > 0, null, { timeout: 30_000 });
  });

  it("advances through the phases", async () => {
    await page.getByRole("button", { name: "Next phase" }).click();
    await page.getByTestId("session-phase").filter({ hasText: "Active" }).waitFor();
    // Let the chart gather a few seconds of the active phase, then keep a picture of it.
    await page.waitForTimeout(8_000);
    await mkdir(docsUiDir, { recursive: true });
    await page.screenshot({ path: join(docsUiDir, "console.png"), fullPage: true });
    await page.getByRole("button", { name: "Next phase" }).click();
    await page.getByTestId("session-phase").filter({ hasText: "Integration" }).waitFor();
  });

  it("sets the room's breathing pacer", async () => {
    await page.getByText("Breathing pacer").click();
    await page.getByLabel("Breaths per minute").fill("5.5");
    await page.getByLabel("In-breath share, %").fill("45");
    await page.getByRole("button", { name: "Set pacer" }).click();
    await page.locator("summary").filter({ hasText: "5.5 / min, in 45%" }).waitFor();
  });

  it("says calmly that straps are not available on a hub without Bluetooth", async () => {
    await page.locator("summary").filter({ hasText: "Chest straps" }).filter({ hasText: "not available" }).waitFor();
    await page.getByText("Chest straps").click();
    await page.getByText("Phones and browsers still work.").waitFor();
  });

  it("ends the session after asking once more, and shows its summary and history", async () => {
    await page.getByRole("button", { name: "End session" }).click();
    await page.getByRole("button", { name: "Yes, end now" }).click();
    await page.getByTestId("session-summary").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("session-summary").textContent()).toMatch(/People\s*\d+/);
    await page.getByTestId("session-phase").filter({ hasText: "No session running" }).waitFor();
    await page.getByText("Past sessions").click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history"] tbody tr').length >= 1, null, { timeout: 35_000 });
  });

  it("sets the central database, runs a sync and shows its failure as the hub reports it", async () => {
    await page.getByText("Central sync").click();
    // Nothing listens on port 1: the run fails at once, with the hub's own message.
    await page.getByLabel(/Central database/).fill("postgres://nobody@127.0.0.1:1/none");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    // The hub may try at once in the background; either way the database is now set.
    await page.getByTestId("sync-state").filter({ hasText: /set, not run yet|the last run failed/ }).waitFor({ timeout: 10_000 });
    await page.getByText("To postgres://nobody@127.0.0.1").waitFor();
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByTestId("sync-state").filter({ hasText: "the last run failed" }).waitFor({ timeout: 15_000 });
    await page.getByText(/^Last error: central database/).waitFor();
    await page.getByRole("button", { name: "Turn sync off" }).click();
    await page.getByTestId("sync-state").filter({ hasText: "no central database set" }).waitFor({ timeout: 10_000 });
  });

  it("downloads the research export with the token", async () => {
    await page.getByText("Research export").click();
    await page.getByLabel("Format").selectOption("csv");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.(csv|zip)$/);
    await page.getByText(/^Saved .+\(/).waitFor();
  });

  it("shows an error from the hub plainly", async () => {
    // An impossible schedule (phases longer than the slot) is refused by the hub with a message.
    await page.getByText("Schedule", { exact: true }).click();
    await page.getByLabel("Slot length, min").fill("1");
    await page.getByLabel("Active, min").fill("30");
    await page.getByRole("button", { name: "Save schedule" }).click();
    const problem = page.locator(".problem").filter({ hasText: /slot/i });
    await problem.waitFor();
  });

  it("labels every control, with every panel open", async () => {
    // Open the first closed panel until none is left: each click changes which panels match,
    // so a list taken up front would point at the wrong ones (and nested panels appear only
    // once their parent is open).
    const closed = page.locator("details:not([open]) > summary");
    for (let opened = 0; (await closed.count()) > 0; opened += 1) {
      expect(opened, "every panel opens when its summary is clicked").toBeLessThan(50);
      await closed.first().click();
    }
    expect(await unlabelledControls(page)).toEqual([]);
    await page.screenshot({ path: join(docsUiDir, "console-panels.png"), fullPage: true });
  });

  it("raised no script errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
