import { describe, expect, it } from "vitest";
import type { ComponentChildren, VNode } from "preact";
import { changeInWords, chartDescription, chartOf, pathOf, type ParticipantReport } from "./your-session";
import { YourSessionView } from "./YourSession";

/** A 10-minute session: preparation 2 min, active 7 min, integration 1 min; the participant's
 *  scores every 5 s, with a pause from 300 s to 360 s; the room's median withheld (too few
 *  people) in the last minute. */
function report(patch: Partial<ParticipantReport> = {}): ParticipantReport {
  const yourCurve = [];
  for (let secs = 0; secs < 600; secs += 5) {
    if (secs > 300 && secs < 360) continue;
    yourCurve.push({ atSecs: secs, coherence: secs < 120 ? 32 : 48 });
  }
  const roomMedian = [];
  for (let secs = 0; secs <= 600; secs += 5) {
    roomMedian.push({ atSecs: secs, counted: secs < 540 ? 5 : 2, median: secs < 540 ? 40 + secs / 60 : null });
  }
  return {
    sessionId: "s1",
    startedAt: 1_780_000_000_000,
    endedAt: 1_780_000_600_000,
    availableUntil: 1_780_086_400_000,
    phases: [
      { phase: "preparation", startSecs: 0, endSecs: 120 },
      { phase: "active", startSecs: 120, endSecs: 540 },
      { phase: "integration", startSecs: 540, endSecs: 600 },
    ],
    hadHeartData: true,
    yourCurve,
    roomMedian,
    minRoomParticipants: 3,
    change: {
      baseline: { kind: "preparation", startSecs: 0, endSecs: 120 },
      end: { kind: "last_five_minutes_of_active", startSecs: 240, endSecs: 540 },
      yours: { baseline: 32, end: 48, change: 16 },
      yoursMissing: null,
      roomMedianChange: 7.4,
      roomCompared: 5,
    },
    ...patch,
  };
}

function withChange(change: Partial<ParticipantReport["change"]>): ParticipantReport {
  const base = report();
  return { ...base, change: { ...base.change, ...change } };
}

