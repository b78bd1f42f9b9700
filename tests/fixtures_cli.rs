//! The committed fixtures (`fixtures/`, made by `churnlake generate`) through `ingest`:
//! staged row counts, every planted malformed row in quarantine with its reason, counts that
//! reconcile, identical tables on a re-run, and fixtures that match their generator.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The command that made `fixtures/`; `generated_fixtures_match_the_generator` keeps them in step.
pub const FIXTURE_ARGS: &[&str] = &[
    "generate",
    "--accounts",
    "25",
    "--days",
    "150",
    "--seed",
    "7",
    "--events-per-user-day",
    "0.5",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Ingests the fixtures into a fresh warehouse.
fn ingest_fixtures() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let out = churnlake(root(), &["--warehouse", wh.to_str().unwrap(), "ingest"]);
    assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    (dir, wh)
}

/// `_malformed.csv`: (file relative to fixtures, line) → kind.
fn planted_defects() -> BTreeMap<(String, u64), String> {
    let text = std::fs::read_to_string(root().join("fixtures/_malformed.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let parts: Vec<&str> = line.split(',').collect();
            (
                (parts[0].to_string(), parts[1].parse().unwrap()),
                parts[2].to_string(),
            )
        })
        .collect()
}

/// What a quarantine reason says for each kind of planted defect.
fn reason_for(kind: &str) -> &'static str {
    match kind {
        "unparseable_json" => "not valid JSON",
        "csv_field_count" => "fields as in the header",
        "bad_timestamp" => "is not an RFC 3339 timestamp",
        "bad_date" => "is not a date",
        "missing_required" => "missing required field",
        "bad_enum" => "is not one of",
        "negative_amount" => "is negative",
        "out_of_range" => "is outside 0–10",
        "number_too_large" => "is too large",
        "invalid_utf8" => "not UTF-8",
        "bad_number" => "is not an integer",
        other => panic!("unknown defect kind {other} in _malformed.csv"),
    }
}

#[test]
fn every_planted_malformed_row_is_quarantined_with_its_reason() {
    let (_dir, wh) = ingest_fixtures();
    let quarantined: BTreeMap<(String, u64), String> =
        query(&wh, "select file, line, reason from quarantine")
            .into_iter()
            .map(|row| {
                let file = row[0]
                    .split("fixtures/")
                    .nth(1)
                    .unwrap_or(&row[0])
                    .to_string();
                ((file, row[1].parse().unwrap()), row[2].clone())
            })
            .collect();
    let planted = planted_defects();
    let kinds: std::collections::BTreeSet<&str> = planted.values().map(String::as_str).collect();
    assert_eq!(
        kinds.len(),
        11,
        "every kind of contract §2 defect is planted: {kinds:?}"
    );
    for ((file, line), kind) in &planted {
        let reason = quarantined.get(&(file.clone(), *line)).unwrap_or_else(|| {
            panic!("{file}:{line} ({kind}) is not in quarantine: {quarantined:#?}")
        });
        assert!(
            reason.contains(reason_for(kind)),
            "{file}:{line} {kind}: {reason}"
        );
    }
    assert_eq!(
        quarantined.len(),
        planted.len(),
        "only planted rows are rejected: {quarantined:#?}"
    );
}

#[test]
fn fixture_counts_reconcile_and_grains_hold() {
    let (_dir, wh) = ingest_fixtures();
    for row in query(
        &wh,
        "select source, rows_read, rows_loaded, rows_quarantined, duplicates, status, checks from data_quality",
    ) {
        let n = |i: usize| row[i].parse::<u64>().unwrap();
        assert_eq!(n(1), n(2) + n(3) + n(4), "{row:?}");
        assert_eq!(row[5], "ok", "{row:?}");
        assert!(!row[6].contains("\"passed\":false"), "{row:?}");
    }
    for (table, key) in [
        ("stg_handoffs", "deal_id"),
        ("stg_tickets", "id"),
        ("stg_events", "message_id"),
        ("stg_pageviews", "message_id"),
        ("stg_identities", "message_id"),
        ("stg_users", "user_id"),
        ("stg_nps", "response_id"),
    ] {
        let sql = format!("select count(*) = count(distinct {key}) and count(*) > 0 from {table}");
        assert_eq!(
            scalar(&wh, &sql),
            "true",
            "{table} is unique on {key} and not empty"
        );
    }
    // Every planted account has a contract line; JPY lines are converted.
    let planted = std::fs::read_to_string(root().join("fixtures/_planted.csv")).unwrap();
    let accounts = planted.lines().skip(1).count();
    assert_eq!(
        scalar(&wh, "select count(distinct account_id) from stg_handoffs"),
        accounts.to_string()
    );
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from stg_handoffs where currency = 'JPY' and mrr_reporting < mrr / 100"
        ),
        scalar(
            &wh,
            "select count(*) from stg_handoffs where currency = 'JPY'"
        ),
    );
    // Segment duplicates (retries) were planted and removed; events without a groupId resolved.
    let events = query(
        &wh,
        "select duplicates, orphans from data_quality where source = 'events'",
    );
    assert!(events[0][0].parse::<u64>().unwrap() > 0, "{events:?}");
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from stg_events where account_id is null"
        ),
        "0"
    );
    // Japanese notes are parsed into handoff fields.
    assert_ne!(
        scalar(
            &wh,
            "select count(*) from stg_handoffs where currency = 'JPY' and goal is not null and notes like '%：%'"
        ),
        "0"
    );
}

