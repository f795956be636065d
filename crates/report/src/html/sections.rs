//! The sections of the page, in reading order; each writes its heading, chart, caption and
//! the table with its numbers.

use std::fmt::Write as _;

use super::charts;
use super::{date_time, duration, escape, number, optional, p_value, percent};
use crate::report::{ChangeStats, ExclusionReason, Report, WindowKind};

pub(super) fn header(out: &mut String, report: &Report, title: &str) {
    let overview = &report.overview;
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"lede\">{} · {} session · {} of {} planned{}</p></header>",
        escape(title),
        date_time(overview.started_at_ms),
        match overview.mode {
            crate::input::ScheduleMode::Rolling => "rolling",
            crate::input::ScheduleMode::Manual => "manual",
        },
        duration(overview.real_secs),
        duration(f64::from(overview.planned_secs)),
        match (overview.ended_at_ms, overview.closed_on_recovery) {
            (None, _) => " · still running when this report was made",
            (Some(_), true) => " · closed after the hub restarted",
            _ => "",
        },
    );
}

pub(super) fn overview(out: &mut String, report: &Report) {
    let overview = &report.overview;
    let people = &overview.participants;
    out.push_str("<section><h2>Overview</h2><div class=\"cards\">");
    let mut card = |value: String, label: &str| {
        let _ = write!(
            out,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            escape(&value),
            escape(label)
        );
    };
    card(people.joined.to_string(), "participants joined");
    card(people.with_data.to_string(), "with heart data");
    card(
        optional(report.coherence.mean_of_group_means, 1),
        "mean group coherence",
    );
    card(
        report
            .coherence
            .peak
            .map_or_else(|| "–".to_owned(), |peak| number(peak.mean, 1)),
        "peak group coherence",
    );
    out.push_str("</div><div class=\"two\"><div><h3>Phases</h3><table><thead><tr><th>phase</th><th>planned</th><th>real</th><th>from</th></tr></thead><tbody>");
    for span in &overview.phases {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            span.phase.label(),
            duration(f64::from(span.planned_secs)),
            duration(span.length_secs()),
            duration(span.start_secs),
        );
    }
    out.push_str("</tbody></table></div><div><h3>Participants by source</h3><table><thead><tr><th>source</th><th>joined</th><th>with data</th></tr></thead><tbody>");
    for source in &people.by_source {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            source.source.label(),
            source.joined,
            source.with_data
        );
    }
    let _ = write!(
        out,
        "</tbody></table><p class=\"note\">{} of {} consented to research use.</p></div></div><h3>Algorithms</h3><p>",
        people.consented, people.joined
    );
    if overview.algorithms.is_empty() {
        out.push_str("No scores were stored.");
    }
    for (index, algorithm) in overview.algorithms.iter().enumerate() {
        let _ = write!(
            out,
            "{}{} — {} scores",
            if index > 0 { "; " } else { "" },
            escape(algorithm.algorithm.as_deref().unwrap_or(
                "scores computed by the participant's own app (algorithm not reported)"
            )),
            algorithm.scores
        );
    }
    out.push_str("</p></section>");
}

pub(super) fn coherence(out: &mut String, report: &Report) {
    out.push_str("<section><h2>Group coherence</h2><figure>");
    out.push_str(&charts::coherence(report));
    out.push_str(&charts::active_count(report));
    out.push_str(
        "<div class=\"legend\"><span><i style=\"background:#1d3557\"></i>mean</span>\
         <span><i style=\"background:#457b9d\"></i>median (dashed)</span>\
         <span><i style=\"background:#457b9d;opacity:.3\"></i>inter-quartile range</span>\
         <span><i style=\"background:#8d99ae\"></i>participants counted</span></div>",
    );
    let _ = write!(
        out,
        "<figcaption>Every {} s, the scores of participants whose latest score was at most {} s \
         old and not of low quality; time in minutes since the start.",
        number(report.coherence.grid_secs, 0),
        number(report.coherence.fresh_secs, 0)
    );
    if let Some(peak) = report.coherence.peak {
        let _ = write!(
            out,
            " Peak: {} ({}) at {} in the {} phase, {} participants counted.",
            number(peak.mean, 1),
            crate::bands::band_label(peak.band),
            duration(peak.at_secs),
            peak.phase.label().to_lowercase(),
            peak.active
        );
    }
    out.push_str("</figcaption></figure><details><summary>Numbers behind the chart</summary><div class=\"scroll\"><table><thead><tr><th>time</th><th>phase</th><th>counted</th><th>mean</th><th>median</th><th>Q1</th><th>Q3</th><th>low</th><th>medium</th><th>high</th></tr></thead><tbody>");
    for p in &report.coherence.series {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            duration(p.at_secs),
            p.phase.label(),
            p.active,
            optional(p.mean, 1),
            optional(p.median, 1),
            optional(p.q1, 1),
            optional(p.q3, 1),
            p.low,
            p.medium,
            p.high
        );
    }
    out.push_str("</tbody></table></div></details></section>");
}

