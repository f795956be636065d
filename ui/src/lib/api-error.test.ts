import { describe, expect, it } from "vitest";
import { HubError, errorMessage, hubErrorFromNetwork, hubErrorFromResponse } from "./api-error";

describe("hubErrorFromResponse", () => {
  it("reads the code and message of the new error shape", () => {
    const error = hubErrorFromResponse(409, '{"error":{"code":"conflict","message":"a session is already running"}}');
    expect(error.code).toBe("conflict");
    expect(error.message).toBe("a session is already running");
    expect(error.status).toBe(409);
  });

  it("reads the original string shape of the session endpoints", () => {
    const error = hubErrorFromResponse(404, '{"error":"Session not found"}');
    expect(error.code).toBe("not_found");
    expect(error.message).toBe("Session not found");
  });

  it("falls back to the status when the body is not JSON", () => {
    const error = hubErrorFromResponse(502, "Bad Gateway");
    expect(error.code).toBe("http_502");
    expect(error.message).toBe("The hub answered 502: Bad Gateway");
  });

  it("says only the status for an empty body", () => {
    expect(hubErrorFromResponse(500, "").message).toBe("The hub answered 500.");
  });

  it("does not take a malformed error object for the new shape", () => {
    expect(hubErrorFromResponse(400, '{"error":{"code":7}}').code).toBe("http_400");
  });
});

describe("errorMessage", () => {
  it("asks for the token again on unauthorized", () => {
    expect(errorMessage(new HubError("unauthorized", "missing bearer token", 401))).toMatch(/admin token/);
  });

  it("says when the hub cannot be reached", () => {
    expect(errorMessage(hubErrorFromNetwork(new TypeError("Failed to fetch")))).toBe(
      "Cannot reach the hub (Failed to fetch).",
    );
  });
});
