//! Reading RR recordings from files people bring: other tools' exports, phone dumps, strap logs.
//!
//! Two shapes are accepted:
//! - one RR interval per line, in milliseconds; `#` starts a comment; blank lines are skipped;
//! - CSV (comma, semicolon or tab separated) whose header names an `rr` or `rr_ms` column and
//!   optionally a `time`/`timestamp` column (seconds, or milliseconds when the column name ends
//!   in `_ms`) giving when each interval ended.
//!
//! Values that are all below 10 are taken to be seconds and converted (some exports use
//! seconds); the caller is told so it can say it. Units are converted here, at the edge, so the
//! signal-processing core only ever sees milliseconds.

use synchub_hrv::Beat;

/// A parsed recording, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub rr_ms: Vec<f64>,
    /// The file line each value came from, to point at a bad value.
    pub lines: Vec<usize>,
    /// Beat end times in seconds, when the file had a time column.
    pub times_secs: Option<Vec<f64>>,
    /// True when the values were all below 10 and were converted from seconds.
    pub converted_from_secs: bool,
}

impl Recording {
    /// The beats with their times: from the time column when there was one, else from the
    /// cumulative sum of the intervals.
    pub fn beats(&self) -> Vec<Beat> {
        match &self.times_secs {
            Some(times) => times
                .iter()
                .zip(&self.rr_ms)
                .map(|(&time_secs, &rr_ms)| Beat { time_secs, rr_ms })
                .collect(),
            None => synchub_hrv::beats_from_rr_ms(&self.rr_ms),
        }
    }
}

/// What is wrong with a recording file. Every message says what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordingError {
    #[error(
        "the file has no RR values; expected one RR interval in ms per line, or a CSV with an `rr` column"
    )]
    Empty,
    #[error(
        "line {line}: {text:?} is not a number; expected one RR interval in ms per line (`#` starts a comment)"
    )]
    NotANumber { line: usize, text: String },
    #[error(
        "line {line}: the CSV header has no `rr` or `rr_ms` column; name the RR column `rr_ms` (milliseconds)"
    )]
    NoRrColumn { line: usize },
    #[error(
        "line {line}: expected {expected} columns like the header, found {found}; check the separator"
    )]
    ColumnCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}: {text:?} in column `{column}` is not a number; fix or remove that row")]
    NotANumberInColumn {
        line: usize,
        column: String,
        text: String,
    },
    #[error("line {line}: the time {time} is not after the previous row's; sort the file by time")]
    TimeNotIncreasing { line: usize, time: f64 },
}

/// Parses the text of a recording.
pub fn parse_recording(text: &str) -> Result<Recording, RecordingError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, raw)| (index + 1, strip_comment(raw).trim()))
        .filter(|(_, line)| !line.is_empty());
    let Some((first_line, first)) = lines.next() else {
        return Err(RecordingError::Empty);
    };
    let recording = if first.chars().any(|c| c.is_ascii_alphabetic()) && !is_number(first) {
        parse_csv(first_line, first, lines)?
    } else {
        parse_plain(std::iter::once((first_line, first)).chain(lines))?
    };
    if recording.rr_ms.is_empty() {
        return Err(RecordingError::Empty);
    }
    Ok(convert_seconds(recording))
}

fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(before, _)| before)
}

fn is_number(text: &str) -> bool {
    text.parse::<f64>().is_ok()
}

fn parse_plain<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Result<Recording, RecordingError> {
    let mut rr_ms = Vec::new();
    let mut line_numbers = Vec::new();
    for (line, text) in lines {
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .ok_or_else(|| RecordingError::NotANumber {
                line,
                text: text.to_owned(),
            })?;
        rr_ms.push(value);
        line_numbers.push(line);
    }
    Ok(Recording {
        rr_ms,
        lines: line_numbers,
        times_secs: None,
        converted_from_secs: false,
    })
}

fn separator_of(header: &str) -> char {
    [',', ';', '\t']
        .into_iter()
        .max_by_key(|&candidate| header.matches(candidate).count())
        .filter(|&candidate| header.contains(candidate))
        .unwrap_or(',')
}

fn split_row(row: &str, separator: char) -> Vec<&str> {
    row.split(separator)
        .map(|cell| cell.trim().trim_matches('"').trim())
        .collect()
}

