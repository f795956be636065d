//! The report's charts, each an inline SVG drawn from the report's own figures.

use std::fmt::Write as _;

use super::svg::{Plot, WIDTH, nice_ticks};
use super::{number, percent};
use crate::bands::{HIGH_FROM, MEDIUM_FROM};
use crate::report::{ChangeStats, Report};

/// Minutes since the start, for the x axis.
fn minutes(secs: f64) -> f64 {
    secs / 60.0
}

fn time_plot(report: &Report, height: f64, y_min: f64, y_max: f64) -> Plot {
    Plot {
        width: WIDTH,
        height,
        x_min: 0.0,
        x_max: minutes(report.overview.real_secs).max(1.0),
        y_min,
        y_max,
    }
}

/// Group coherence: IQR band, median, mean, the band thresholds, phases shaded.
pub(super) fn coherence(report: &Report) -> String {
    let mut out = String::new();
    let plot = time_plot(report, 300.0, 0.0, 100.0);
    plot.open(
        &mut out,
        "Group coherence over time",
        "Mean and median coherence score of the participants with a fresh score every 5 seconds, \
         with the inter-quartile range shaded and the phases in the background.",
    );
    plot.phases(&mut out, &report.overview.phases);
    plot.y_ticks(&mut out, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0], |v| {
        number(v, 0)
    });
    plot.reference(&mut out, "threshold", MEDIUM_FROM, "medium");
    plot.reference(&mut out, "threshold", HIGH_FROM, "high");
    let series = &report.coherence.series;
    plot.band(
        &mut out,
        "iqr",
        series.iter().map(|p| (minutes(p.at_secs), p.q1, p.q3)),
    );
    plot.line(
        &mut out,
        "median",
        series.iter().map(|p| (minutes(p.at_secs), p.median)),
    );
    plot.line(
        &mut out,
        "mean",
        series.iter().map(|p| (minutes(p.at_secs), p.mean)),
    );
    if let Some(peak) = report.coherence.peak {
        let (x, y) = (plot.x(minutes(peak.at_secs)), plot.y(peak.mean));
        let _ = write!(
            out,
            r#"<circle class="peak" cx="{x:.1}" cy="{y:.1}" r="5"/><text class="ref-label" x="{x:.1}" y="{ty:.1}" text-anchor="middle">peak {v}</text>"#,
            ty = y - 9.0,
            v = number(peak.mean, 1),
        );
    }
    plot.minute_ticks(&mut out);
    out.push_str("</svg>");
    out
}

/// Participants counted at each grid point.
pub(super) fn active_count(report: &Report) -> String {
    let mut out = String::new();
    let series = &report.coherence.series;
    let most = series.iter().map(|p| p.active).max().unwrap_or(0).max(1);
    let plot = time_plot(report, 140.0, 0.0, f64::from(most));
    plot.open(
        &mut out,
        "Participants counted",
        "How many participants had a fresh, good-quality score at each 5-second step.",
    );
    plot.phases(&mut out, &report.overview.phases);
    plot.y_ticks(&mut out, &nice_ticks(0.0, f64::from(most), 2), |v| {
        number(v, 0)
    });
    // One stepped area rather than a bar per point: adjacent bars leave hairline seams.
    let half_step = report.coherence.grid_secs / 60.0 / 2.0;
    plot.band(
        &mut out,
        "active",
        series.iter().flat_map(|point| {
            let x = minutes(point.at_secs);
            let count = Some(f64::from(point.active));
            [
                (x - half_step, Some(0.0), count),
                (x + half_step, Some(0.0), count),
            ]
        }),
    );
    plot.minute_ticks(&mut out);
    out.push_str("</svg>");
    out
}

/// Where a band's layer sits in the stack at one grid point: `(bottom, top)` counts.
type StackRange = fn(&crate::report::GroupPoint) -> (u32, u32);

/// How many participants were low, medium and high, stacked.
pub(super) fn distribution(report: &Report) -> String {
    let mut out = String::new();
    let series = &report.coherence.series;
    let most = series.iter().map(|p| p.active).max().unwrap_or(0).max(1);
    let plot = time_plot(report, 220.0, 0.0, f64::from(most));
    plot.open(
        &mut out,
        "Participants by coherence band",
        "Stacked counts of participants in the low, medium and high bands at each 5-second step.",
    );
    plot.phases(&mut out, &report.overview.phases);
    plot.y_ticks(&mut out, &nice_ticks(0.0, f64::from(most), 4), |v| {
        number(v, 0)
    });
    let layers: [(&str, StackRange); 3] = [
        ("band-low", |p| (0, p.low)),
        ("band-medium", |p| (p.low, p.low + p.medium)),
        ("band-high", |p| {
            (p.low + p.medium, p.low + p.medium + p.high)
        }),
    ];
    for (class, range) in layers {
        plot.band(
            &mut out,
            class,
            series.iter().map(|p| {
                let (low, high) = range(p);
                let present = p.active > 0;
                (
                    minutes(p.at_secs),
                    present.then_some(f64::from(low)),
                    present.then_some(f64::from(high)),
                )
            }),
        );
    }
    plot.minute_ticks(&mut out);
    out.push_str("</svg>");
    out
}

