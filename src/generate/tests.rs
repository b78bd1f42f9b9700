//! End-to-end checks of `generate` on a tiny dataset: what a user of the files relies on.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

use super::*;

const HANDOFF_COLUMNS: usize = 24;

fn options(out: &Path) -> GenerateOptions {
    GenerateOptions {
        accounts: 50,
        days: 120,
        seed: 42,
        end_date: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        out: out.to_path_buf(),
        volume: Volume::default(),
        daily_files_from: None,
        malformed: true,
    }
}

/// Every file under `root`, by path relative to it.
fn files_under(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(relative, path);
            }
        }
    }
    files
}

/// A file's content, decompressed by its extension.
fn content(path: &Path) -> Vec<u8> {
    let raw = fs::read(path).unwrap();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut text)
            .unwrap();
        text
    } else if name.ends_with(".zst") {
        zstd::decode_all(raw.as_slice()).unwrap()
    } else {
        raw
    }
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]), "files end with a newline");
    lines
}

/// CSV records by the physical line they start on.
fn csv_records(bytes: &[u8]) -> BTreeMap<u64, csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    reader
        .byte_records()
        .map(|record| {
            let record = record.unwrap();
            (record.position().unwrap().line(), record)
        })
        .collect()
}

struct PlantedRow {
    file: String,
    line: u64,
    kind: String,
}

fn answer_key(root: &Path) -> Vec<PlantedRow> {
    let mut reader = csv::Reader::from_path(root.join("_malformed.csv")).unwrap();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            PlantedRow {
                file: record[0].to_owned(),
                line: record[1].parse().unwrap(),
                kind: record[2].to_owned(),
            }
        })
        .collect()
}

fn generated() -> (tempfile::TempDir, GenerateSummary) {
    let out = tempfile::tempdir().unwrap();
    let summary = generate(&options(out.path())).unwrap();
    (out, summary)
}

fn parses_as_timestamp(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
}

/// Whether a planted NDJSON line shows the defect `kind`.
fn json_line_shows(kind: &str, line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return kind == "invalid_utf8";
    };
    let Ok(call) = serde_json::from_str::<Value>(text) else {
        return kind == "unparseable_json";
    };
    let is_ticket = call.get("requester_id").is_some();
    match kind {
        "bad_timestamp" => {
            let field = if is_ticket { "created_at" } else { "timestamp" };
            !parses_as_timestamp(call[field].as_str().unwrap())
        }
        "missing_required" => call
            .get(if is_ticket { "id" } else { "messageId" })
            .is_none(),
        "bad_enum" => {
            let statuses = ["new", "open", "pending", "hold", "solved", "closed"];
            let priorities = ["low", "normal", "high", "urgent"];
            !statuses.contains(&call["status"].as_str().unwrap())
                || call["priority"]
                    .as_str()
                    .is_some_and(|priority| !priorities.contains(&priority))
        }
        _ => false,
    }
}

/// Whether a planted CSV record shows the defect `kind`.
fn csv_record_shows(kind: &str, file: &str, record: &csv::ByteRecord) -> bool {
    let field = |index: usize| std::str::from_utf8(&record[index]);
    if file.starts_with("nps/") {
        return match kind {
            "invalid_utf8" => record
                .iter()
                .any(|field| std::str::from_utf8(field).is_err()),
            "out_of_range" => field(4)
                .unwrap()
                .parse::<i64>()
                .is_ok_and(|score| !(0..=10).contains(&score)),
            "bad_number" => field(4).unwrap().parse::<i64>().is_err(),
            _ => false,
        };
    }
    match kind {
        "csv_field_count" => record.len() != HANDOFF_COLUMNS,
        "bad_date" => NaiveDate::parse_from_str(field(9).unwrap(), "%Y-%m-%d").is_err(),
        "missing_required" => field(1).unwrap().is_empty(),
        "negative_amount" => field(11).unwrap().starts_with('-'),
        "number_too_large" => field(8).unwrap().parse::<i64>().is_err(),
        _ => false,
    }
}

#[test]
fn same_options_write_byte_identical_files() {
    let (first, _) = generated();
    let (second, _) = generated();
    let first_files = files_under(first.path());
    let second_files = files_under(second.path());
    assert_eq!(
        first_files.keys().collect::<Vec<_>>(),
        second_files.keys().collect::<Vec<_>>()
    );
    for (relative, path) in &first_files {
        assert!(
            fs::read(path).unwrap() == fs::read(&second_files[relative]).unwrap(),
            "{relative} differs"
        );
    }
}

