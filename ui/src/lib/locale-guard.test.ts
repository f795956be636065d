import { describe, expect, it } from "vitest";
import { usableLanguage } from "./locale-guard";

describe("usableLanguage", () => {
  it("keeps a valid language tag", () => {
    expect(usableLanguage("de-CH")).toBe("de-CH");
  });
  it("replaces the POSIX locale some webviews report, which Intl refuses", () => {
    expect(() => new Intl.NumberFormat("c")).toThrow();
    expect(usableLanguage("c")).toBe("en-US");
  });
  it("falls back when there is no language at all", () => {
    expect(usableLanguage(undefined)).toBe("en-US");
    expect(usableLanguage("")).toBe("en-US");
  });
});
