//! The few SVG shapes the charts are drawn with: a plot area with scaled axes, phase shading,
//! lines with gaps, bands, bars and ticks. Everything is written into one `String`; every text
//! goes through [`escape`](super::escape).

use std::fmt::Write as _;

use super::escape;
use crate::report::PhaseSpan;

/// The width of a full-width chart's viewBox; the SVG scales to its container.
pub(super) const WIDTH: f64 = 720.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 26.0;

/// A plot area mapping data coordinates to viewBox pixels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plot {
    /// [`WIDTH`] for a full-width chart; narrower for charts that sit side by side, so their
    /// text stays as large as the others'.
    pub width: f64,
    pub height: f64,
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl Plot {
    pub fn x(&self, value: f64) -> f64 {
        let span = (self.x_max - self.x_min).max(f64::EPSILON);
        LEFT + (value - self.x_min) / span * (self.width - LEFT - RIGHT)
    }

    pub fn y(&self, value: f64) -> f64 {
        let span = (self.y_max - self.y_min).max(f64::EPSILON);
        self.height - BOTTOM - (value - self.y_min) / span * (self.height - TOP - BOTTOM)
    }

    pub fn left(&self) -> f64 {
        LEFT
    }

    pub fn right(&self) -> f64 {
        self.width - RIGHT
    }

    pub fn top(&self) -> f64 {
        TOP
    }

    pub fn bottom(&self) -> f64 {
        self.height - BOTTOM
    }

    /// Opens the `<svg>` with its accessible title and description.
    pub fn open(&self, out: &mut String, title: &str, description: &str) {
        let _ = write!(
            out,
            r#"<svg{class} viewBox="0 0 {w} {h}" role="img" aria-labelledby="t{id} d{id}" preserveAspectRatio="xMidYMid meet"><title id="t{id}">{title}</title><desc id="d{id}">{description}</desc>"#,
            // Narrow charts already scale up on a phone; their text must not grow again.
            class = if self.width < WIDTH {
                r#" class="narrow""#
            } else {
                ""
            },
            w = self.width,
            h = self.height,
            id = id_of(title),
            title = escape(title),
            description = escape(description),
        );
    }

    /// Phase backgrounds with their names along the top.
    pub fn phases(&self, out: &mut String, phases: &[PhaseSpan]) {
        for span in phases {
            let (x0, x1) = (self.x(span.start_secs / 60.0), self.x(span.end_secs / 60.0));
            let _ = write!(
                out,
                r#"<rect class="phase-{class}" x="{x0:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}"/><text class="phase-label" x="{tx:.1}" y="{ty:.1}">{label}</text>"#,
                class = span.phase.label().to_ascii_lowercase(),
                top = self.top(),
                w = (x1 - x0).max(0.0),
                h = self.bottom() - self.top(),
                tx = x0 + 3.0,
                ty = self.top() - 5.0,
                // Room for the name at the largest (phone) size of phase labels, else no name.
                label = if x1 - x0 > span.phase.label().len() as f64 * 8.0 + 6.0 {
                    span.phase.label()
                } else {
                    ""
                },
            );
        }
    }

    /// Horizontal grid lines with their values on the left.
    pub fn y_ticks(&self, out: &mut String, ticks: &[f64], format: impl Fn(f64) -> String) {
        for &tick in ticks {
            let y = self.y(tick);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{l:.1}" x2="{r:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx:.1}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
                l = self.left(),
                r = self.right(),
                tx = self.left() - 5.0,
                ty = y + 4.0,
                label = escape(&format(tick)),
            );
        }
    }

    /// Minute ticks along the bottom, at most about ten of them (the captions say the axis is
    /// minutes since the start).
    pub fn minute_ticks(&self, out: &mut String) {
        let span_min = self.x_max - self.x_min;
        let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0]
            .into_iter()
            .find(|step| span_min / step <= 10.0)
            .unwrap_or(120.0);
        let mut minute = (self.x_min / step).ceil() * step;
        while minute <= self.x_max + 1e-9 {
            let x = self.x(minute);
            let _ = write!(
                out,
                r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{b:.1}" y2="{b2:.1}"/><text class="tick" x="{x:.1}" y="{ty:.1}" text-anchor="middle">{minute}</text>"#,
                b = self.bottom(),
                b2 = self.bottom() + 4.0,
                ty = self.bottom() + 16.0,
            );
            minute += step;
        }
        let _ = write!(
            out,
            r#"<line class="axis" x1="{l:.1}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/>"#,
            l = self.left(),
            r = self.right(),
            b = self.bottom(),
        );
    }

    /// A line through the points, broken where a point is `None`.
    pub fn line(
        &self,
        out: &mut String,
        class: &str,
        points: impl Iterator<Item = (f64, Option<f64>)>,
    ) {
        let mut path = String::new();
        let mut pen_down = false;
        for (x, y) in points {
            match y {
                Some(y) if y.is_finite() => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1}",
                        if pen_down { " L" } else { " M" },
                        self.x(x),
                        self.y(y)
                    );
                    pen_down = true;
                }
                _ => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = write!(out, r#"<path class="{class}" d="{}"/>"#, path.trim_start());
        }
    }

    /// A filled band between `low` and `high`, broken where either is `None`.
    pub fn band(
        &self,
        out: &mut String,
        class: &str,
        points: impl Iterator<Item = (f64, Option<f64>, Option<f64>)>,
    ) {
        let mut segment: Vec<(f64, f64, f64)> = Vec::new();
        let flush = |segment: &mut Vec<(f64, f64, f64)>, out: &mut String| {
            if segment.len() >= 2 {
                let mut path = String::new();
                for (index, (x, _, high)) in segment.iter().enumerate() {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1}",
                        if index == 0 { "M" } else { " L" },
                        self.x(*x),
                        self.y(*high)
                    );
                }
                for (x, low, _) in segment.iter().rev() {
                    let _ = write!(path, " L{:.1},{:.1}", self.x(*x), self.y(*low));
                }
                let _ = write!(out, r#"<path class="{class}" d="{path} Z"/>"#);
            }
            segment.clear();
        };
        for (x, low, high) in points {
            match (low, high) {
                (Some(low), Some(high)) => segment.push((x, low, high)),
                _ => flush(&mut segment, out),
            }
        }
        flush(&mut segment, out);
    }

    /// A horizontal reference line with a label at its right end.
    pub fn reference(&self, out: &mut String, class: &str, value: f64, label: &str) {
        let y = self.y(value);
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{l:.1}" x2="{r:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="ref-label" x="{tx:.1}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            l = self.left(),
            r = self.right(),
            tx = self.right() - 2.0,
            ty = y - 3.0,
            label = escape(label),
        );
    }

    pub fn rect(&self, out: &mut String, class: &str, x0: f64, x1: f64, y0: f64, y1: f64) {
        let (px0, px1) = (self.x(x0), self.x(x1));
        let (py0, py1) = (self.y(y1), self.y(y0));
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{px0:.1}" y="{py0:.1}" width="{w:.1}" height="{h:.1}"/>"#,
            w = (px1 - px0).max(0.0),
            h = (py1 - py0).max(0.0),
        );
    }
}

