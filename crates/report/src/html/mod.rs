//! The report as one self-contained HTML page.
//!
//! One string, nothing fetched: inline CSS (with a print stylesheet for A4 or Letter and a
//! single column on phones), inline SVG charts that scale with their `viewBox`, no script, no
//! font or image files. Every chart has a title, a description and the numbers behind it in a
//! table, and every text that came from data goes through [`escape`].

mod charts;
mod sections;
mod svg;

use crate::report::Report;

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = match &report.overview.room_name {
        Some(room) => format!("Session report — {room}"),
        None => "Session report".to_owned(),
    };
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta name=\"generator\" content=\"");
    out.push_str(crate::report::SCHEMA);
    out.push_str("\"><title>");
    out.push_str(&escape(&title));
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><main>");
    sections::header(&mut out, report, &title);
    sections::overview(&mut out, report);
    sections::coherence(&mut out, report);
    sections::distribution(&mut out, report);
    sections::synchrony(&mut out, report);
    sections::change(&mut out, report);
    sections::breathing(&mut out, report);
    sections::quality(&mut out, report);
    sections::method(&mut out, report);
    out.push_str("</main></body></html>\n");
    out
}

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A number with `digits` decimals ("–" when not finite). Minus signs are typographic.
pub(crate) fn number(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let text = format!("{value:.digits$}");
    let text = if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_owned()
    } else {
        text
    };
    text.replace('-', "−")
}

pub(crate) fn optional(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |value| number(value, digits))
}

pub(crate) fn percent(share: f64) -> String {
    format!("{} %", number(share * 100.0, 0))
}

/// `m:ss` for a length in seconds.
pub(crate) fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".to_owned();
    }
    let total = secs.round().max(0.0) as i64;
    format!("{}:{:02}", total / 60, total % 60)
}

/// A p-value as researchers write it.
pub(crate) fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        number(p, 3)
    }
}

/// `2026-05-28 14:03 UTC` for ms since the epoch.
pub(crate) fn date_time(at_ms: i64) -> String {
    let nanos = i128::from(at_ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(at) => format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        Err(_) => "–".to_owned(),
    }
}

const STYLE: &str = r#"
:root{--ink:#1d2430;--muted:#5b6472;--line:#d5dae1;--paper:#fff;--mean:#1d3557;--median:#457b9d;
--low:#c8553d;--medium:#e9b949;--high:#2a9d8f;--prep:#eef2f7;--active:#e8f4ef;--integ:#f3eef7}
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:16px;background:var(--paper)}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.25em;margin:1.4em 0 .4em;border-bottom:2px solid var(--line);padding-bottom:.2em;break-after:avoid}
h3{font-size:1.05em;margin:1em 0 .3em;break-after:avoid}
p{margin:.4em 0}
.lede{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;margin:.6em 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px;break-inside:avoid}
.card b{display:block;font-size:1.35em}
.card span{color:var(--muted);font-size:.85em}
figure{margin:.6em 0;break-inside:avoid}
figcaption{color:var(--muted);font-size:.9em}
svg{width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
svg .phase-label{font-weight:600}
svg .phase-preparation{fill:var(--prep)} svg .phase-active{fill:var(--active)} svg .phase-integration{fill:var(--integ)}
svg .grid{stroke:var(--line);stroke-width:.6}
svg .axis{stroke:var(--muted);stroke-width:.8}
svg .threshold{stroke:var(--muted);stroke-width:1;stroke-dasharray:4 3}
svg .ref-label{font-size:10px}
svg .iqr{fill:var(--median);opacity:.22}
svg .mean{fill:none;stroke:var(--mean);stroke-width:2}
svg .median{fill:none;stroke:var(--median);stroke-width:1.5;stroke-dasharray:5 3}
svg .surrogate{fill:none;stroke:#9aa3ae;stroke-width:1.3}
svg .peak{fill:none;stroke:var(--low);stroke-width:2}
svg .active{fill:#8d99ae}
svg .band-low{fill:var(--low)} svg .band-medium{fill:var(--medium)} svg .band-high{fill:var(--high)}
svg .bar{fill:var(--median)}
svg .pacer{stroke:var(--low);stroke-width:2;stroke-dasharray:3 2}
svg .rise{stroke:var(--high);stroke-width:1.2;opacity:.8} svg .fall{stroke:var(--low);stroke-width:1.2;opacity:.6} svg .flat{stroke:#9aa3ae;stroke-width:1}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:.85em;color:var(--muted);margin:.2em 0}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.4em 0}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{background:#f0f2f5;white-space:normal;vertical-align:bottom}
tr{break-inside:avoid}
details{margin:.3em 0 .8em;font-size:.9em}
summary{cursor:pointer;color:var(--median)}
.note{font-size:.85em;color:var(--muted)}
.stat{font-variant-numeric:tabular-nums}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.two>div{min-width:0}
table.stat td{white-space:normal}
@media (max-width:600px){
 main{padding:10px}
 .cards{grid-template-columns:1fr 1fr}
 .two{grid-template-columns:1fr}
 body{font-size:14px}
 svg text{font-size:20px}
 svg .ref-label,svg .phase-label{font-size:14px}
 svg .mean{stroke-width:3.5} svg .median{stroke-width:2.5} svg .surrogate{stroke-width:2.5}
 svg .rise,svg .fall,svg .flat{stroke-width:2.5}
 svg.narrow text{font-size:12px}
 svg.narrow .rise,svg.narrow .fall,svg.narrow .flat{stroke-width:1.4}
}
@media print{
 @page{margin:14mm}
 body{background:#fff;font-size:10.5pt}
 main{max-width:none;padding:0}
 details{display:none}
 section.page{break-before:page}
 section.whole{break-inside:avoid}
 .scroll{overflow:visible}
 a{color:inherit;text-decoration:none}
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x & 'y'")</script>"#),
            "&lt;script&gt;alert(&quot;x &amp; &#39;y&#39;&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(-3.04, 1), "−3.0");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(f64::NAN, 1), "–");
        assert_eq!(duration(905.0), "15:05");
        assert_eq!(p_value(0.0004), "< 0.001");
        assert_eq!(p_value(0.0312), "0.031");
        assert_eq!(percent(0.426), "43 %");
        assert_eq!(date_time(1_780_000_000_000), "2026-05-28 20:26 UTC");
    }
}
