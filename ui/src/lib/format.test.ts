import { describe, expect, it } from "vitest";
import {
  coherenceBand,
  formatBytes,
  formatCount,
  formatDuration,
  formatIndex,
  formatPercent,
  formatScore,
  intentionLabel,
  phaseLabel,
  qualityLabel,
  sentence,
  sourceLabel,
} from "./format";

describe("formatDuration", () => {
  it.each([
    [0, "0:00"],
    [999, "0:00"],
    [61_000, "1:01"],
    [750_000, "12:30"],
    [3_600_000, "1:00:00"],
    [3_725_000, "1:02:05"],
    [-5_000, "0:00"],
  ])("%d ms reads %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("numbers", () => {
  it("rounds scores and shows a dash when absent", () => {
    expect(formatScore(52.6)).toBe("53");
    expect(formatScore(undefined)).toBe("–");
    expect(formatScore(null)).toBe("–");
    expect(formatScore(Number.NaN)).toBe("–");
  });

  it("formats fractions, indices, bytes and counts", () => {
    expect(formatPercent(0.314)).toBe("31%");
    expect(formatIndex(0.3149)).toBe("0.31");
    expect(formatIndex(undefined)).toBe("–");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(formatCount(1234567)).toBe("1\u2009234\u2009567");
    expect(formatCount(999)).toBe("999");
  });
});

describe("bands", () => {
  it("uses the hub's thresholds", () => {
    expect(coherenceBand(39.9)).toBe("low");
    expect(coherenceBand(40)).toBe("medium");
    expect(coherenceBand(59.99)).toBe("medium");
    expect(coherenceBand(60)).toBe("high");
  });
});

describe("labels", () => {
  it("names phases, intentions, sources and quality plainly", () => {
    expect(phaseLabel("integration")).toBe("Integration");
    expect(phaseLabel(undefined)).toBe("No session");
    expect(intentionLabel("emotional_release")).toBe("Emotional release");
    expect(intentionLabel("new_thing")).toBe("New thing");
    expect(sourceLabel("ble")).toBe("strap");
    expect(sourceLabel("ios")).toBe("phone");
    expect(sourceLabel("web")).toBe("browser");
    expect(qualityLabel("warming_up")).toBe("warming up");
    expect(qualityLabel(undefined)).toBe("score only");
  });
});

describe("sentence", () => {
  it("capitalises and ends a hub message", () => {
    expect(sentence("this hub was started without Bluetooth")).toBe("This hub was started without Bluetooth.");
    expect(sentence("Done!")).toBe("Done!");
    expect(sentence("  ")).toBe("");
  });
});