#[test]
fn every_planted_row_is_at_the_line_the_answer_key_names() {
    let (out, _) = generated();
    let planted = answer_key(out.path());
    for row in &planted {
        let bytes = content(&out.path().join(&row.file));
        let shows = if row.file.ends_with(".csv") {
            let records = csv_records(&bytes);
            let record = records
                .get(&row.line)
                .unwrap_or_else(|| panic!("{}:{} starts no record", row.file, row.line));
            csv_record_shows(&row.kind, &row.file, record)
        } else {
            json_line_shows(&row.kind, lines(&bytes)[row.line as usize - 1])
        };
        assert!(shows, "{}:{} is not {}", row.file, row.line, row.kind);
    }
    let kinds: std::collections::BTreeSet<_> =
        planted.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(kinds.len(), 11, "every kind is planted: {kinds:?}");
}

#[test]
fn planted_rows_stay_under_the_bad_row_limits() {
    let (out, _) = generated();
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for row in answer_key(out.path()) {
        *per_source
            .entry(row.file.split('/').next().unwrap().to_owned())
            .or_default() += 1;
        *per_file.entry(row.file).or_default() += 1;
    }
    assert!(
        per_source.values().all(|count| *count <= 8),
        "{per_source:?}"
    );
    assert!(per_file.values().all(|count| *count <= 5), "{per_file:?}");
}

#[test]
fn every_other_row_is_well_formed() {
    let (out, _) = generated();
    let planted: Vec<(String, u64)> = answer_key(out.path())
        .into_iter()
        .map(|row| (row.file, row.line))
        .collect();
    let is_planted = |file: &str, line: u64| planted.iter().any(|(f, l)| f == file && *l == line);
    for (relative, path) in files_under(out.path()) {
        let bytes = content(&path);
        if relative.contains(".ndjson") {
            for (index, line) in lines(&bytes).into_iter().enumerate() {
                if is_planted(&relative, index as u64 + 1) {
                    continue;
                }
                let call: Value = serde_json::from_slice(line)
                    .unwrap_or_else(|error| panic!("{relative}:{}: {error}", index + 1));
                assert!(call.is_object(), "{relative}:{}", index + 1);
            }
        } else {
            let records = csv_records(&bytes);
            let width = csv::Reader::from_reader(bytes.as_slice())
                .headers()
                .unwrap()
                .len();
            for (line, record) in records
                .iter()
                .filter(|(line, _)| !is_planted(&relative, **line))
            {
                assert_eq!(record.len(), width, "{relative}:{line}");
                assert!(
                    record
                        .iter()
                        .all(|field| std::str::from_utf8(field).is_ok()),
                    "{relative}:{line}"
                );
            }
        }
    }
}

#[test]
fn persona_counts_match_the_shares_and_the_answer_key() {
    let (out, summary) = generated();
    let expected = [
        ("churner", 6),
        ("expander", 6),
        ("new", 5),
        ("reactivator", 3),
        ("steady", 30),
    ];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(name, count)| ((*name).to_owned(), *count))
        .collect();
    assert_eq!(summary.personas, expected);
    let mut reader = csv::Reader::from_path(out.path().join("_planted.csv")).unwrap();
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        *counted.entry(record.unwrap()[1].to_owned()).or_default() += 1;
    }
    assert_eq!(counted, expected.into_iter().collect());
}

#[test]
fn compressed_files_decompress_into_ndjson() {
    let (out, summary) = generated();
    let compressed: Vec<_> = summary
        .files
        .iter()
        .filter(|(path, _)| {
            path.extension()
                .is_some_and(|ext| ext == "gz" || ext == "zst")
        })
        .collect();
    assert!(
        compressed
            .iter()
            .any(|(path, _)| path.to_string_lossy().ends_with(".gz"))
    );
    assert!(
        compressed
            .iter()
            .any(|(path, _)| path.to_string_lossy().ends_with(".zst"))
    );
    for (path, bytes) in compressed {
        assert_eq!(fs::metadata(path).unwrap().len(), *bytes);
        assert!(
            !lines(&content(path)).is_empty(),
            "{} is empty",
            path.display()
        );
    }
    assert!(out.path().join("tickets/tickets-0002.ndjson.gz").exists());
}