pub(super) fn distribution(out: &mut String, report: &Report) {
    out.push_str("<section class=\"page\"><h2>Coherence bands</h2><figure>");
    out.push_str(&charts::distribution(report));
    out.push_str(
        "<div class=\"legend\"><span><i style=\"background:#c8553d\"></i>low (&lt; 40)</span>\
         <span><i style=\"background:#e9b949\"></i>medium (40–60)</span>\
         <span><i style=\"background:#2a9d8f\"></i>high (≥ 60)</span></div>\
         <figcaption>How many counted participants were in each band; time in minutes since the start.</figcaption></figure>",
    );
    out.push_str("<div class=\"two\"><div><h3>The group's mean, by phase (m:ss)</h3><table><thead><tr><th>phase</th><th>low</th><th>medium</th><th>high</th><th>no data</th></tr></thead><tbody>");
    for bands in &report.coherence.time_in_band {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            bands.phase.label(),
            duration(bands.group_secs.low),
            duration(bands.group_secs.medium),
            duration(bands.group_secs.high),
            duration(bands.group_secs.no_data),
        );
    }
    out.push_str("</tbody></table></div><div><h3>Participant-time, by phase</h3><table><thead><tr><th>phase</th><th>low</th><th>medium</th><th>high</th></tr></thead><tbody>");
    for bands in &report.coherence.time_in_band {
        let shares = bands.participant_share;
        let share = |pick: fn(&crate::report::BandShares) -> f64| {
            shares
                .as_ref()
                .map_or_else(|| "–".to_owned(), |s| percent(pick(s)))
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            bands.phase.label(),
            share(|s| s.low),
            share(|s| s.medium),
            share(|s| s.high),
        );
    }
    out.push_str("</tbody></table></div></div><p class=\"note\">Left: how long the room's mean score was in each band. Right: of all the time participants were counted, the share they spent in each band.</p></section>");
}

pub(super) fn synchrony(out: &mut String, report: &Report) {
    let figures = &report.synchrony;
    out.push_str("<section><h2>Synchrony</h2>");
    if figures.rounds.is_empty() {
        out.push_str("<p>No synchrony was computed: it needs at least two participants whose beats reach the hub (phones that send beats, straps).</p></section>");
        return;
    }
    out.push_str("<figure>");
    out.push_str(&charts::synchrony(report));
    let _ = write!(
        out,
        "<div class=\"legend\"><span><i style=\"background:#1d3557\"></i>synchrony index</span>\
         <span><i style=\"background:#9aa3ae\"></i>surrogate (chance) index</span></div>\
         <figcaption>Time in minutes since the start. In the active phase the index was above the surrogates' 95th percentile \
         ({}) in <b>{}</b> of its {} rounds ({} rounds).</figcaption></figure>",
        optional(figures.surrogate_p95, 3),
        charts::share(figures.active_share_above_surrogate_p95),
        figures.active_rounds,
        figures.active_rounds_above_surrogate_p95,
    );
    out.push_str("<table><thead><tr><th>phase</th><th>rounds</th><th>mean index</th><th>mean surrogate</th></tr></thead><tbody>");
    for phase in &figures.by_phase {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            phase.phase.label(),
            phase.rounds,
            optional(phase.mean_index, 3),
            optional(phase.mean_surrogate_index, 3)
        );
    }
    out.push_str("</tbody></table><details><summary>Numbers behind the chart</summary><div class=\"scroll\"><table><thead><tr><th>time</th><th>phase</th><th>participants</th><th>index</th><th>surrogate</th></tr></thead><tbody>");
    for round in &figures.rounds {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            duration(round.at_secs),
            round.phase.label(),
            round.participants,
            number(round.index, 3),
            number(round.surrogate_index, 3)
        );
    }
    out.push_str("</tbody></table></div></details></section>");
}

