import { describe, expect, it } from "vitest";
import { HubApi, exportFileName } from "./api";
import { HttpBackend, TOKEN_KEY } from "./http";
import { HubError } from "../lib/api-error";

function storageWithToken(token: string | null) {
  const data = new Map<string, string>(token === null ? [] : [[TOKEN_KEY, token]]);
  return {
    data,
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, value),
    removeItem: (key: string) => void data.delete(key),
  };
}

/** Answers every request with `status` and `body`, recording what was asked. */
function hubAnswering(status: number, body: string, seen: Request[]): typeof fetch {
  return async (input, init) => {
    seen.push(new Request(new URL(String(input), "http://hub.test"), init));
    return new Response(body === "" ? null : body, { status, headers: { "Content-Type": "application/json" } });
  };
}

describe("HubApi", () => {
  it("sends the admin token as a bearer token and JSON bodies", async () => {
    const seen: Request[] = [];
    const api = new HubApi(new HttpBackend(storageWithToken("t0k")), hubAnswering(200, '{"breathsPerMin":5,"inhaleRatio":0.4,"epochHubTime":1}', seen));
    const pacer = await api.putPacer({ breathsPerMin: 5 });
    expect(pacer.breathsPerMin).toBe(5);
    expect(seen[0]!.method).toBe("PUT");
    expect(new URL(seen[0]!.url).pathname).toBe("/api/pacer");
    expect(seen[0]!.headers.get("Authorization")).toBe("Bearer t0k");
    expect(await seen[0]!.json()).toEqual({ breathsPerMin: 5 });
  });

  it("turns an error body into a HubError and forgets a refused token", async () => {
    const storage = storageWithToken("old");
    const api = new HubApi(new HttpBackend(storage), hubAnswering(401, '{"error":{"code":"unauthorized","message":"bad token"}}', []));
    const failure = await api.hub().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HubError);
    expect((failure as HubError).code).toBe("unauthorized");
    expect(storage.data.has(TOKEN_KEY)).toBe(false);
  });

  it("reads a 503 from /health as the hub's reasons, not as a failure", async () => {
    const body = '{"status":"unavailable","timestamp":1,"problems":[{"code":"store_cannot_write","message":"the store cannot write (disk full)","advice":"free space"}]}';
    const api = new HubApi(new HttpBackend(storageWithToken("t")), hubAnswering(503, body, []));
    const health = await api.health();
    expect(health.status).toBe("unavailable");
    expect(health.problems?.[0]?.code).toBe("store_cannot_write");
  });

  it("reads a healthy hub as no problems", async () => {
    const api = new HubApi(new HttpBackend(storageWithToken("t")), hubAnswering(200, '{"status":"ok","timestamp":1}', []));
    expect((await api.health()).problems ?? []).toEqual([]);
  });

  it("reads 'no current session' as null, not as an error", async () => {
    const api = new HubApi(new HttpBackend(storageWithToken("t")), hubAnswering(404, '{"error":"No active session found"}', []));
    expect(await api.currentSession()).toBeNull();
  });

  it("says plainly when the hub cannot be reached", async () => {
    const api = new HubApi(new HttpBackend(storageWithToken("t")), async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.participants()).rejects.toMatchObject({ code: "network", status: 0 });
  });

  it("asks for the export range and format in the query", async () => {
    const seen: Request[] = [];
    const api = new HubApi(new HttpBackend(storageWithToken("t")), async (input, init) => {
      seen.push(new Request(new URL(String(input), "http://hub.test"), init));
      return new Response("a,b\n", { status: 200, headers: { "Content-Disposition": 'attachment; filename="research.csv.zip"' } });
    });
    const file = await api.researchExport(1_000, 2_000, "csv");
    expect(new URL(seen[0]!.url).search).toBe("?start=1000&end=2000&format=csv");
    expect(file.fileName).toBe("research.csv.zip");
    expect(await file.blob.text()).toBe("a,b\n");
  });
});

describe("exportFileName", () => {
  it("takes the hub's name, or makes one from the range", () => {
    expect(exportFileName("attachment; filename*=UTF-8''s%C3%A9ance.json", 0, 0, "json")).toBe("séance.json");
    expect(exportFileName(null, Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 26), "parquet")).toBe(
      "synchub-research-2026-11-01-to-2026-11-26.parquet",
    );
  });
});