#[test]
fn ingesting_the_fixtures_twice_gives_identical_staged_tables() {
    let (_dir, wh) = ingest_fixtures();
    let tables = [
        "stg_handoffs",
        "stg_tickets",
        "stg_events",
        "stg_pageviews",
        "stg_identities",
        "stg_users",
        "stg_nps",
        "stg_fx_rates",
    ];
    let dump = |wh: &Path| -> Vec<Vec<Vec<String>>> {
        tables
            .iter()
            .map(|t| query(wh, &format!("select * from {t} order by 1, 2")))
            .collect()
    };
    let first = dump(&wh);
    let out = churnlake(root(), &["--warehouse", wh.to_str().unwrap(), "ingest"]);
    assert_eq!(exit_code(&out), 0);
    assert_eq!(dump(&wh), first);
}

#[test]
fn generated_fixtures_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fixtures");
    let mut args = FIXTURE_ARGS.to_vec();
    args.extend(["--out", out_dir.to_str().unwrap()]);
    let out = churnlake(root(), &args);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let relative = |files: Vec<(PathBuf, Vec<u8>)>, base: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(base).unwrap().to_path_buf(), b))
            .collect()
    };
    let fresh = relative(snapshot(&out_dir), &out_dir);
    let committed = relative(snapshot(&root().join("fixtures")), &root().join("fixtures"));
    let names =
        |files: &[(PathBuf, Vec<u8>)]| files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&fresh),
        names(&committed),
        "regenerate with: cargo run -- {} --out fixtures",
        FIXTURE_ARGS.join(" ")
    );
    for ((path, fresh), (_, committed)) in fresh.iter().zip(&committed) {
        assert!(
            fresh == committed,
            "{} differs; regenerate with: cargo run -- {} --out fixtures",
            path.display(),
            FIXTURE_ARGS.join(" ")
        );
    }
}

/// (account, persona, contract_end) of `_planted.csv`.
fn planted_accounts() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("fixtures/_planted.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let parts: Vec<&str> = line.split(',').collect();
            (
                parts[0].to_string(),
                parts[1].to_string(),
                parts[3].to_string(),
            )
        })
        .collect()
}