pub(super) fn change(out: &mut String, report: &Report) {
    let change = &report.change;
    out.push_str("<section class=\"page\"><h2>Change from baseline</h2>");
    let Some(windows) = change.windows else {
        out.push_str("<p>No comparison: the session has no active phase.</p></section>");
        return;
    };
    let baseline = match windows.baseline.kind {
        WindowKind::Preparation => "the preparation phase (it lasted at least 2 minutes)",
        _ => "the first 2 minutes of the active phase (preparation was shorter than 2 minutes)",
    };
    let end = match windows.end.kind {
        WindowKind::LastFiveMinutesOfActive => "the last 5 minutes of the active phase",
        WindowKind::WholeActive => "the whole active phase (it was shorter than 5 minutes)",
        _ => "the rest of the active phase after the baseline (less than 5 minutes)",
    };
    let _ = write!(
        out,
        "<p>Baseline: {baseline}, {}–{}. End: {end}, {}–{}. A participant is compared when they \
         have scores in at least {} s of each window.</p>",
        duration(windows.baseline.start_secs),
        duration(windows.baseline.end_secs),
        duration(windows.end.start_secs),
        duration(windows.end.end_secs),
        number(change.min_covered_secs, 0),
    );
    out.push_str("<div class=\"two\"><div><h3>Coherence</h3><figure>");
    out.push_str(&charts::change(
        &change.coherence,
        "Coherence, baseline to end",
        100.0,
        0,
    ));
    out.push_str("</figure>");
    stats_table(out, &change.coherence, 1, "points");
    out.push_str("</div><div><h3>Synchrony (mean pair strength)</h3>");
    if change.synchrony.participants.is_empty() && change.synchrony.excluded.is_empty() {
        out.push_str("<p>No participant took part in synchrony rounds.</p>");
    } else {
        out.push_str("<figure>");
        out.push_str(&charts::change(
            &change.synchrony,
            "Synchrony strength, baseline to end",
            1.0,
            1,
        ));
        out.push_str("</figure>");
        stats_table(out, &change.synchrony, 3, "");
    }
    out.push_str("</div></div>");
    if let Some(group) = change.group_synchrony {
        let _ = write!(
            out,
            "<p class=\"note\">The room's synchrony index: {} in the baseline ({} rounds, surrogate {}), {} at the end ({} rounds, surrogate {}).</p>",
            optional(group.baseline_mean_index, 3),
            group.baseline_rounds,
            optional(group.baseline_mean_surrogate_index, 3),
            optional(group.end_mean_index, 3),
            group.end_rounds,
            optional(group.end_mean_surrogate_index, 3),
        );
    }
    out.push_str("<details><summary>Every participant's values</summary><div class=\"scroll\"><table><thead><tr><th>slot</th><th>coherence baseline</th><th>end</th><th>change</th></tr></thead><tbody>");
    for p in &change.coherence.participants {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.slot,
            number(p.baseline, 1),
            number(p.end, 1),
            number(p.change, 1)
        );
    }
    out.push_str("</tbody></table></div></details></section>");
}

fn stats_table(out: &mut String, stats: &ChangeStats, digits: usize, unit: &str) {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    out.push_str("<table class=\"stat\"><tbody>");
    let mut row = |label: &str, value: String| {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    };
    row(
        "participants compared",
        stats.participants.len().to_string(),
    );
    row(
        "median change",
        format!("{}{unit}", optional(stats.median_change, digits)),
    );
    row(
        "95 % CI (bootstrap)",
        stats.median_change_ci.map_or_else(
            || "–".to_owned(),
            |ci| format!("{} to {}", number(ci.low, digits), number(ci.high, digits)),
        ),
    );
    match &stats.test {
        Some(test) => {
            row("Wilcoxon signed-rank p", p_value(test.p_value));
            row("statistic (min of R+, R−)", number(test.statistic, 1));
            row("effect size (rank-biserial)", number(test.rank_biserial, 2));
        }
        None => row(
            "Wilcoxon signed-rank p",
            "– (no non-zero change)".to_owned(),
        ),
    }
    out.push_str("</tbody></table>");
    if !stats.excluded.is_empty() {
        let slots: Vec<String> = stats
            .excluded
            .iter()
            .map(|excluded| {
                format!(
                    "{} ({})",
                    excluded.slot,
                    match excluded.reason {
                        ExclusionReason::TooLittleBaselineData => "baseline",
                        ExclusionReason::TooLittleEndData => "end",
                        ExclusionReason::TooLittleDataInBoth => "both",
                    }
                )
            })
            .collect();
        let _ = write!(
            out,
            "<p class=\"note\">Not compared, too little data ({}): slot {}.</p>",
            stats.excluded.len(),
            escape(&slots.join(", "))
        );
    }
}

