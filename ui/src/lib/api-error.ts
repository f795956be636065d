// Errors from the hub, in one shape for the UI. The hub answers new endpoints with
// `{error: {code, message}}` and the original session endpoints with `{error: "message"}`;
// the UI switches on `code` (never on `message`) and shows `message` to the facilitator as is.
import type { ApiErrorBody } from "../generated/rest.api_error";

/** An error the UI can show: a stable code to switch on and a sentence for people. */
export class HubError extends Error {
  constructor(
    /** Stable code (`unauthorized`, `conflict`, …), or `network` / `http_<status>` when the
     *  hub did not answer with a JSON error body. */
    readonly code: string,
    message: string,
    /** HTTP status, 0 when the request never got an answer. */
    readonly status: number,
  ) {
    super(message);
    this.name = "HubError";
  }
}

/** Turns a failed response's status and body text into a [`HubError`]. */
export function hubErrorFromResponse(status: number, bodyText: string): HubError {
  let body: unknown = null;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = null;
  }
  if (isApiErrorBody(body)) {
    return new HubError(body.error.code, body.error.message, status);
  }
  if (body !== null && typeof body === "object" && typeof (body as { error?: unknown }).error === "string") {
    const code = status === 404 ? "not_found" : `http_${status}`;
    return new HubError(code, (body as { error: string }).error, status);
  }
  const text = bodyText.trim().slice(0, 200);
  return new HubError(`http_${status}`, text === "" ? `The hub answered ${status}.` : `The hub answered ${status}: ${text}`, status);
}

/** Wraps whatever a failed `fetch` threw (no answer at all). */
export function hubErrorFromNetwork(error: unknown): HubError {
  const detail = error instanceof Error ? error.message : String(error);
  return new HubError("network", `Cannot reach the hub (${detail}).`, 0);
}

/** The plain sentence to show for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof HubError) {
    if (error.code === "unauthorized") return "The admin token was not accepted. Enter it again.";
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

function isApiErrorBody(body: unknown): body is ApiErrorBody {
  if (body === null || typeof body !== "object") return false;
  const inner = (body as { error?: unknown }).error;
  return (
    inner !== null &&
    typeof inner === "object" &&
    typeof (inner as { code?: unknown }).code === "string" &&
    typeof (inner as { message?: unknown }).message === "string"
  );
}
