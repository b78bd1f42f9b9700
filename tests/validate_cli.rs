//! `churnlake validate`: every problem of a broken pipeline file, at once, with where it is
//! and what to do; exit code 2.

mod common;

use common::*;

const BROKEN: &str = r#"[pipeline]
name = "broken"
timezone = "Mars/Olympus"
colour = "blue"

[sources.handoffs]
kind = "handoffs"
path = "handoffs/*.csv"
max_bad_ratio = 3

[sources.handoffs.columns]
acount_id = "account"
deal_id = ""

[sources.tickets]
kind = "ticket"
path = "tickets/*.ndjson"

[sources.events]
kind = "events"
path = "nowhere/*.ndjson"
colums = 1
max_bad_rowz = 2

[reports]
x = 1
"#;

#[test]
fn validate_lists_every_problem_with_its_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.toml", BROKEN);
    write(
        dir.path(),
        "handoffs/h.csv",
        "deal_id,account_id,start_date,mrr\n",
    );
    let out = churnlake(
        dir.path(),
        &["--pipeline", "broken.toml", "--data-root", ".", "validate"],
    );
    assert_eq!(exit_code(&out), 2);
    let err = stderr(&out);
    let expected = [
        "broken.toml:25: unknown top-level key `reports`",
        "broken.toml:4: unknown key `colour` in [pipeline]",
        "broken.toml:3: unknown timezone `Mars/Olympus`",
        "broken.toml:12: `acount_id` is not a field of handoffs (did you mean `account_id`?)",
        "broken.toml:13: required field `deal_id` of handoffs is mapped to nothing",
        "broken.toml:9: max_bad_ratio 3 is outside 0–1",
        "broken.toml:16: unknown kind `ticket` for source `tickets` (did you mean `tickets`?)",
        "broken.toml:22: unknown key `colums` in [sources.events] (did you mean `columns`?)",
        "broken.toml:23: unknown key `max_bad_rowz` in [sources.events] (did you mean `max_bad_rows`?)",
        "broken.toml:17: no file matches `tickets/*.ndjson` (looked for `",
        "broken.toml:21: no file matches `nowhere/*.ndjson` (looked for `",
    ];
    for line in expected {
        assert!(err.contains(line), "missing `{line}` in:\n{err}");
    }
    assert!(err.contains("11 problem(s) in broken.toml"), "{err}");
}

#[test]
fn validate_accepts_the_default_pipeline_on_the_fixtures() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = churnlake(root, &["validate"]);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pipeline `default` is valid (6 sources"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.toml",
        "[pipeline]\nname = \"x\"\ntimezone = \n",
    );
    let out = churnlake(dir.path(), &["--pipeline", "bad.toml", "validate"]);
    assert_eq!(exit_code(&out), 2);
    assert!(
        stderr(&out).contains("bad.toml:3: not valid TOML"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_pipeline_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnlake(dir.path(), &["--pipeline", "nope.toml", "validate"]);
    assert_eq!(exit_code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read pipeline file nope.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_command_line_option_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnlake(dir.path(), &["ingest", "--bogus"]);
    assert_eq!(exit_code(&out), 2);
}

/// One file with a problem in each part: its top level, its [pipeline] section, a source's
/// kind and, in the same source, its glob, and an SQL expression.
const BROKEN_EVERYWHERE: &str = r#"timezone = "Asia/Tokyo"

[pipeline]
name = "everywhere"
batch_rows = "many"

[sources.handoffs]
kind = "handoffs"
path = "handoffs/*.csv"

[sources.tickets]
kind = "ticket"
path = "nowhere/*.ndjson"

[[maturity]]
level = 1
when = "active_days_300d >= 1"

[health]
name = "h"
version = 1

[[health.components]]
name = "usage"
metric = "events_30d / nope"
scale = "linear"
bad = 0
good = 10
weight = 1
"#;

#[test]
fn validate_reports_every_problem_of_every_section_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.toml", BROKEN_EVERYWHERE);
    write(
        dir.path(),
        "handoffs/h.csv",
        "deal_id,account_id,start_date,mrr,mrr\n",
    );
    let out = churnlake(
        dir.path(),
        &["--pipeline", "broken.toml", "--data-root", ".", "validate"],
    );
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    let expected = [
        "broken.toml:1: unknown top-level key `timezone`",
        "broken.toml:3: in [pipeline]:",
        "handoffs/h.csv: header names column `mrr` 2 times (positions 4 and 5), and field `mrr` maps to it",
        "broken.toml:12: unknown kind `ticket` for source `tickets`",
        "broken.toml:13: no file matches `nowhere/*.ndjson`",
        "broken.toml:17: maturity level 1:",
        "broken.toml:25: health component `usage`:",
    ];
    for line in expected {
        assert!(err.contains(line), "missing `{line}` in:\n{err}");
    }
    assert!(err.contains("7 problem(s) in broken.toml"), "{err}");
}
