import { describe, expect, it } from "vitest";
import { SPARK_POINTS, applyComplete, applyGroupMetrics, applySnapshot, emptyRoom, phaseTimeLeft, type LiveGroupMetrics } from "./room-state";

function metrics(sessionId: string, timestamp: number, average: number, synchronyIndex?: number): LiveGroupMetrics {
  return {
    sessionId,
    timestamp,
    participantCount: 3,
    averageCoherence: average,
    peakCoherence: average,
    coherencePhase: "low",
    coherenceDistribution: { low: 3, medium: 0, high: 0 },
    medianCoherence: average - 1,
    stdCoherence: 2,
    activeCount: 3,
    synchronyIndex,
  };
}

describe("group history", () => {
  it("appends one point per new timestamp, in seconds", () => {
    let room = emptyRoom();
    room = applyGroupMetrics(room, metrics("s1", 1_000, 30));
    room = applyGroupMetrics(room, metrics("s1", 2_000, 35, 0.4));
    room = applyGroupMetrics(room, metrics("s1", 2_000, 99)); // repeated tick: ignored
    expect(room.history.times).toEqual([1, 2]);
    expect(room.history.average).toEqual([30, 35]);
    expect(room.history.median).toEqual([29, 34]);
    expect(room.history.synchrony).toEqual([null, 0.4]);
    expect(room.metrics?.averageCoherence).toBe(99);
  });

  it("leaves a gap while nobody is active", () => {
    let room = applyGroupMetrics(emptyRoom(), { ...metrics("s1", 1_000, 0), activeCount: 0 });
    room = applyGroupMetrics(room, metrics("s1", 2_000, 45));
    expect(room.history.average).toEqual([null, 45]);
  });

  it("starts over when a new session begins", () => {
    let room = applyGroupMetrics(emptyRoom(), metrics("s1", 1_000, 30));
    room = applyComplete(room, { sessionId: "s1", summary: { startedAt: 0, endedAt: 1, duration: 1, participantCount: 1, averageCoherence: 1, peakCoherence: 1, timeInPhase: { low: 0, medium: 0, high: 0 } } });
    room = applyGroupMetrics(room, metrics("s2", 5_000, 50));
    expect(room.history.times).toEqual([5]);
    expect(room.completed).toBeNull();
    expect(room.sessionId).toBe("s2");
  });
});

describe("sparklines", () => {
  it("keep the recent scores per slot, skipping warm-up", () => {
    let room = emptyRoom();
    const snapshot = (coherence: number, quality: "good" | "warming_up") => ({
      timestamp: 0,
      phase: "active" as const,
      phaseTimeLeft: 0,
      sessionTimeLeft: 0,
      participants: [{ slot: 2, coherence, phase: "low" as const, quality }],
    });
    room = applySnapshot(room, snapshot(0, "warming_up"));
    room = applySnapshot(room, snapshot(41, "good"));
    room = applySnapshot(room, snapshot(43, "good"));
    expect(room.sparks.get(2)).toEqual([41, 43]);
    for (let i = 0; i < SPARK_POINTS + 10; i++) room = applySnapshot(room, snapshot(i, "good"));
    expect(room.sparks.get(2)).toHaveLength(SPARK_POINTS);
  });
});

describe("phaseTimeLeft", () => {
  it("counts down from the snapshot's figure on the local clock, for its session only", () => {
    const room = applySnapshot(
      emptyRoom(),
      { timestamp: 0, sessionId: "s1", phase: "active", phaseTimeLeft: 60_000, sessionTimeLeft: 90_000, participants: [] },
      1_000,
    );
    expect(phaseTimeLeft(room, "s1", 1_000)).toBe(60_000);
    expect(phaseTimeLeft(room, "s1", 11_000)).toBe(50_000);
    expect(phaseTimeLeft(room, "s1", 100_000)).toBe(0);
    expect(phaseTimeLeft(room, "s2", 1_000)).toBeNull();
  });
});