/// The synchrony index against its surrogate and the surrogates' 95th percentile.
pub(super) fn synchrony(report: &Report) -> String {
    let mut out = String::new();
    let rounds = &report.synchrony.rounds;
    let top = rounds
        .iter()
        .map(|r| r.index.max(r.surrogate_index))
        .fold(0.0_f64, f64::max);
    let y_max = nice_ticks(0.0, top.max(0.1), 4)
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(top);
    let plot = time_plot(report, 240.0, 0.0, y_max);
    plot.open(
        &mut out,
        "Synchrony over time",
        "The room's synchrony index every 5 seconds, the same index on surrogate (shifted) data, \
         and the 95th percentile of the surrogate indices.",
    );
    plot.phases(&mut out, &report.overview.phases);
    plot.y_ticks(&mut out, &nice_ticks(0.0, y_max, 4), |v| number(v, 2));
    if let Some(level) = report.synchrony.surrogate_p95 {
        plot.reference(&mut out, "threshold", level, "surrogate 95th pct");
    }
    plot.line(
        &mut out,
        "surrogate",
        rounds
            .iter()
            .map(|r| (minutes(r.at_secs), Some(r.surrogate_index))),
    );
    plot.line(
        &mut out,
        "mean",
        rounds.iter().map(|r| (minutes(r.at_secs), Some(r.index))),
    );
    plot.minute_ticks(&mut out);
    out.push_str("</svg>");
    out
}

/// Each participant's baseline and end value joined by a line (a slope chart).
pub(super) fn change(stats: &ChangeStats, title: &str, y_max: f64, digits: usize) -> String {
    let mut out = String::new();
    let plot = Plot {
        width: WIDTH / 2.0,
        height: 300.0,
        x_min: 0.0,
        x_max: 1.0,
        y_min: 0.0,
        y_max,
    };
    plot.open(
        &mut out,
        title,
        "For every compared participant, a line from the baseline mean (left) to the end-window \
         mean (right); rising lines are drawn darker.",
    );
    plot.y_ticks(&mut out, &nice_ticks(0.0, y_max, 5), |v| number(v, digits));
    let (x0, x1) = (plot.x(0.15), plot.x(0.85));
    for participant in &stats.participants {
        let class = if participant.change > 0.0 {
            "rise"
        } else if participant.change < 0.0 {
            "fall"
        } else {
            "flat"
        };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{x0:.1}" x2="{x1:.1}" y1="{y0:.1}" y2="{y1:.1}"/>"#,
            y0 = plot.y(participant.baseline),
            y1 = plot.y(participant.end),
        );
    }
    let _ = write!(
        out,
        r#"<text class="tick" x="{x0:.1}" y="{y:.1}" text-anchor="middle">baseline</text><text class="tick" x="{x1:.1}" y="{y:.1}" text-anchor="middle">end</text></svg>"#,
        y = plot.bottom() + 16.0,
    );
    out
}

/// Histogram of breathing rates with the pacer's rates marked.
pub(super) fn breathing(report: &Report) -> String {
    let mut out = String::new();
    let bins = &report.breathing.histogram;
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        return out;
    };
    let most = bins.iter().map(|bin| bin.scores).max().unwrap_or(0).max(1) as f64;
    let plot = Plot {
        width: WIDTH,
        height: 220.0,
        x_min: first.from_per_min,
        x_max: last.to_per_min,
        y_min: 0.0,
        y_max: most,
    };
    plot.open(
        &mut out,
        "Breathing rates behind the scores",
        "How many scores had each breathing rate, in bins of one breath per minute.",
    );
    plot.y_ticks(&mut out, &nice_ticks(0.0, most, 4), |v| number(v, 0));
    for bin in bins {
        plot.rect(
            &mut out,
            "bar",
            bin.from_per_min + 0.06,
            bin.to_per_min - 0.06,
            0.0,
            bin.scores as f64,
        );
    }
    for span in &report.breathing.pacer.spans {
        let x = plot.x(span.breaths_per_min);
        let _ = write!(
            out,
            r#"<line class="pacer" x1="{x:.1}" x2="{x:.1}" y1="{t:.1}" y2="{b:.1}"/>"#,
            t = plot.top(),
            b = plot.bottom(),
        );
    }
    let mut rate = first.from_per_min;
    while rate <= last.to_per_min {
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{y:.1}" text-anchor="middle">{rate}</text>"#,
            x = plot.x(rate),
            y = plot.bottom() + 16.0,
        );
        rate += 2.0;
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{l:.1}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/><text class="tick" x="{r:.1}" y="{y:.1}" text-anchor="end">breaths/min</text></svg>"#,
        l = plot.left(),
        r = plot.right(),
        b = plot.bottom(),
        y = plot.top() - 5.0,
    );
    out
}

/// "x % of … " for the captions.
pub(super) fn share(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), percent)
}
