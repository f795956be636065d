// The hub's HTTP API, typed with the generated wire types. Every call goes through
// [`HubApi.request`], which adds the admin token, and turns any failure into a `HubError`
// with the hub's stable code — so each screen shows errors the same plain way.
import type { Backend } from "./backend";
import { HubError, hubErrorFromNetwork, hubErrorFromResponse } from "../lib/api-error";
import type { Health } from "../generated/rest.health";
import type { HubInfo } from "../generated/rest.hub_info";
import type { Schedule } from "../generated/rest.schedule";
import type { SessionInfo } from "../generated/rest.session_info";
import type { SessionCommandBody } from "../generated/rest.session_command";
import type { ArrayOf_SessionInfo as SessionList } from "../generated/rest.session_list";
import type { ParticipantList } from "../generated/rest.participant_list";
import type { Pacer } from "../generated/hub.pacer";
import type { PacerRequest } from "../generated/rest.pacer";
import type { AdminTokenBody } from "../generated/rest.admin_token";
import type { StrapAssignRequest } from "../generated/rest.strap_assign";
import type { Strap } from "../generated/rest.strap";
import type { StrapList } from "../generated/rest.strap_list";
import type { RelayCreated } from "../generated/rest.relay_created";
import type { RelayList } from "../generated/rest.relay_list";
import type { SyncSettingsRequest } from "../generated/rest.sync_settings";
import type { SyncStatus } from "../generated/rest.sync_status";

export type ExportFormat = "json" | "csv" | "parquet";
export type ReportFormat = "html" | "json";

type Fetch = typeof fetch;

export class HubApi {
  constructor(
    readonly backend: Backend,
    private readonly fetcher: Fetch = (...args) => fetch(...args),
  ) {}

  /** One request; JSON in and out. Throws `HubError`. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HubError("bad_response", `The hub sent something that is not JSON for ${path}.`, response.status);
    }
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const { baseUrl, adminToken } = await this.backend.connection();
    const headers: Record<string, string> = { Accept: "application/json" };
    if (adminToken !== null) headers.Authorization = `Bearer ${adminToken}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await this.fetcher(baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw hubErrorFromNetwork(error);
    }
    if (!response.ok) {
      const error = hubErrorFromResponse(response.status, await response.text());
      if (error.code === "unauthorized") this.backend.forgetToken();
      throw error;
    }
    return response;
  }

  hub(): Promise<HubInfo> {
    return this.request("GET", "/api/hub");
  }

  /** `GET /health`: answered 200 when all is well and 503 with the reasons when not; both
   * carry a `Health` body, so a 503 is data here, not a failure. */
  async health(): Promise<Health> {
    const { baseUrl } = await this.backend.connection();
    let response: Response;
    try {
      response = await this.fetcher(baseUrl + "/health", { cache: "no-store" });
    } catch (error) {
      throw hubErrorFromNetwork(error);
    }
    const text = await response.text();
    if (response.status !== 200 && response.status !== 503) throw hubErrorFromResponse(response.status, text);
    try {
      return JSON.parse(text) as Health;
    } catch {
      throw new HubError("bad_response", "The hub sent something that is not JSON for /health.", response.status);
    }
  }

  putSchedule(schedule: Schedule): Promise<Schedule> {
    return this.request("PUT", "/api/schedule", schedule);
  }

  currentSession(): Promise<SessionInfo | null> {
    return this.request<SessionInfo>("GET", "/api/sessions/current").catch((error: unknown) => {
      if (error instanceof HubError && error.status === 404) return null;
      throw error;
    });
  }

  sessions(): Promise<SessionList> {
    return this.request("GET", "/api/sessions");
  }

  session(id: string): Promise<SessionInfo> {
    return this.request("GET", `/api/sessions/${encodeURIComponent(id)}`);
  }

  startSession(): Promise<SessionCommandBody> {
    return this.request("POST", "/api/sessions");
  }

  advanceSession(id: string): Promise<SessionCommandBody> {
    return this.request("POST", `/api/sessions/${encodeURIComponent(id)}/advance`);
  }

  endSession(id: string): Promise<SessionCommandBody> {
    return this.request("POST", `/api/sessions/${encodeURIComponent(id)}/end`);
  }

  participants(): Promise<ParticipantList> {
    return this.request("GET", "/api/participants");
  }

  straps(): Promise<StrapList> {
    return this.request("GET", "/api/straps");
  }

  relays(): Promise<RelayList> {
    return this.request("GET", "/api/relays");
  }

  /** Creates a relay's token (201): shown once, with the command to run on the relay. */
  addRelay(name: string): Promise<RelayCreated> {
    return this.request("POST", "/api/relays", { name });
  }

  /** Revokes a relay's token (204, no body); a connected relay is dropped. */
  revokeRelay(name: string): Promise<void> {
    return this.request("DELETE", `/api/relays/${encodeURIComponent(name)}`);
  }

  assignStrap(id: string, assignment: StrapAssignRequest): Promise<Strap> {
    return this.request("POST", `/api/straps/${encodeURIComponent(id)}/assign`, assignment);
  }

  /** Answered with 204 and no body. */
  unassignStrap(id: string): Promise<void> {
    return this.request("DELETE", `/api/straps/${encodeURIComponent(id)}/assign`);
  }

  /** Ends the claim of the participant in `slot` on the strap (204, no body). */
  revokeStrapClaim(id: string, slot: number): Promise<void> {
    return this.request("DELETE", `/api/straps/${encodeURIComponent(id)}/claims/${slot}`);
  }

  /** A new admin token; the current one is refused from now on. This console keeps the new one. */
  async rotateAdminToken(): Promise<AdminTokenBody> {
    const body = await this.request<AdminTokenBody>("POST", "/api/admin-token/rotate");
    this.backend.rememberToken(body.adminToken);
    return body;
  }

  putPacer(settings: PacerRequest): Promise<Pacer> {
    return this.request("PUT", "/api/pacer", settings);
  }

  putSync(settings: SyncSettingsRequest): Promise<SyncStatus> {
    return this.request("PUT", "/api/sync", settings);
  }

  runSync(): Promise<SyncStatus> {
    return this.request("POST", "/api/sync");
  }

  /** A session's report as a file: the page (html) or its JSON twin. */
  async sessionReport(sessionId: string, format: ReportFormat = "html"): Promise<{ blob: Blob; fileName: string }> {
    const response = await this.send("GET", `/api/sessions/${encodeURIComponent(sessionId)}/report?format=${format}`);
    const blob = await response.blob();
    const fallback = `synchub-report-${sessionId.slice(0, 8)}.${format}`;
    const match = response.headers.get("Content-Disposition")?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
    return { blob, fileName: match?.[1] ? decodeURIComponent(match[1]) : fallback };
  }

  /** The research export as a file: fetched with the token (a plain link could not carry it). */
  async researchExport(startMs: number, endMs: number, format: ExportFormat): Promise<{ blob: Blob; fileName: string }> {
    const query = new URLSearchParams({ start: String(startMs), end: String(endMs), format });
    const response = await this.send("GET", `/api/research/export?${query}`);
    const blob = await response.blob();
    return { blob, fileName: exportFileName(response.headers.get("Content-Disposition"), startMs, endMs, format) };
  }
}

/** The file name from `Content-Disposition`, or one made from the range. */
export function exportFileName(disposition: string | null, startMs: number, endMs: number, format: ExportFormat): string {
  const match = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  if (match?.[1]) return decodeURIComponent(match[1]);
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return `synchub-research-${day(startMs)}-to-${day(endMs)}.${format}`;
}
