//! `synchub analyze`: the report's JSON contract, the table, and every error a person can cause.

use serde_json::Value;

use crate::util::{stderr, stdout, synchub};

fn analyze_json(args: &[&str]) -> Value {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let output = synchub(&all);
    assert!(
        output.status.success(),
        "analyze failed: {}",
        stderr(&output)
    );
    serde_json::from_str(&stdout(&output)).expect("the report is JSON")
}

/// Runs `analyze` on a file holding `contents` and returns (exit code, stderr).
fn analyze_failure(contents: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recording.txt");
    if let Some(contents) = contents {
        std::fs::write(&path, contents).unwrap();
    }
    let output = synchub(&["analyze", path.to_str().unwrap()]);
    (
        output.status.code().expect("exited normally"),
        stderr(&output),
    )
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn json_report_has_the_documented_keys() {
    let report = analyze_json(&["examples/settling.txt"]);
    assert_eq!(report["algorithm"], "synchub-coherence/1");
    for key in ["beats", "duration_secs", "artifact_fraction"] {
        assert!(report[key].is_number(), "{key} is a number");
    }
    assert_eq!(
        keys(&report["time"]),
        ["hr_bpm", "mean_rr_ms", "pnn50_pct", "rmssd_ms", "sdnn_ms"]
    );
    assert_eq!(
        keys(&report["frequency"]),
        ["hf_ms2", "hf_nu", "lf_hf", "lf_ms2", "lf_nu", "vlf_ms2"]
    );
    assert!(report["coherence"]["mean_score"].is_number());
    assert!(report["coherence"]["mean_ratio"].is_number());
    let window = &report["coherence"]["windows"][0];
    for key in [
        "end_secs",
        "score",
        "ratio",
        "peak_hz",
        "breaths_per_min",
        "quality",
    ] {
        assert!(!window[key].is_null(), "window has {key}");
    }
}

#[test]
fn windows_follow_the_recording_time_base() {
    // coherence.md §2: beat i ends at the cumulative sum; windows start at t_0 + 5·m while
    // the window fits, and each reports its end.
    let text =
        std::fs::read_to_string(crate::util::repo_root().join("examples/settling.txt")).unwrap();
    let rr_ms: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.trim().parse().unwrap())
        .collect();
    let t0 = rr_ms[0] / 1000.0;
    let t_last: f64 = rr_ms.iter().sum::<f64>() / 1000.0;
    let report = analyze_json(&["examples/settling.txt", "--no-clean"]);
    let windows = report["coherence"]["windows"].as_array().unwrap();
    let expected_count = ((t_last - 64.0 - t0) / 5.0).floor() as usize + 1;
    assert_eq!(windows.len(), expected_count);
    for (m, window) in windows.iter().enumerate() {
        let end = window["end_secs"].as_f64().unwrap();
        assert!(
            (end - (t0 + 5.0 * m as f64 + 64.0)).abs() < 1e-9,
            "window {m} ends at {end}"
        );
    }
}

#[test]
fn a_settling_recording_ends_coherent_at_six_breaths_per_minute() {
    let report = analyze_json(&["examples/settling.txt"]);
    let windows = report["coherence"]["windows"].as_array().unwrap();
    let first = &windows[0];
    let last = windows.last().unwrap();
    assert!(
        first["score"].as_f64().unwrap() < 40.0,
        "restless start: {first}"
    );
    assert!(
        last["score"].as_f64().unwrap() >= 60.0,
        "coherent end: {last}"
    );
    let breaths = last["breaths_per_min"].as_f64().unwrap();
    assert!((breaths - 6.0).abs() < 0.3, "breathing at {breaths}/min");
}

#[test]
fn cleaning_corrects_the_missed_and_extra_beats() {
    let cleaned = analyze_json(&["examples/settling.txt"]);
    let raw = analyze_json(&["examples/settling.txt", "--no-clean"]);
    assert!(cleaned["artifact_fraction"].as_f64().unwrap() > 0.0);
    assert_eq!(raw["artifact_fraction"].as_f64().unwrap(), 0.0);
}

#[test]
fn csv_with_a_time_column_gives_the_same_report() {
    let plain = analyze_json(&["examples/settling.txt"]);
    let csv = analyze_json(&["examples/settling.csv"]);
    assert_eq!(plain["beats"], csv["beats"]);
    let plain_score = plain["coherence"]["mean_score"].as_f64().unwrap();
    let csv_score = csv["coherence"]["mean_score"].as_f64().unwrap();
    // The CSV's times are rounded to the millisecond.
    assert!(
        (plain_score - csv_score).abs() < 0.5,
        "{plain_score} vs {csv_score}"
    );
}

#[test]
fn table_is_the_default_and_reads_like_a_report() {
    let output = synchub(&["analyze", "examples/settling.txt"]);
    assert!(output.status.success());
    let table = stdout(&output);
    assert!(table.contains("RMSSD"));
    assert!(table.contains("Coherence"));
    assert!(table.contains("breaths/min"));
}

#[test]
fn seconds_are_detected_and_said_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seconds.txt");
    let text =
        std::fs::read_to_string(crate::util::repo_root().join("examples/settling.txt")).unwrap();
    let seconds: String = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| format!("{}\n", line.parse::<f64>().unwrap() / 1000.0))
        .collect();
    std::fs::write(&path, seconds).unwrap();
    let output = synchub(&["analyze", path.to_str().unwrap(), "--format", "json"]);
    assert!(output.status.success());
    assert!(stderr(&output).contains("seconds"), "{}", stderr(&output));
}

fn check_error(contents: Option<&str>, expected_in_message: &str) {
    let (code, message) = analyze_failure(contents);
    assert_eq!(code, 2, "exit code for {contents:?}: {message}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains(expected_in_message),
        "{message:?} should mention {expected_in_message:?}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn errors_are_one_line_with_exit_code_2() {
    check_error(None, "cannot read");
    check_error(Some(""), "no RR values");
    check_error(Some("800\n800\nabc\n"), "line 3");
    check_error(Some(&"800\n".repeat(40)), "too few");
    check_error(Some("800\n-5\n800\n"), "line 2");
    check_error(Some("800\nNaN\n800\n"), "line 2");
}

#[test]
fn bad_window_options_are_explained() {
    let output = synchub(&["analyze", "examples/settling.txt", "--window-secs", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--window-secs"));
}
