//! Delta-format warehouses (`--table-format delta`), checked with real readers: Python
//! deltalake, DuckDB's delta_scan and Spark read what churnlake wrote; re-running a date adds
//! one version per replaced table, and `query --version` / `history` show the old ones;
//! `compact --vacuum` deletes only what no kept version reads.
//!
//! The readers come from the venv `.ci/readers.sh` makes (`CHURNLAKE_READERS_VENV`, default
//! `~/.cache/churnlake-ci/readers`). Without it a reader test says so and passes locally; under
//! `CI=true` it fails.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// churnlake with a warehouse of the test's own, in the given table format.
fn cl(wh: &Path, format: &str, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churnlake"))
        .current_dir(root())
        .env_remove("CHURNLAKE_TABLE_FORMAT")
        .arg("--warehouse")
        .arg(wh)
        .arg("--data-root")
        .arg(data)
        .args(["--table-format", format])
        .args(args)
        .output()
        .expect("churnlake runs")
}

/// What `tests/readers/compare_formats.py` saw.
fn compare(venv: &Path, parquet: &Path, delta: &Path, spark: bool) -> serde_json::Value {
    let mut command = Command::new(venv.join("bin/python"));
    command
        .arg(root().join("tests/readers/compare_formats.py"))
        .arg(parquet)
        .arg(delta);
    if spark {
        command.arg("--spark");
    }
    let out = command.output().expect("python runs");
    assert!(out.status.success(), "readers failed:\n{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn demo(dir: &Path, format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churnlake"))
        .current_dir(root())
        .env_remove("CHURNLAKE_TABLE_FORMAT")
        .args([
            "--table-format",
            format,
            "demo",
            "--accounts",
            "60",
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("churnlake runs")
}

#[test]
fn the_demo_in_delta_is_read_by_deltalake_duckdb_and_spark_equal_to_the_parquet_run() {
    let dir = tempfile::tempdir().unwrap();
    let (parquet, delta) = (dir.path().join("parquet"), dir.path().join("delta"));
    ok(&demo(&parquet, "parquet"));
    ok(&demo(&delta, "delta"));
    let delta_wh = delta.join("warehouse");
    for table in [
        "health_scores",
        "customer_daily",
        "runs",
        "stg_events",
        "mrr_monthly",
    ] {
        assert!(
            delta_wh.join(table).join("_delta_log").is_dir(),
            "{table} is a Delta table"
        );
    }
    // Our own reads see the same rows in both formats.
    let tables = [
        "stg_events",
        "customer_daily",
        "health_scores",
        "playbook_actions",
        "retention_monthly",
        "churn_cohorts",
    ];
    assert_same(
        &table_rows(&delta_wh, &tables),
        &table_rows(&parquet.join("warehouse"), &tables),
        "parquet and delta warehouses",
    );
    let Some(venv) = readers() else { return };
    let seen = compare(&venv, &parquet.join("warehouse"), &delta_wh, true);
    let tables = seen["tables"].as_object().unwrap();
    assert!(tables.len() >= 18, "every output table is read: {seen}");
    for (name, entry) in tables {
        let rows = &entry["rows"];
        let n = rows["pyarrow"].as_u64().unwrap();
        for reader in ["deltalake", "duckdb_delta", "duckdb_parquet"] {
            assert_eq!(
                rows[reader].as_u64(),
                Some(n),
                "{name}: {reader} rows {entry}"
            );
        }
        assert_eq!(
            entry["spark_rows"].as_u64(),
            Some(n),
            "{name}: Spark {entry}"
        );
        assert_eq!(
            entry["spark_sums_equal"], true,
            "{name}: Spark sums {entry}"
        );
        if !["runs", "data_quality", "quarantine"].contains(&name.as_str()) {
            for check in [
                "pyarrow_equal",
                "duckdb_delta_equal",
                "duckdb_parquet_equal",
            ] {
                assert_eq!(entry[check], true, "{name}: {check} {entry}");
            }
        }
    }
    for table in ["health_scores", "customer_daily", "stg_events"] {
        assert!(
            tables[table]["rows"]["deltalake"].as_u64().unwrap() > 0,
            "{table} has rows"
        );
    }
    // Spark cannot read nanoseconds: every timestamp is microseconds, UTC.
    for ty in seen["timestamp_types"].as_array().unwrap() {
        assert_eq!(ty[2], "timestamp[us, tz=UTC]", "{ty}");
    }
}

const DAY: &str = "2026-08-24";

#[test]
fn re_running_a_date_adds_one_version_per_table_and_the_old_one_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, "delta", &data, &["run", "--as-of", DAY]));
    let scores = "select account_id, score, band from health_scores order by account_id";
    let before = query(&wh, scores);
    let versions_before = history_rows(&wh, &data, "health_scores");
    assert_eq!(versions_before.len(), 1, "{versions_before:?}");

    // A new health model version, then the same date again.
    let pipeline = std::fs::read_to_string(root().join("pipelines/default.toml")).unwrap();
    let changed = pipeline
        .replacen(
            "name = \"cs-health\"\nversion = 1",
            "name = \"cs-health\"\nversion = 2",
            1,
        )
        .replacen("weight = 20", "weight = 60", 1);
    assert_ne!(changed, pipeline);
    let file = write(dir.path(), "v2.toml", changed);
    let out = cl(
        &wh,
        "delta",
        &data,
        &["--pipeline", file.to_str().unwrap(), "run", "--as-of", DAY],
    );
    ok(&out);
    let versions = history_rows(&wh, &data, "health_scores");
    assert_eq!(versions.len(), 2, "one new version: {versions:?}");
    assert!(
        versions[0].contains("WRITE") && versions[0].contains(" run "),
        "{versions:?}"
    );
    let after = query(&wh, scores);
    assert_ne!(after, before, "the new model scores differently");

    // The previous version holds the old rows, next to the current ones.
    let out = cl(
        &wh,
        "delta",
        &data,
        &[
            "query",
            "--version",
            "0",
            "select count(*) as n, sum(case when h.score = c.score then 0 else 1 end) as moved \
             from health_scores h join current_health_scores c using (account_id, as_of_date)",
        ],
    );
    ok(&out);
    let shown = stdout(&out);
    assert!(shown.contains(&format!("| {} ", before.len())), "{shown}");
    let old = rows_of(&cl(
        &wh,
        "delta",
        &data,
        &["query", "--version", "0", scores],
    ));
    assert_eq!(old.len(), before.len());
    for (shown, expected) in old.iter().zip(&before) {
        assert_eq!(shown[0], expected[0]);
        assert_eq!(shown[2], expected[2], "{shown:?} vs {expected:?}");
    }

    // Vacuum with no days kept deletes the old files: the current rows stand, version 0 is gone.
    let keep0 = write(
        dir.path(),
        "keep0.toml",
        format!(
            "{}\n[warehouse]\nkeep_versions_days = 0\n",
            std::fs::read_to_string(&file).unwrap()
        ),
    );
    let files = |wh: &Path| parquet_files(&wh.join("health_scores"));
    let before_vacuum = files(&wh);
    let out = cl(
        &wh,
        "delta",
        &data,
        &["--pipeline", keep0.to_str().unwrap(), "compact", "--vacuum"],
    );
    ok(&out);
    assert!(stdout(&out).contains("health_scores"), "{}", stdout(&out));
    assert!(files(&wh) < before_vacuum, "{} files before", before_vacuum);
    assert_eq!(query(&wh, scores), after);
    let gone = cl(&wh, "delta", &data, &["query", "--version", "0", scores]);
    assert_ne!(exit_code(&gone), 0, "{}", stdout(&gone));
}