describe("changeInWords", () => {
  it("says how much the participant rose, between which windows, and the room's middle change", () => {
    expect(changeInWords(report())).toEqual([
      "Your coherence rose by 16 points, from 32 during the preparation to 48 during the last five minutes.",
      "Across the room, the middle change of 5 people was +7 points.",
    ]);
  });

  it("says fell, and about the same for a change under two points", () => {
    expect(changeInWords(withChange({ yours: { baseline: 50, end: 41.4, change: -8.6 } }))[0]).toBe(
      "Your coherence fell by 9 points, from 50 during the preparation to 41 during the last five minutes.",
    );
    expect(changeInWords(withChange({ yours: { baseline: 50, end: 51.5, change: 1.5 } }))[0]).toBe(
      "Your coherence stayed about the same: 50 during the preparation, 52 during the last five minutes.",
    );
  });

  it("says why the participant was not compared", () => {
    expect(changeInWords(withChange({ yours: null, yoursMissing: "too_little_baseline_data" }))[0]).toBe(
      "There were too few of your scores at the start to compare the two.",
    );
  });

  it("tells a participant without heart data that the chart is the room's", () => {
    const lines = changeInWords(report({ hadHeartData: false, yourCurve: [] }));
    expect(lines[0]).toMatch(/no heart data from you.*room's curve only/);
    expect(lines[1]).toMatch(/middle change of 5 people/);
  });

  it("withholds the room's change when too few were compared, and says a short session has none", () => {
    expect(changeInWords(withChange({ roomMedianChange: null, roomCompared: 2 }))[1]).toMatch(/Too few people/);
    expect(changeInWords(withChange({ baseline: null, end: null, yours: null }))).toEqual([
      "The session was too short to compare its start with its end.",
    ]);
  });
});

describe("chartOf", () => {
  it("shades each phase in proportion to its length across the plot", () => {
    const chart = chartOf(report());
    const plotWidth = chart.plot.right - chart.plot.left;
    expect(chart.phases.map((phase) => phase.label)).toEqual(["Preparation", "Active", "Integration"]);
    expect(chart.phases[0]!.x).toBe(chart.plot.left);
    expect(chart.phases[1]!.width).toBeCloseTo((plotWidth * 420) / 600, 0);
    expect(chart.xTicks.map((tick) => tick.label)).toEqual(["0 min", "2 min", "4 min", "6 min", "8 min", "10 min"]);
  });

  it("breaks the participant's line at a pause and the room's where its median is withheld", () => {
    const chart = chartOf(report());
    expect(chart.yourPath?.match(/M/g)).toHaveLength(2);
    expect(chart.roomPath?.match(/M/g)).toHaveLength(1);
    const lastRoomX = Number(chart.roomPath!.split(" L").at(-1)!.split(" ")[0]);
    expect(lastRoomX).toBeLessThan(chart.plot.right);
  });

  it("draws no line of the participant's without heart data, and none of the room's when withheld everywhere", () => {
    const chart = chartOf(
      report({
        hadHeartData: false,
        yourCurve: [],
        roomMedian: report().roomMedian.map((point) => ({ ...point, median: null })),
      }),
    );
    expect(chart.yourPath).toBeNull();
    expect(chart.roomPath).toBeNull();
    expect(chart.phases).toHaveLength(3);
  });
});

describe("pathOf", () => {
  const identity = (value: number) => value;
  it("joins close points, starts again after a gap or a missing value, and shows a lone point", () => {
    const points = [
      { secs: 0, value: 10 },
      { secs: 5, value: 20 },
      { secs: 40, value: 30 },
      { secs: 45, value: null },
      { secs: 50, value: 40 },
      { secs: 55, value: 50 },
    ];
    expect(pathOf(points, 15, identity, identity)).toBe("M0 10 L5 20 M40 30 h1 M50 40 L55 50");
    expect(pathOf([], 15, identity, identity)).toBeNull();
  });
});

describe("chartDescription", () => {
  it("gives screen readers the ranges the chart shows", () => {
    expect(chartDescription(report())).toBe(
      "Coherence over the 10-minute session. Yours ranged from 32 to 48. The room's median ranged from 40 to 49.",
    );
  });
});

/** Every VNode under `node`, depth first (the view has no hooks, so calling it renders it). */
function nodes(node: ComponentChildren): VNode[] {
  if (node === null || node === undefined || typeof node !== "object") return [];
  if (Array.isArray(node)) return node.flatMap(nodes);
  const vnode = node as VNode<{ children?: ComponentChildren }>;
  return [vnode, ...nodes(vnode.props.children)];
}

function text(node: ComponentChildren): string {
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (node === null || node === undefined || typeof node !== "object") return "";
  if (Array.isArray(node)) return node.map(text).join("");
  return text((node as VNode<{ children?: ComponentChildren }>).props.children);
}

describe("YourSessionView", () => {
  it("draws an accessible chart with both lines, a legend and the change in words", () => {
    const view = YourSessionView({ report: report() });
    const all = nodes(view);
    const svg = all.find((node) => node.type === "svg")!;
    expect(svg.props).toMatchObject({ role: "img", "aria-labelledby": "your-chart-title your-chart-desc" });
    expect(text(all.find((node) => node.type === "title"))).toBe("Your coherence and the room's median");
    expect(text(all.find((node) => node.type === "desc"))).toMatch(/Yours ranged from 32 to 48/);
    const testIds = all.map((node) => (node.props as { "data-testid"?: string })["data-testid"]);
    expect(testIds).toEqual(expect.arrayContaining(["your-line", "room-line", "your-change"]));
    expect(all.filter((node) => node.type === "rect")).toHaveLength(3);
    expect(text(view)).toMatch(/You.*The room \(median\)/);
    expect(text(view)).toMatch(/rose by 16 points/);
    expect(text(view)).toMatch(/can show your session until/);
  });

  it("shows a participant without heart data the room's line only, and says so", () => {
    const view = YourSessionView({ report: report({ hadHeartData: false, yourCurve: [] }) });
    const all = nodes(view);
    const testIds = all.map((node) => (node.props as { "data-testid"?: string })["data-testid"]);
    expect(testIds).toContain("room-line");
    expect(testIds).not.toContain("your-line");
    expect(text(all.find((node) => node.type === "title"))).toBe("The room's median coherence");
    expect(text(view)).not.toMatch(/\bYou\b The room/);
    expect(text(view)).toMatch(/no heart data from you/);
  });
});
