// "Your session" on the join page once the session is over: the participant's own report from
// `GET /api/me/report` (their resume token opens it for 24 hours after the session), drawn as
// one small SVG chart — their curve against the room's median, phases shaded — and told in
// plain words. This file is the logic (fetching, geometry, sentences); YourSession.tsx draws it.
import type { ParticipantReportBody } from "../generated/rest.participant_report";
import { formatScore, phaseLabel } from "../lib/format";
import { hubErrorFromResponse, HubError } from "../lib/api-error";

export type ParticipantReport = ParticipantReportBody;
type Change = ParticipantReport["change"];
type WindowKind = NonNullable<Change["baseline"]>["kind"];

/** Fetches the holder's own report. Throws a `HubError` (`unauthorized` once the token has
 *  expired, `network` when the hub cannot be reached). */
export async function fetchYourSession(resumeToken: string, fetchImpl: typeof fetch = fetch): Promise<ParticipantReport> {
  let response: Response;
  try {
    response = await fetchImpl("/api/me/report", {
      headers: { Authorization: `Bearer ${resumeToken}` },
      cache: "no-store",
    });
  } catch (error) {
    throw new HubError("network", `Cannot reach the hub (${String(error)}).`, 0);
  }
  const text = await response.text();
  if (!response.ok) throw hubErrorFromResponse(response.status, text);
  return JSON.parse(text) as ParticipantReport;
}

/** A change smaller than this (in points, either way) reads as "about the same". */
export const STEADY_POINTS = 2;
/** Two of the participant's scores further apart than this are not joined by a line (the live
 *  engine counts a score for 15 s; a longer pause is a gap in their data). */
export const GAP_SECS = 15;

const windowWords: Record<WindowKind, string> = {
  preparation: "the preparation",
  first_two_minutes_of_active: "the first two minutes",
  last_five_minutes_of_active: "the last five minutes",
  whole_active: "the active phase",
  active_after_baseline: "the rest of the active phase",
};