/// The version lines of `churnlake history TABLE`, newest first.
fn history_rows(wh: &Path, data: &Path, table: &str) -> Vec<String> {
    let out = cl(wh, "delta", data, &["history", table]);
    ok(&out);
    stdout(&out).lines().skip(1).map(str::to_string).collect()
}

/// The cells of the rows `query` printed (DataFusion's table format).
fn rows_of(out: &Output) -> Vec<Vec<String>> {
    ok(out);
    stdout(out)
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn parquet_files(dir: &Path) -> usize {
    snapshot(dir)
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "parquet"))
        .count()
}

#[test]
fn a_warehouse_keeps_its_format_and_parquet_has_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, "parquet", &data, &["run", "--as-of", DAY]));
    let untouched = snapshot(&wh);
    let out = cl(&wh, "delta", &data, &["run", "--as-of", DAY]);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds parquet tables, but this run writes table_format = \"delta\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&wh), untouched, "a refused run changes nothing");
    let out = cl(&wh, "parquet", &data, &["history", "health_scores"]);
    assert_eq!(exit_code(&out), 2);
    assert!(
        stderr(&out).contains("is a Parquet table, which keeps no history"),
        "{}",
        stderr(&out)
    );
    let out = cl(
        &wh,
        "parquet",
        &data,
        &["query", "--version", "0", "select 1"],
    );
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("time travel reads Delta tables"),
        "{}",
        stderr(&out)
    );
    let out = cl(&wh, "parquet", &data, &["compact"]);
    assert_eq!(exit_code(&out), 2);
    assert!(
        stderr(&out).contains("compact works on Delta tables"),
        "{}",
        stderr(&out)
    );
}