fn build_at(wh: &Path, date: &str) {
    let out = churnlake(
        root(),
        &[
            "--warehouse",
            wh.to_str().unwrap(),
            "build",
            "--as-of",
            date,
        ],
    );
    assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn planted_churners_are_red_or_falling_30_days_before_their_contracts_end() {
    let (_dir, wh) = ingest_fixtures();
    let churners: Vec<(String, String)> = planted_accounts()
        .into_iter()
        .filter(|(_, persona, _)| persona == "churner")
        .map(|(account, _, end)| (account, end))
        .collect();
    assert!(churners.len() >= 3, "{churners:?}");
    for (account, end) in &churners {
        let end = chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d").unwrap();
        let date = (end - chrono::Duration::days(30)).to_string();
        build_at(&wh, &date);
        let row = query(
            &wh,
            &format!(
                "select band, trend, lifecycle_stage from health_scores h join customer_daily c \
                 on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
                 where h.account_id = '{account}' and h.as_of_date = date '{date}'"
            ),
        );
        assert_eq!(row.len(), 1, "{account} on {date}");
        assert!(
            row[0][0] == "red" || row[0][1] == "down",
            "{account} on {date}: {row:?}"
        );
        assert_eq!(row[0][2], "renewal", "{account} on {date}");
    }
}

#[test]
fn healthy_expanders_are_green_and_default_rules_fire_on_planted_accounts_only() {
    let (_dir, wh) = ingest_fixtures();
    for date in ["2026-08-04", "2026-08-24", "2026-10-31"] {
        build_at(&wh, date);
    }
    let expanders: Vec<String> = planted_accounts()
        .into_iter()
        .filter(|(_, persona, _)| persona == "expander")
        .map(|(account, _, _)| account)
        .collect();
    for account in &expanders {
        assert_eq!(
            scalar(
                &wh,
                &format!(
                    "select band from health_scores where account_id = '{account}' and as_of_date = date '2026-10-31'"
                )
            ),
            "green",
            "{account}"
        );
    }
    let fired = |rule: &str, date: &str| -> Vec<String> {
        query(
            &wh,
            &format!("select account_id from playbook_actions where rule_id = '{rule}' and as_of_date = date '{date}' order by 1"),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    };
    // The churner acc_0004 (contract ends 2026-09-03) loses health, then is red before renewal.
    assert!(fired("health_drop", "2026-08-04").contains(&"acc_0004".to_string()));
    assert!(fired("red_before_renewal", "2026-08-24").contains(&"acc_0004".to_string()));
    assert!(fired("low_seat_utilization", "2026-08-24").contains(&"acc_0004".to_string()));
    // acc_0017 started on 2026-09-27 and has not used the product.
    assert_eq!(fired("onboarding_stalled", "2026-10-31"), vec!["acc_0017"]);
    assert_eq!(fired("no_activity_14d", "2026-10-31"), vec!["acc_0017"]);
    // Churners rated tickets bad before leaving.
    assert!(fired("bad_csat", "2026-08-24").contains(&"acc_0012".to_string()));
    // The healthy expander acc_0007 triggers nothing.
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from playbook_actions where account_id = 'acc_0007'"
        ),
        "0"
    );
    // Grains hold on every date built.
    for (table, key) in [
        ("customer_daily", "account_id, as_of_date"),
        ("health_scores", "account_id, as_of_date"),
        ("playbook_actions", "account_id, as_of_date, rule_id"),
    ] {
        assert_eq!(
            scalar(
                &wh,
                &format!(
                    "select count(*) from (select {key} from {table} group by {key} having count(*) > 1)"
                )
            ),
            "0",
            "{table}"
        );
    }
}

/// Every output table's column types as its Parquet files carry them, one line per column:
/// `table.column: type` (`?` after a nullable type). Hive partition columns are in the
/// directory names, not the files, and are not listed.
fn written_schemas(wh: &Path) -> String {
    let mut tables: Vec<PathBuf> = std::fs::read_dir(wh)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_dir() && !path.file_name().unwrap().to_str().unwrap().starts_with('_')
        })
        .collect();
    tables.sort();
    let mut lines = Vec::new();
    for table in tables {
        let name = table.file_name().unwrap().to_str().unwrap().to_string();
        let file = first_parquet_file(&table).unwrap_or_else(|| panic!("{name} has no file"));
        let reader = std::fs::File::open(&file).unwrap();
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader).unwrap();
        for field in builder.schema().fields() {
            let nullable = if field.is_nullable() { "?" } else { "" };
            lines.push(format!(
                "{name}.{}: {}{nullable}",
                field.name(),
                field.data_type()
            ));
        }
    }
    lines.join("\n") + "\n"
}

fn first_parquet_file(dir: &Path) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries.iter().find_map(|path| {
        if path.is_dir() {
            first_parquet_file(path)
        } else {
            (path.extension().is_some_and(|e| e == "parquet")).then(|| path.clone())
        }
    })
}

/// BI tools and warehouses read the output tables by their column types: a change of type
/// (Utf8 to LargeUtf8, Int32 to Int64) breaks a reader and, once partitions of both kinds
/// are published, the table itself. `docs/output-schemas.txt` is the documented list; a
/// change that means to alter it regenerates it with `CHURNLAKE_BLESS=1 cargo test --test
/// fixtures_cli output_tables` and says so in the README.
#[test]
fn output_tables_keep_their_documented_column_types() {
    let (_dir, wh) = ingest_fixtures();
    build_at(&wh, "2026-10-31");
    let written = written_schemas(&wh);
    let documented_path = root().join("docs/output-schemas.txt");
    if std::env::var_os("CHURNLAKE_BLESS").is_some() {
        std::fs::write(&documented_path, &written).unwrap();
    }
    let documented = std::fs::read_to_string(&documented_path).unwrap_or_default();
    let changed: Vec<String> = diff_lines(&documented, &written);
    assert!(
        changed.is_empty(),
        "the output tables' column types differ from docs/output-schemas.txt \
         (- documented, + written):\n{}",
        changed.join("\n")
    );
}

fn diff_lines(documented: &str, written: &str) -> Vec<String> {
    let documented: Vec<&str> = documented.lines().collect();
    let written: Vec<&str> = written.lines().collect();
    let gone = documented
        .iter()
        .filter(|line| !written.contains(line))
        .map(|line| format!("- {line}"));
    let new = written
        .iter()
        .filter(|line| !documented.contains(line))
        .map(|line| format!("+ {line}"));
    gone.chain(new).collect()
}