fn parse_csv<'a>(
    header_line: usize,
    header: &str,
    rows: impl Iterator<Item = (usize, &'a str)>,
) -> Result<Recording, RecordingError> {
    let separator = separator_of(header);
    let columns: Vec<String> = split_row(header, separator)
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let find = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
    let rr_column =
        find(&["rr_ms", "rr"]).ok_or(RecordingError::NoRrColumn { line: header_line })?;
    let time_column = find(&[
        "time",
        "timestamp",
        "time_ms",
        "timestamp_ms",
        "time_s",
        "time_secs",
    ]);
    let time_in_ms = time_column.is_some_and(|index| columns[index].ends_with("_ms"));

    let mut rr_ms = Vec::new();
    let mut line_numbers = Vec::new();
    let mut times_secs = time_column.map(|_| Vec::new());
    for (line, row) in rows {
        let cells = split_row(row, separator);
        if cells.len() != columns.len() {
            return Err(RecordingError::ColumnCount {
                line,
                expected: columns.len(),
                found: cells.len(),
            });
        }
        // `NaN` and `inf` parse as floats but are no time and no interval: refused here, or a
        // NaN time would slip past the ordering check below.
        let number = |index: usize| {
            cells[index]
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| RecordingError::NotANumberInColumn {
                    line,
                    column: columns[index].clone(),
                    text: cells[index].to_owned(),
                })
        };
        rr_ms.push(number(rr_column)?);
        line_numbers.push(line);
        if let (Some(index), Some(times)) = (time_column, times_secs.as_mut()) {
            let raw = number(index)?;
            let time = if time_in_ms { raw / 1000.0 } else { raw };
            if times.last().is_some_and(|&previous| time <= previous) {
                return Err(RecordingError::TimeNotIncreasing { line, time: raw });
            }
            times.push(time);
        }
    }
    Ok(Recording {
        rr_ms,
        lines: line_numbers,
        times_secs,
        converted_from_secs: false,
    })
}

/// Some exports write RR in seconds; no heartbeat lasts 10 s, so all values below 10 means seconds.
fn convert_seconds(mut recording: Recording) -> Recording {
    let all_below_ten = recording
        .rr_ms
        .iter()
        .all(|&value| value.is_finite() && value < 10.0);
    if all_below_ten {
        for value in &mut recording.rr_ms {
            *value *= 1000.0;
        }
        recording.converted_from_secs = true;
    }
    recording
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_rr_ms: &[f64]) {
        let recording = parse_recording(text).expect("the recording parses");
        assert_eq!(recording.rr_ms, expected_rr_ms);
    }

    fn check_error(text: &str, expected: RecordingError) {
        assert_eq!(parse_recording(text), Err(expected));
    }

    #[test]
    fn plain_lines_with_comments_and_blanks() {
        check(
            "# exported\n800\n\n 812.5 \n790 # a note\n",
            &[800.0, 812.5, 790.0],
        );
    }

    #[test]
    fn nan_and_infinity_are_not_numbers_in_either_shape() {
        check_error(
            "800\nNaN\n",
            RecordingError::NotANumber {
                line: 2,
                text: "NaN".to_owned(),
            },
        );
        check_error(
            "time,rr\n1,800\nnan,810\n",
            RecordingError::NotANumberInColumn {
                line: 3,
                column: "time".to_owned(),
                text: "nan".to_owned(),
            },
        );
        check_error(
            "rr_ms\ninf\n",
            RecordingError::NotANumberInColumn {
                line: 2,
                column: "rr_ms".to_owned(),
                text: "inf".to_owned(),
            },
        );
    }

    #[test]
    fn seconds_are_converted() {
        let recording = parse_recording("0.8\n0.81\n").unwrap();
        assert!(recording.converted_from_secs);
        assert_eq!(recording.rr_ms, [800.0, 810.0]);
    }

    #[test]
    fn milliseconds_are_not_converted_when_one_value_is_ten_or_more() {
        let recording = parse_recording("0.8\n810\n").unwrap();
        assert!(!recording.converted_from_secs);
    }

    #[test]
    fn csv_with_rr_column() {
        check("time,rr_ms\n0.8,800\n1.61,810\n", &[800.0, 810.0]);
        check("RR\n800\n810\n", &[800.0, 810.0]);
        check("hr;rr\n75;800\n74;810\n", &[800.0, 810.0]);
    }

    #[test]
    fn csv_time_column_gives_beat_times() {
        let recording = parse_recording("timestamp_ms,rr\n1000,800\n1810,810\n").unwrap();
        assert_eq!(recording.times_secs, Some(vec![1.0, 1.81]));
        let beats = recording.beats();
        assert_eq!(
            beats[1],
            Beat {
                time_secs: 1.81,
                rr_ms: 810.0
            }
        );
    }

    #[test]
    fn beats_without_times_come_from_the_cumulative_sum() {
        let beats = parse_recording("800\n1000\n").unwrap().beats();
        assert_eq!(beats[0].time_secs, 0.8);
        assert_eq!(beats[1].time_secs, 1.8);
    }

    #[test]
    fn errors_name_the_line() {
        check_error("", RecordingError::Empty);
        check_error("# only a comment\n\n", RecordingError::Empty);
        check_error("rr_ms\n", RecordingError::Empty);
        check_error(
            "800\n81O\n",
            RecordingError::NotANumber {
                line: 2,
                text: "81O".into(),
            },
        );
        check_error("time,hr\n1,60\n", RecordingError::NoRrColumn { line: 1 });
        check_error(
            "time,rr\n1,800\n2\n",
            RecordingError::ColumnCount {
                line: 3,
                expected: 2,
                found: 1,
            },
        );
        check_error(
            "time,rr\n1,800\n2,x\n",
            RecordingError::NotANumberInColumn {
                line: 3,
                column: "rr".into(),
                text: "x".into(),
            },
        );
        check_error(
            "time,rr\n2,800\n1,810\n",
            RecordingError::TimeNotIncreasing { line: 3, time: 1.0 },
        );
    }
}
