import { describe, expect, it } from "vitest";
import { ClockOffset, breathPhase, breathState } from "./pacer";

const sixPerMinute = { breathsPerMin: 6, inhaleRatio: 0.4, epochHubTime: 1_000_000 };

describe("breathPhase", () => {
  it("is 0 at the epoch", () => {
    expect(breathPhase(sixPerMinute, 1_000_000)).toBe(0);
  });

  it("goes round once per breath (10 s at 6 breaths/min)", () => {
    expect(breathPhase(sixPerMinute, 1_000_000 + 2_500)).toBeCloseTo(0.25);
    expect(breathPhase(sixPerMinute, 1_000_000 + 10_000)).toBeCloseTo(0);
    expect(breathPhase(sixPerMinute, 1_000_000 + 37_500)).toBeCloseTo(0.75);
  });

  it("stays in [0, 1) before the epoch", () => {
    const phase = breathPhase(sixPerMinute, 1_000_000 - 2_500);
    expect(phase).toBeCloseTo(0.75);
    expect(breathPhase(sixPerMinute, 1_000_000 - 1e-9)).toBeLessThan(1);
  });
});

describe("breathState", () => {
  it("inhales for the first inhaleRatio of the breath, then exhales", () => {
    expect(breathState(sixPerMinute, 1_000_000 + 3_999).inhaling).toBe(true);
    expect(breathState(sixPerMinute, 1_000_000 + 4_000).inhaling).toBe(false);
  });

  it("is empty at the start of the in-breath and full at its end", () => {
    expect(breathState(sixPerMinute, 1_000_000).fullness).toBeCloseTo(0);
    expect(breathState(sixPerMinute, 1_000_000 + 2_000).fullness).toBeCloseTo(0.5);
    expect(breathState(sixPerMinute, 1_000_000 + 4_000).fullness).toBeCloseTo(1);
    expect(breathState(sixPerMinute, 1_000_000 + 7_000).fullness).toBeCloseTo(0.5);
  });
});

describe("ClockOffset", () => {
  it("is 0 and unknown before any answer", () => {
    const clock = new ClockOffset();
    expect(clock.known).toBe(false);
    expect(clock.hubNow(5_000)).toBe(5_000);
  });

  it("takes half the round trip as the one-way delay", () => {
    const clock = new ClockOffset();
    // Sent at 1000 (local), hub stamped 1500 (hub), answer back at 1100 (local): rtt 100, so the
    // hub stamped at local 1050 and is 450 ms ahead.
    expect(clock.add({ clientTime: 1_000, hubTime: 1_500, receivedAt: 1_100 })).toBe(450);
    expect(clock.hubNow(2_000)).toBe(2_450);
  });

  it("keeps the answer with the smallest round trip", () => {
    const clock = new ClockOffset();
    clock.add({ clientTime: 0, hubTime: 400, receivedAt: 20 }); // rtt 20 -> offset 390
    clock.add({ clientTime: 100, hubTime: 900, receivedAt: 700 }); // rtt 600 -> offset 500, slower
    expect(clock.offsetMs).toBe(390);
    clock.add({ clientTime: 1_000, hubTime: 1_395, receivedAt: 1_010 }); // rtt 10 -> offset 390
    expect(clock.offsetMs).toBe(390);
  });

  it("forgets on reset", () => {
    const clock = new ClockOffset();
    clock.add({ clientTime: 0, hubTime: 400, receivedAt: 20 });
    clock.reset();
    expect(clock.known).toBe(false);
  });
});
