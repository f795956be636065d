// Group coherence over the session, live: uPlot on a canvas (small, fast, no DOM per point).
// Average and median lines over the three bands' backgrounds.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { RoomState } from "./room-state";
import { formatDuration } from "../lib/format";
import { coherenceBands } from "../generated/coherence_bands";

const bandColours = { low: "#e0946a", medium: "#e8cd76", high: "#74d69f" };

/** Shades the low/medium/high bands behind the lines. */
function bandsPlugin(): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (plot) => {
        const { ctx } = plot;
        const { left, width } = plot.bbox;
        const y = (value: number) => plot.valToPos(value, "y", true);
        ctx.save();
        const { mediumMinScore, highMinScore } = coherenceBands;
        for (const [from, to, colour] of [
          [0, mediumMinScore, bandColours.low],
          [mediumMinScore, highMinScore, bandColours.medium],
          [highMinScore, 100, bandColours.high],
        ] as const) {
          ctx.fillStyle = colour + "1a";
          ctx.fillRect(left, y(to), width, y(from) - y(to));
        }
        ctx.restore();
      },
    },
  };
}

/** Seconds since the session began, as uPlot's x values. */
export function elapsedSeconds(times: number[], startedAtMs: number | null): number[] {
  const origin = startedAtMs !== null ? startedAtMs / 1000 : (times[0] ?? 0);
  return times.map((time) => time - origin);
}

export function CoherenceChart(props: { room: RoomState; startedAtMs: number | null }) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const history = props.room.history;

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const axis = { stroke: "#a3adb7", grid: { stroke: "#2a323a", width: 1 }, ticks: { stroke: "#2a323a" }, font: "14px system-ui, sans-serif" };
    const options: uPlot.Options = {
      width: element.clientWidth || 600,
      height: 240,
      legend: { show: false },
      cursor: { show: false },
      plugins: [bandsPlugin()],
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [
        { ...axis, values: (_plot, ticks) => ticks.map((tick) => formatDuration(tick * 1000)), incrs: [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600], space: 60 },
        { ...axis, size: 44, values: (_plot, ticks) => ticks.map((tick) => String(tick)) },
      ],
      series: [
        {},
        { label: "average", stroke: "#6cc7b8", width: 3, points: { show: false } },
        { label: "median", stroke: "#9aa6b2", width: 1.5, dash: [6, 6], points: { show: false } },
      ],
    };
    plot.current = new uPlot(options, [[], [], []], element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: element.clientWidth, height: 240 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([elapsedSeconds(history.times, props.startedAtMs), history.average, history.median] as uPlot.AlignedData);
  }, [props.room.version, history, props.startedAtMs]);

  return (
    <section class="card chart-card" aria-labelledby="chart-heading">
      <div class="chart-head">
        <h2 id="chart-heading">Group coherence this session <span class="faint">(time since the start)</span></h2>
        <span class="legend"><span class="swatch swatch-average" /> average <span class="swatch swatch-median" /> median</span>
      </div>
      <div class="chart" ref={holder} role="img" aria-label="Chart of the group's coherence over this session" />
      {history.times.length === 0 && <p class="faint chart-empty">The line starts when a session runs.</p>}
    </section>
  );
}
