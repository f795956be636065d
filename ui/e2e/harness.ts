// What the end-to-end tests run against: a real `synchub serve` on loopback with a fresh data
// folder, simulated participants from `synchub-sim`, and Debian's Chromium driven by
// playwright-core. Binaries come from SYNCHUB_BIN / SYNCHUB_SIM_BIN (default: the lead's release
// build). The hub serves ui/dist itself (SYNCHUB_UI_DIR); a hub too old to do that gets a
// `vite preview` in front of it, proxying the API and Socket.IO.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium, type Browser } from "playwright-core";
import { preview, type PreviewServer } from "vite";

export const uiDir = resolve(import.meta.dirname, "..");
// Where the screenshots go: docs/ui by default (they are committed and shown in the README);
// scripts/test sends them to a scratch folder so a test run leaves the working tree alone.
export const docsUiDir = process.env.UI_SCREENSHOT_DIR ?? resolve(uiDir, "..", "docs", "ui");
const targetDir = join(homedir(), ".cache", "synchub-target", "release");
export const hubBin = process.env.SYNCHUB_BIN ?? join(targetDir, "synchub");
export const simBin = process.env.SYNCHUB_SIM_BIN ?? join(targetDir, "synchub-sim");
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Hub {
  /** Where the pages are (the hub itself, or the preview in front of it). */
  pageUrl: string;
  /** The hub's own address. */
  hubUrl: string;
  token: string;
  roomCode: string | null;
  output: string[];
  stop(): Promise<void>;
}

function lines(child: ChildProcess, sink: string[]): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => sink.push(line));
  }
}

async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `synchub serve` with a manual schedule and, unless `roomCode` is null, a room code. */
export async function startHub(options: { roomCode: string | null }): Promise<Hub> {
  if (!existsSync(hubBin)) throw new Error(`no hub binary at ${hubBin}; build it or set SYNCHUB_BIN`);
  if (!existsSync(join(uiDir, "dist", "index.html"))) throw new Error("ui/dist is missing: run `npm run build` first");
  const dataDir = await mkdtemp(join(tmpdir(), "synchub-ui-e2e-"));
  const args = ["serve", "--no-mdns", "--bind", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--schedule", "manual"];
  args.push(...(options.roomCode === null ? ["--no-room-code"] : ["--room-code", options.roomCode]));
  const output: string[] = [];
  const child = spawn(hubBin, args, {
    env: { ...process.env, SYNCHUB_UI_DIR: join(uiDir, "dist"), RUST_LOG: process.env.RUST_LOG ?? "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  lines(child, output);
  let server: PreviewServer | null = null;
  const stop = async () => {
    await server?.close();
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const hubUrl = await waitFor(
      "the hub to say it is ready",
      () => {
        if (child.exitCode !== null) throw new Error(`the hub exited:\n${output.join("\n")}`);
        return output.map((line) => line.match(/synchub ready on (http:\/\/\S+)/)?.[1]).find(Boolean);
      },
      20_000,
    );
    const tokenPath = await waitFor("the admin token's path", () => output.map((line) => line.match(/admin token: (\S+)/)?.[1]).find(Boolean), 5_000);
    const token = (await readFile(tokenPath, "utf8")).trim();
    let pageUrl = hubUrl;
    const index = await fetch(`${hubUrl}/`).then((response) => response.text());
    if (!index.includes('<div id="app">')) {
      // An older hub: serve dist/ ourselves, in front of it.
      server = await preview({
        root: uiDir,
        logLevel: "warn",
        preview: {
          host: "127.0.0.1",
          port: 0,
          strictPort: false,
          proxy: { "/api": hubUrl, "/health": hubUrl, "/socket.io": { target: hubUrl, ws: true } },
        },
      });
      const address = server.httpServer.address();
      if (address === null || typeof address === "string") throw new Error("vite preview has no port");
      pageUrl = `http://127.0.0.1:${address.port}`;
    }
    return { pageUrl, hubUrl, token, roomCode: options.roomCode, output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A facilitator call to the hub. */
export async function hubRequest<T>(hub: Hub, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(hub.hubUrl + path, {
    method,
    headers: { Authorization: `Bearer ${hub.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

export interface Sim {
  output: string[];
  stop(): Promise<void>;
}

/** `synchub-sim run`: `participants` simulated people streaming beats to the hub. */
export function startSim(hub: Hub, participants: number): Sim {
  if (!existsSync(simBin)) throw new Error(`no simulator binary at ${simBin}; build it or set SYNCHUB_SIM_BIN`);
  const args = ["run", "--hub", hub.hubUrl, "--participants", String(participants), "--ramp-per-sec", "20", "--backfill-secs", "90", "--transport", "mixed"];
  if (hub.roomCode !== null) args.push("--room-code", hub.roomCode);
  const output: string[] = [];
  const child = spawn(simBin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
  lines(child, output);
  return { output, stop: () => stopChild(child) };
}

/** Debian's Chromium, headless, with the flags this closed network needs. */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export { waitFor };
