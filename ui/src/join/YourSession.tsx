// "Your session": the participant's own curve against the room's median, phases shaded, and
// the change in plain words, shown on the join page once the session is over. Works at phone
// width (the SVG scales to the column) and reads out as text: the chart has a title and a
// description, and every number it shows is also in the sentences below it.
import { useEffect, useState } from "preact/hooks";
import { formatDateTime } from "../lib/format";
import { changeInWords, chartDescription, chartOf, fetchYourSession, type ParticipantReport } from "./your-session";

type Loading = { status: "loading" } | { status: "ready"; report: ParticipantReport } | { status: "failed"; message: string };

/** Fetches and shows the holder's own report. */
export function YourSession(props: { resumeToken: string }) {
  const [loading, setLoading] = useState<Loading>({ status: "loading" });
  useEffect(() => {
    let current = true;
    setLoading({ status: "loading" });
    fetchYourSession(props.resumeToken).then(
      (report) => current && setLoading({ status: "ready", report }),
      (error: Error) => current && setLoading({ status: "failed", message: error.message }),
    );
    return () => {
      current = false;
    };
  }, [props.resumeToken]);

  return (
    <section class="your-session" aria-labelledby="your-session-title" aria-busy={loading.status === "loading"}>
      <h2 id="your-session-title">Your session</h2>
      {loading.status === "loading" && <p class="muted">Drawing your session…</p>}
      {loading.status === "failed" && (
        <p class="muted" role="status">
          Your session's curve is not available: {loading.message}
        </p>
      )}
      {loading.status === "ready" && <YourSessionView report={loading.report} />}
    </section>
  );
}

/** The report, drawn. */
export function YourSessionView(props: { report: ParticipantReport }) {
  const { report } = props;
  const chart = chartOf(report);
  const { plot } = chart;
  return (
    <div class="your-session-view" data-testid="your-session">
      <figure class="your-chart">
        <svg
          viewBox={`0 0 ${chart.width} ${chart.height}`}
          role="img"
          aria-labelledby="your-chart-title your-chart-desc"
          data-testid="your-chart"
        >
          <title id="your-chart-title">{report.hadHeartData ? "Your coherence and the room's median" : "The room's median coherence"}</title>
          <desc id="your-chart-desc">{chartDescription(report)}</desc>
          {chart.phases.map((phase, index) => (
            <g key={`${phase.phase}-${index}`} class={`chart-phase chart-phase-${phase.phase}`}>
              <rect x={phase.x} y={plot.top} width={phase.width} height={plot.bottom - plot.top} />
              {phase.width > 40 && (
                <text x={phase.x + 3} y={plot.top - 6} class="chart-phase-label">
                  {phase.label}
                </text>
              )}
            </g>
          ))}
          {chart.yTicks.map((tick) => (
            <g key={tick.label} class="chart-grid">
              <line x1={plot.left} x2={plot.right} y1={tick.y} y2={tick.y} />
              <text x={plot.left - 4} y={tick.y + 3} text-anchor="end">
                {tick.label}
              </text>
            </g>
          ))}
          {chart.xTicks.map((tick) => (
            <text key={tick.label} x={tick.x} y={chart.height - 6} text-anchor="middle" class="chart-axis">
              {tick.label}
            </text>
          ))}
          {chart.roomPath && <path d={chart.roomPath} class="chart-room" data-testid="room-line" />}
          {chart.yourPath && <path d={chart.yourPath} class="chart-yours" data-testid="your-line" />}
        </svg>
        <figcaption class="chart-legend">
          {report.hadHeartData && (
            <span>
              <span class="key key-yours" aria-hidden="true" /> You
            </span>
          )}
          <span>
            <span class="key key-room" aria-hidden="true" /> The room (median)
          </span>
        </figcaption>
      </figure>
      <div class="your-change" data-testid="your-change">
        {changeInWords(report).map((line) => (
          <p key={line}>{line}</p>
        ))}
      </div>
      {report.availableUntil !== null && (
        <p class="faint small">This page can show your session until {formatDateTime(report.availableUntil)}.</p>
      )}
    </div>
  );
}
