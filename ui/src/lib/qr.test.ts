import { describe, expect, it } from "vitest";
import { QUIET_ZONE, qrPath } from "./qr";

describe("qrPath", () => {
  it("draws a version-3 code with its quiet zone for a typical join URL", () => {
    const { size, d } = qrPath("http://192.168.1.20:8080/join?room=4821");
    // 40 bytes at level M need version 3: 29 modules, plus the quiet zone.
    expect(size).toBe(29 + 2 * QUIET_ZONE);
    // The top-left finder pattern starts at the quiet zone's corner.
    expect(d.startsWith(`M${QUIET_ZONE} ${QUIET_ZONE}h1v1h-1z`)).toBe(true);
  });

  it("is the same for the same text", () => {
    expect(qrPath("http://x/join?room=1")).toEqual(qrPath("http://x/join?room=1"));
    expect(qrPath("http://x/join?room=1").d).not.toBe(qrPath("http://x/join?room=2").d);
  });
});
