//! The rendered page: self-contained, escaped, and showing the JSON twin's numbers.

use synchub_report::{PacerSetting, Report, SessionData, StrengthPoint, SynchronyRound};

use crate::util::{T0_MS, participant, scores, session};

/// Ten participants over a 2 + 10 + 2 minute session, rising through the active phase, with
/// synchrony rounds and a pacer.
fn rich_session() -> SessionData {
    let mut data = session(120, 600, 120);
    data.participants = (1..=10)
        .map(|slot| {
            let lift = f64::from(slot) * 2.5;
            let mut p = participant(
                slot,
                scores(35, 840, move |secs| {
                    (25.0 + lift + (secs - 120.0).max(0.0) / 600.0 * (20.0 + lift)).min(95.0)
                }),
            );
            p.synchrony_strength = (0..168)
                .map(|round| StrengthPoint {
                    at_ms: T0_MS + 5_000 * i64::from(round),
                    mean_strength: 0.3 + f64::from(round) / 1000.0 + f64::from(slot) / 200.0,
                })
                .collect();
            p
        })
        .collect();
    data.synchrony = (0..168)
        .map(|round| SynchronyRound {
            at_ms: T0_MS + 5_000 * i64::from(round),
            participants: 10,
            index: 0.2 + f64::from(round) / 400.0,
            surrogate_index: 0.15 + f64::from(round % 7) / 100.0,
        })
        .collect();
    data.pacer = vec![PacerSetting {
        at_ms: T0_MS + 120_000,
        breaths_per_min: Some(6.0),
    }];
    data
}

#[test]
fn the_page_needs_nothing_from_outside_and_runs_no_script() {
    let page = Report::build(&rich_session(), 1).to_html();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let lower = page.to_lowercase();
    for forbidden in [
        "<script",
        "javascript:",
        "<link",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "http://",
        "https://",
        " src=",
        " onload",
        " onclick",
    ] {
        assert!(!lower.contains(forbidden), "the page contains {forbidden}");
    }
    assert!(lower.contains("@media print"));
    assert!(lower.contains("@media (max-width:600px)"));
    assert!(page.contains("name=\"viewport\""));
}

#[test]
fn every_section_has_its_chart_with_a_title_and_its_numbers_in_a_table() {
    let report = Report::build(&rich_session(), 1);
    let page = report.to_html();
    for heading in [
        "Overview",
        "Group coherence",
        "Coherence bands",
        "Synchrony",
        "Change from baseline",
        "Breathing rate",
        "Data quality",
    ] {
        assert!(
            page.contains(&format!("<h2>{heading}</h2>")),
            "no section {heading}"
        );
    }
    let charts = page.matches("<svg ").count();
    assert_eq!(
        charts, 7,
        "coherence, counted, bands, synchrony, two changes, breathing"
    );
    assert_eq!(page.matches("<title id=").count(), charts);
    assert_eq!(page.matches("<desc id=").count(), charts);
    // Every grid point of the series has its row behind the coherence chart.
    assert!(
        page.matches("<tr>").count()
            > report.coherence.series.len() + report.synchrony.rounds.len()
    );
}

#[test]
fn the_page_shows_the_json_twins_statistics() {
    let report = Report::build(&rich_session(), 1);
    let page = report.to_html();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["schema"], "synchub-report/1");
    let coherence = &json["change"]["coherence"];
    assert_eq!(coherence["participants"].as_array().map(Vec::len), Some(10));
    let test = &coherence["test"];
    assert_eq!(test["method"], "exact");
    assert_eq!(test["p_value"].as_f64(), Some(2.0 / 1024.0));
    assert!(
        page.contains("<td>Wilcoxon signed-rank p</td><td>0.002</td>"),
        "p on the page"
    );
    let median = coherence["median_change"].as_f64().expect("median");
    assert!(
        page.contains(&format!("<td>{:.1} points</td>", median)),
        "median change on the page"
    );
    let ci = &coherence["median_change_ci"];
    let low = ci["low"].as_f64().expect("low");
    let high = ci["high"].as_f64().expect("high");
    assert!(
        page.contains(&format!("<td>{low:.1} to {high:.1}</td>")),
        "interval on the page"
    );
    assert_eq!(test["rank_biserial"].as_f64(), Some(1.0));
    let share = json["synchrony"]["active_share_above_surrogate_p95"]
        .as_f64()
        .expect("share");
    assert!(page.contains(&format!("<b>{:.0} %</b>", share * 100.0)));
    assert!(page.contains("within one breath per minute"));
}

#[test]
fn text_from_the_room_is_escaped() {
    let mut data = rich_session();
    data.session.room_name = Some("<script>alert('x')</script> & Co".to_owned());
    let page = Report::build(&data, 1).to_html();
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
}

#[test]
fn an_empty_session_still_renders_and_says_what_is_missing() {
    let page = Report::build(&session(60, 300, 60), 1).to_html();
    assert!(page.contains("No synchrony was computed"));
    assert!(page.contains("No score carried a breathing rate."));
    assert!(page.contains("No scores were stored."));
    let mut with_scores = rich_session();
    with_scores.pacer.clear();
    assert!(
        Report::build(&with_scores, 1)
            .to_html()
            .contains("No pacer recorded.")
    );
}

/// Every key of the JSON twin is named in `docs/report.md`, so the documentation cannot fall
/// behind the report.
#[test]
fn every_json_field_is_documented() {
    fn keys(value: &serde_json::Value, into: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    into.insert(key.clone());
                    keys(inner, into);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, into)),
            _ => {}
        }
    }
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.md"),
    )
    .expect("docs/report.md");
    let mut data = rich_session();
    data.participants[0].metrics.truncate(10);
    let json: serde_json::Value =
        serde_json::from_str(&Report::build(&data, 1).to_json()).expect("valid JSON");
    let mut all = std::collections::BTreeSet::new();
    keys(&json, &mut all);
    let missing: Vec<&String> = all
        .iter()
        .filter(|key| {
            // `key`, `key[]`, `parent.key`, `key.child`: a field, a list, or part of a path.
            let forms = [
                format!("`{key}`"),
                format!("`{key}[]`"),
                format!(".{key}`"),
                format!(".{key}[]`"),
                format!("`{key}."),
            ];
            !forms.iter().any(|form| docs.contains(form.as_str()))
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/report.md: {missing:?}");
}