/// A stable element id from a title (ids must be unique on the page; titles are).
fn id_of(title: &str) -> String {
    title
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect()
}

/// Round tick values between `min` and `max`, about `count` of them.
pub(super) fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let span = (max - min).max(f64::EPSILON);
    let raw = span / count.max(1) as f64;
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut ticks = Vec::new();
    let mut tick = (min / step).ceil() * step;
    while tick <= max + step * 1e-9 {
        ticks.push(if tick.abs() < step * 1e-9 { 0.0 } else { tick });
        tick += step;
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 4), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(0.0, 7.0, 3), [0.0, 2.5, 5.0]);
    }

    #[test]
    fn a_line_breaks_where_data_is_missing() {
        let plot = Plot {
            width: WIDTH,
            height: 100.0,
            x_min: 0.0,
            x_max: 3.0,
            y_min: 0.0,
            y_max: 1.0,
        };
        let mut out = String::new();
        plot.line(
            &mut out,
            "mean",
            [
                (0.0, Some(0.5)),
                (1.0, Some(0.5)),
                (2.0, None),
                (3.0, Some(1.0)),
            ]
            .into_iter(),
        );
        assert_eq!(
            out.matches(" M").count() + out.matches("\"M").count(),
            2,
            "{out}"
        );
    }
}