pub(super) fn breathing(out: &mut String, report: &Report) {
    let breathing = &report.breathing;
    // Short enough to keep on one page: moved whole rather than split after its chart.
    out.push_str("<section class=\"whole\"><h2>Breathing rate</h2>");
    if breathing.scores == 0 {
        out.push_str("<p>No score carried a breathing rate.</p></section>");
        return;
    }
    out.push_str("<figure>");
    out.push_str(&charts::breathing(report));
    let _ = write!(
        out,
        "<figcaption>{} scores; median {} breaths/min (quartiles {}–{}){}.</figcaption></figure>",
        breathing.scores,
        optional(breathing.median_per_min, 1),
        optional(breathing.q1_per_min, 1),
        optional(breathing.q3_per_min, 1),
        if breathing.outside_histogram > 0 {
            format!(
                "; {} outside the chart's range",
                breathing.outside_histogram
            )
        } else {
            String::new()
        }
    );
    let pacer = &breathing.pacer;
    if pacer.spans.is_empty() {
        out.push_str("<p>No pacer recorded.</p>");
    } else {
        let _ = write!(
            out,
            "<p>With the pacer on, the room's breathing was within one breath per minute of it in <b>{}</b> of {} scores (median distance {} breaths/min).</p>",
            charts::share(pacer.share_within_one_per_min),
            pacer.scores,
            optional(pacer.median_distance_per_min, 2),
        );
        out.push_str("<table><thead><tr><th>from</th><th>to</th><th>pacer</th><th>scores</th><th>median rate</th><th>median distance</th><th>within 1/min</th></tr></thead><tbody>");
        for span in &pacer.spans {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                duration(span.start_secs),
                duration(span.end_secs),
                number(span.breaths_per_min, 1),
                span.scores,
                optional(span.median_breaths_per_min, 1),
                optional(span.median_distance_per_min, 2),
                charts::share(span.share_within_one_per_min),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<table><thead><tr><th>phase</th><th>scores</th><th>median breaths/min</th></tr></thead><tbody>");
    for phase in &breathing.by_phase {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            phase.phase.label(),
            phase.scores,
            optional(phase.median_per_min, 1)
        );
    }
    out.push_str("</tbody></table></section>");
}

pub(super) fn quality(out: &mut String, report: &Report) {
    out.push_str("<section class=\"page\"><h2>Data quality</h2><p>What each participant's figures stand on. Windows: 5-second slots with a score, against the time they had data ÷ 5 s (the first 32 s of beats give no score). Gaps: more than 10 s without a beat.</p><div class=\"scroll\"><table><thead><tr><th>slot</th><th>source</th><th>joined</th><th>scores</th><th>low quality</th><th>artifacts</th><th>windows</th><th>gaps</th></tr></thead><tbody>");
    for slot in &report.quality {
        let windows = if slot.expected_windows > 0 {
            format!(
                "{} / {} ({})",
                slot.scored_windows,
                slot.expected_windows,
                percent(slot.scored_windows as f64 / slot.expected_windows as f64)
            )
        } else {
            format!("{} / –", slot.scored_windows)
        };
        let gaps = if slot.gaps.is_empty() {
            "none".to_owned()
        } else {
            let total: f64 = slot.gaps.iter().map(|gap| gap.length_secs).sum();
            format!("{} ({} s)", slot.gaps.len(), number(total, 0))
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            slot.slot,
            slot.source.label(),
            duration(slot.joined_secs),
            slot.scores,
            slot.low_quality_scores,
            slot.mean_artifact_fraction
                .map_or_else(|| "–".to_owned(), percent),
            escape(&windows),
            escape(&gaps),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

pub(super) fn method(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "<section><h2>How these figures were computed</h2><p class=\"note\">Coherence is the \
         HeartMath-style score of each participant's last 64 s of beats, every 5 s (bands: low \
         &lt; 40, medium 40–60, high ≥ 60). Group figures count a participant while their latest \
         score is at most 15 s old and not of low quality, as the live display did. Change from \
         baseline: median of the per-participant changes with a 95 % percentile-bootstrap \
         interval ({} resamples, seed {}); Wilcoxon signed-rank test, two-sided, zero changes \
         dropped, exact for small samples as scipy 1.16 does; rank-biserial effect size. \
         Participants appear only as slot numbers, in joining order. Report format {}.</p></section>",
        report.change.coherence.bootstrap_resamples,
        report.seed,
        crate::report::SCHEMA,
    );
}