function signed(points: number): string {
  const rounded = Math.round(points);
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

/** How the session went, in a few plain sentences. */
export function changeInWords(report: ParticipantReport): string[] {
  const change = report.change;
  const lines: string[] = [];
  if (!report.hadHeartData) {
    lines.push("The hub received no heart data from you this time, so the chart shows the room's curve only.");
  } else if (change.baseline === null || change.end === null) {
    lines.push("The session was too short to compare its start with its end.");
  } else if (change.yours !== null) {
    const { baseline, end, change: delta } = change.yours;
    const from = `${formatScore(baseline)} during ${windowWords[change.baseline.kind]}`;
    const to = `${formatScore(end)} during ${windowWords[change.end.kind]}`;
    if (Math.abs(delta) < STEADY_POINTS) lines.push(`Your coherence stayed about the same: ${from}, ${to}.`);
    else if (delta > 0) lines.push(`Your coherence rose by ${Math.round(delta)} points, from ${from} to ${to}.`);
    else lines.push(`Your coherence fell by ${Math.round(-delta)} points, from ${from} to ${to}.`);
  } else {
    const missing = {
      too_little_baseline_data: "at the start",
      too_little_end_data: "at the end",
      too_little_data_in_both: "at the start and at the end",
    }[change.yoursMissing ?? "too_little_data_in_both"];
    lines.push(`There were too few of your scores ${missing} to compare the two.`);
  }
  if (change.baseline !== null && change.end !== null) {
    if (change.roomMedianChange !== null) {
      lines.push(
        `Across the room, the middle change of ${change.roomCompared} people was ${signed(change.roomMedianChange)} points.`,
      );
    } else if (change.roomCompared > 0) {
      lines.push("Too few people could be compared to show the room's change without revealing someone's own.");
    }
  }
  return lines;
}

/** The chart's drawing, in SVG user units. */
export interface ChartGeometry {
  width: number;
  height: number;
  plot: { left: number; top: number; right: number; bottom: number };
  phases: Array<{ phase: string; label: string; x: number; width: number }>;
  /** The participant's curve as an SVG path (`M … L …`, one `M` per stretch), or null. */
  yourPath: string | null;
  /** The room's median as an SVG path, or null when it is withheld everywhere. */
  roomPath: string | null;
  yTicks: Array<{ y: number; label: string }>;
  xTicks: Array<{ x: number; label: string }>;
}

export const CHART_WIDTH = 340;
export const CHART_HEIGHT = 190;
const PLOT = { left: 30, top: 22, right: CHART_WIDTH - 8, bottom: CHART_HEIGHT - 22 };

/** Lays out the chart: time on x (the whole session), coherence 0–100 on y. */
export function chartOf(report: ParticipantReport): ChartGeometry {
  const lastPhaseEnd = report.phases.reduce((latest, phase) => Math.max(latest, phase.endSecs), 0);
  const lastPoint = Math.max(
    ...report.roomMedian.map((point) => point.atSecs),
    ...report.yourCurve.map((point) => point.atSecs),
    0,
  );
  const spanSecs = Math.max(lastPhaseEnd, lastPoint, 1);
  const x = (secs: number) => round(PLOT.left + (Math.min(Math.max(secs, 0), spanSecs) / spanSecs) * (PLOT.right - PLOT.left));
  const y = (score: number) => round(PLOT.bottom - (Math.min(Math.max(score, 0), 100) / 100) * (PLOT.bottom - PLOT.top));

  const phases = report.phases
    .filter((phase) => phase.phase !== "complete" && phase.endSecs > phase.startSecs)
    .map((phase) => ({
      phase: phase.phase,
      label: phaseLabel(phase.phase),
      x: x(phase.startSecs),
      width: round(x(phase.endSecs) - x(phase.startSecs)),
    }));

  const yourPath = pathOf(
    report.yourCurve.map((point) => ({ secs: point.atSecs, value: point.coherence })),
    GAP_SECS,
    x,
    y,
  );
  const gridStep = report.roomMedian.length > 1 ? report.roomMedian[1]!.atSecs - report.roomMedian[0]!.atSecs : 5;
  const roomPath = pathOf(
    report.roomMedian.map((point) => ({ secs: point.atSecs, value: point.median })),
    gridStep * 1.5,
    x,
    y,
  );

  const yTicks = [0, 40, 60, 100].map((score) => ({ y: y(score), label: String(score) }));
  const stepMinutes = niceMinutes(spanSecs / 60);
  const xTicks: ChartGeometry["xTicks"] = [];
  for (let minutes = 0; minutes * 60 <= spanSecs + 1e-9; minutes += stepMinutes) {
    xTicks.push({ x: x(minutes * 60), label: `${minutes} min` });
  }
  return { width: CHART_WIDTH, height: CHART_HEIGHT, plot: PLOT, phases, yourPath, roomPath, yTicks, xTicks };
}

/** One line through the points, broken wherever a value is missing or two points are more
 *  than `maxStepSecs` apart. A stretch of one point is drawn as a tiny dash so it shows. */
export function pathOf(
  points: Array<{ secs: number; value: number | null }>,
  maxStepSecs: number,
  x: (secs: number) => number,
  y: (value: number) => number,
): string | null {
  const parts: string[] = [];
  let previous: { secs: number } | null = null;
  let stretch: string[] = [];
  const flush = () => {
    if (stretch.length === 1) stretch.push(`h1`);
    parts.push(...stretch);
    stretch = [];
  };
  for (const point of points) {
    if (point.value === null || !Number.isFinite(point.value)) {
      flush();
      previous = null;
      continue;
    }
    const joined = previous !== null && point.secs - previous.secs <= maxStepSecs;
    if (!joined) flush();
    stretch.push(`${joined ? "L" : "M"}${x(point.secs)} ${y(point.value)}`);
    previous = point;
  }
  flush();
  return parts.length === 0 ? null : parts.join(" ");
}

/** A tick step in whole minutes giving at most about five ticks. */
function niceMinutes(totalMinutes: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60]) if (totalMinutes / step <= 5) return step;
  return 120;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A one-sentence description of the chart for screen readers. */
export function chartDescription(report: ParticipantReport): string {
  const minutes = Math.max(1, Math.round((report.phases.at(-1)?.endSecs ?? 0) / 60));
  const medians = report.roomMedian.flatMap((point) => (point.median === null ? [] : [point.median]));
  const room =
    medians.length === 0
      ? "The room's median is not shown: too few people had scores at the same time."
      : `The room's median ranged from ${formatScore(Math.min(...medians))} to ${formatScore(Math.max(...medians))}.`;
  if (!report.hadHeartData) return `Coherence over the ${minutes}-minute session. ${room}`;
  const own = report.yourCurve.map((point) => point.coherence);
  return `Coherence over the ${minutes}-minute session. Yours ranged from ${formatScore(Math.min(...own))} to ${formatScore(Math.max(...own))}. ${room}`;
}