#[test]
fn events_without_group_resolve_through_an_earlier_group_call() {
    let (out, _) = generated();
    let mut calls: Vec<Value> = Vec::new();
    for (relative, path) in files_under(out.path()) {
        if relative.starts_with("segment/") {
            let bytes = content(&path);
            calls.extend(
                lines(&bytes)
                    .into_iter()
                    .filter_map(|line| serde_json::from_slice(line).ok()),
            );
        }
    }
    let instant = |call: &Value| {
        let text = call["timestamp"].as_str().unwrap();
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.naive_utc())
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
            .ok()
    };
    let mut first_group: BTreeMap<String, NaiveDateTime> = BTreeMap::new();
    for call in calls.iter().filter(|call| call["type"] == "group") {
        let at = instant(call).unwrap();
        let user = call["userId"].as_str().unwrap().to_owned();
        first_group
            .entry(user)
            .and_modify(|first| *first = (*first).min(at))
            .or_insert(at);
    }
    let ungrouped = calls
        .iter()
        .filter(|call| call["type"] == "track" && call["context"].get("groupId").is_none());
    let mut checked = 0;
    for call in ungrouped.filter(|call| call.get("messageId").is_some()) {
        let Some(at) = instant(call) else { continue };
        let user = call["userId"].as_str().unwrap();
        assert!(
            first_group.get(user).is_some_and(|first| *first <= at),
            "{call}"
        );
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn without_malformed_rows_only_the_planted_lines_are_missing() {
    let (with_plants, _) = generated();
    let without = tempfile::tempdir().unwrap();
    generate(&GenerateOptions {
        malformed: false,
        ..options(without.path())
    })
    .unwrap();
    assert!(answer_key(without.path()).is_empty());
    let planted = answer_key(with_plants.path());
    for (relative, path) in files_under(with_plants.path()) {
        if relative == "_malformed.csv" {
            continue;
        }
        let planted_lines: Vec<u64> = planted
            .iter()
            .filter(|row| row.file == relative)
            .map(|row| row.line)
            .collect();
        let bytes = content(&path);
        let kept: Vec<&[u8]> = lines(&bytes)
            .into_iter()
            .enumerate()
            .filter(|(index, _)| !planted_lines.contains(&(*index as u64 + 1)))
            .map(|(_, line)| line)
            .collect();
        let clean = content(&without.path().join(&relative));
        assert!(
            kept == lines(&clean),
            "{relative} differs beyond its planted lines"
        );
    }
}

#[test]
fn a_monthly_file_left_by_another_date_range_is_refused() {
    let out = tempfile::tempdir().unwrap();
    fs::create_dir_all(out.path().join("segment")).unwrap();
    fs::write(out.path().join("segment/events-2019-01.ndjson"), "").unwrap();
    let error = generate(&options(out.path())).unwrap_err();
    assert!(
        matches!(error, GenerateError::StaleOutput { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("events-2019-01.ndjson"));
}

#[test]
fn too_short_a_history_is_refused_with_the_value() {
    let out = tempfile::tempdir().unwrap();
    let error = generate(&GenerateOptions {
        days: 7,
        ..options(out.path())
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `days` 7: generate at least 30 days, so planted churn and renewals fall inside the history"
    );
}

#[test]
fn daily_files_hold_the_same_calls_and_views_as_monthly_files() {
    let monthly = tempfile::tempdir().unwrap();
    let daily = tempfile::tempdir().unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
    generate(&options(monthly.path())).unwrap();
    // From the second-to-last month's end on, so a cross-month retry lands in a day file.
    let split = NaiveDate::from_ymd_opt(2026, 9, 29).unwrap();
    generate(&GenerateOptions {
        daily_files_from: Some(split),
        ..options(daily.path())
    })
    .unwrap();
    let files = files_under(daily.path());
    let day_files: Vec<&String> = files
        .keys()
        .filter(|name| name.starts_with("segment/events-2026-10-"))
        .collect();
    assert_eq!(
        day_files.len(),
        31,
        "one events file per day of October: {day_files:?}"
    );
    assert!(
        files
            .keys()
            .any(|name| name.starts_with("segment/events-2026-09.ndjson"))
    );
    assert!(
        files
            .keys()
            .any(|name| name.starts_with(&format!("helpsite/pages-{end}")))
    );
    for directory in ["segment/", "helpsite/"] {
        let sorted_lines = |root: &Path| {
            let mut all: Vec<Vec<u8>> = files_under(root)
                .iter()
                .filter(|(name, _)| name.starts_with(directory))
                .flat_map(|(_, path)| {
                    lines(&content(path))
                        .into_iter()
                        .map(<[u8]>::to_vec)
                        .collect::<Vec<_>>()
                })
                .collect();
            all.sort();
            all
        };
        let (by_month, by_day) = (sorted_lines(monthly.path()), sorted_lines(daily.path()));
        assert!(by_month.len() > 1000, "{directory} has rows");
        assert!(
            by_month == by_day,
            "{directory}: daily files hold other rows"
        );
    }
}
