//! `churnlake ingest` on small hand-built inputs: dedupe winners, note parsing, identity
//! resolution, FX conversion, quarantine reasons, failure modes and their exit codes.

mod common;

use common::*;
use std::path::Path;

const PIPELINE: &str = r#"
[pipeline]
name = "test"
timezone = "UTC"
reporting_currency = "USD"
warehouse = "wh"
data_root = "data"

[sources.handoffs]
kind = "handoffs"
path = "handoffs/*.csv"

[sources.tickets]
kind = "tickets"
path = "tickets/*.ndjson*"

[sources.events]
kind = "events"
path = "segment/*.ndjson*"

[sources.fx_rates]
kind = "fx_rates"
path = "fx/*.csv"
"#;

const HANDOFFS: &str = "\
deal_id,account_id,account_name,segment,seats,start_date,end_date,mrr,arr,currency,csm_owner,updated_at,goal,kpi,decision_maker,champion,notes
d1,acc_1,Acme,smb,10,2025-01-01,,100.00,,USD,Ann,2025-01-01T00:00:00Z,,,,,\"Kickoff went well.
Goal: Cut churn
KPI: weekly active users
Decision maker: Jane Doe\"
d1,acc_1,Acme,smb,12,2025-01-01,,120.00,,USD,Bob,2025-02-01T00:00:00Z,Grow usage,,,,\"Goal: from notes
Champion: Raj\"
d2,acc_2,山田商事,enterprise,50,2025-03-01,2026-03-01,,1200000,JPY,Ken,2025-03-01T00:00:00Z,,,,,\"目標：解約率を下げる
決裁者 ： 山田 太郎
推進者：佐藤\"
d3,acc_3,Beta,smb,5,2025-01-01,,-5,,USD,Ann,2025-01-01T00:00:00Z,,,,,
";

const FX: &str = "date,currency,rate\n2025-02-27,JPY,0.0070000000\n2025-02-28,JPY,0.0066666667\n2025-03-02,JPY,0.0090000000\n";

const EVENTS: &str = r#"{"type":"group","messageId":"g1","timestamp":"2025-01-01T00:00:00Z","userId":"u1","groupId":"acc_1"}
{"type":"group","messageId":"g2","timestamp":"2025-06-01T00:00:00Z","userId":"u1","groupId":"acc_2"}
{"type":"identify","messageId":"i1","timestamp":"2025-01-01T00:00:00Z","userId":"u1","traits":{"email":"u1@acme.test","name":"Uma","role":"admin"}}
{"type":"track","messageId":"t1","timestamp":"2025-03-01T10:00:00Z","userId":"u1","event":"Report Created","properties":{"n":1}}
{"type":"track","messageId":"t2","timestamp":"2025-07-01 23:30:00","userId":"u1","event":"Export Run"}

{"type":"track","messageId":"t1","timestamp":"2025-03-09T10:00:00Z","userId":"u1","event":"Retry","properties":{}}
{"type":"track","messageId":"t3","timestamp":"2025-07-02T00:00:00Z","userId":"u9","event":"Export Run"}
{"type":"track","messageId":"t4","timestamp":"2025-07-02T00:00:00Z","userId":"u1","event":"Export Run","context":{"groupId":"acc_3"}}
{"type":"track","messageId":"t5","timestamp":"yesterday","userId":"u1","event":"Export Run"}
{"type":"track","messageId":"t6","timestamp":"2025-07-02T00:00:00Z","userId":"u1","event":"Export Run"
"#;

const TICKETS: &str = r#"{"id":1,"organization_id":"acc_1","requester_id":"u1","created_at":"2025-03-01T00:00:00Z","updated_at":"2025-03-02T00:00:00Z","status":"open","priority":"urgent","tags":["sso","billing"],"satisfaction_rating":null}
{"id":1,"organization_id":"acc_1","requester_id":"u1","created_at":"2025-03-01T00:00:00Z","updated_at":"2025-03-05T00:00:00Z","solved_at":"2025-03-05T00:00:00Z","status":"solved","priority":"urgent","tags":"sso billing","satisfaction_rating":{"score":"bad"}}
{"id":2,"organization_id":null,"requester_id":"u1","created_at":"2025-07-02T00:00:00Z","updated_at":"2025-07-02T00:00:00Z","status":"new"}
{"id":3,"organization_id":"acc_2","created_at":"2025-04-01T00:00:00Z","updated_at":"2025-04-01T00:00:00Z","status":"open"}
{"id":3,"organization_id":"acc_2","created_at":"2025-04-01T00:00:00Z","updated_at":"2025-04-09T00:00:00Z","status":"deleted"}
"#;

fn project(dir: &Path) {
    write(dir, "pipeline.toml", PIPELINE);
    write(dir, "data/handoffs/handoffs.csv", HANDOFFS);
    write(dir, "data/fx/rates.csv", FX);
    write(dir, "data/segment/events-1.ndjson", EVENTS);
    write(dir, "data/tickets/tickets.ndjson", TICKETS);
}

fn ingest(dir: &Path) -> std::process::Output {
    churnlake(dir, &["--pipeline", "pipeline.toml", "ingest"])
}

#[test]
fn ingest_stages_typed_deduplicated_rows_with_notes_identities_and_fx() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let wh = dir.path().join("wh");

    // The later version of d1 wins; its goal column beats its note, the champion comes from the note.
    assert_eq!(
        query(
            &wh,
            "select seats, csm_owner, cast(mrr as varchar), goal, champion, kpi from stg_handoffs where deal_id = 'd1'"
        ),
        vec![vec!["12", "Bob", "120.000000", "Grow usage", "Raj", ""]]
    );
    // Japanese notes with full-width colons; arr/12 in yen; converted at the rate of the last
    // day on or before start_date (2025-02-28): 100000 × 0.0066666667 = 666.66667.
    assert_eq!(
        query(
            &wh,
            "select goal, decision_maker, champion, cast(mrr as varchar), cast(mrr_reporting as varchar) from stg_handoffs where deal_id = 'd2'"
        ),
        vec![vec![
            "解約率を下げる",
            "山田 太郎",
            "佐藤",
            "100000.000000",
            "666.666670"
        ]]
    );
    // The negative mrr row is quarantined with its line and field.
    assert_eq!(
        query(
            &wh,
            "select line, field, reason from quarantine where source = 'handoffs'"
        ),
        vec![vec!["11", "mrr", "`mrr` -5 is negative"]]
    );

    // Events: t1 keeps its first read; events without groupId take the account of the
    // user's group call in force at the time; u9 has none and stays an orphan.
    assert_eq!(
        query(
            &wh,
            "select message_id, account_id, event, cast(event_date as varchar) from stg_events order by message_id"
        ),
        vec![
            vec!["t1", "acc_1", "Report Created", "2025-03-01"],
            vec!["t2", "acc_2", "Export Run", "2025-07-01"],
            vec!["t3", "", "Export Run", "2025-07-02"],
            vec!["t4", "acc_3", "Export Run", "2025-07-02"],
        ]
    );
    assert_eq!(
        query(&wh, "select user_id, email, role from stg_users"),
        vec![vec!["u1", "u1@acme.test", "admin"]]
    );
    assert_eq!(
        query(
            &wh,
            "select line, reason from quarantine where source = 'events' order by line"
        ),
        vec![
            vec![
                "10",
                "`timestamp` `yesterday` is not an RFC 3339 timestamp (expected RFC 3339: \
                 YYYY-MM-DDTHH:MM:SS[.fraction] then `Z`, `±HH:MM` or no offset)"
            ],
            vec![
                "11",
                "not valid JSON: EOF while parsing an object at line 1 column 102"
            ],
        ]
    );

    // Tickets: the latest version wins; an empty organization resolves through the requester;
    // a rejected later version never replaces the valid earlier one.
    assert_eq!(
        query(
            &wh,
            "select id, account_id, status, priority, satisfaction, array_to_string(tags, '|') from stg_tickets order by id"
        ),
        vec![
            vec!["1", "acc_1", "solved", "urgent", "bad", "sso|billing"],
            vec!["2", "acc_2", "new", "normal", "", ""],
            vec!["3", "acc_2", "open", "normal", "", ""],
        ]
    );

    // Counts reconcile per source: read = loaded + quarantined + duplicates.
    assert_eq!(
        query(
            &wh,
            "select source, rows_read, rows_loaded, rows_quarantined, duplicates, orphans, status from data_quality order by source"
        ),
        vec![
            vec!["events", "10", "7", "2", "1", "2", "ok"],
            vec!["fx_rates", "3", "3", "0", "0", "0", "ok"],
            vec!["handoffs", "4", "2", "1", "1", "0", "ok"],
            vec!["tickets", "5", "3", "1", "1", "0", "ok"],
        ]
    );
    assert_eq!(
        query(&wh, "select command, status, exit_code from runs"),
        vec![vec!["ingest", "succeeded", "0"]]
    );
}

#[test]
fn ingesting_twice_gives_identical_staged_tables() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let wh = dir.path().join("wh");
    let dump = |wh: &Path| -> Vec<Vec<Vec<String>>> {
        [
            "stg_handoffs",
            "stg_events",
            "stg_tickets",
            "stg_identities",
            "stg_users",
            "stg_fx_rates",
        ]
        .iter()
        .map(|t| query(wh, &format!("select * from {t} order by 1, 2")))
        .collect()
    };
    assert_eq!(exit_code(&ingest(dir.path())), 0);
    let first = dump(&wh);
    assert_eq!(exit_code(&ingest(dir.path())), 0);
    assert_eq!(dump(&wh), first);
    assert_eq!(scalar(&wh, "select count(*) from runs"), "2");
    assert_eq!(
        scalar(&wh, "select count(*) from stg_events"),
        "4",
        "re-running never duplicates"
    );
}

#[test]
fn a_source_over_its_bad_row_limits_fails_and_leaves_published_tables_untouched() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    assert_eq!(exit_code(&ingest(dir.path())), 0);
    let wh = dir.path().join("wh");
    let before = snapshot(&wh.join("stg_handoffs"));

    let strict = PIPELINE.replace(
        "path = \"handoffs/*.csv\"",
        "path = \"handoffs/*.csv\"\nmax_bad_rows = 0\nmax_bad_ratio = 0.1",
    );
    write(dir.path(), "pipeline.toml", strict);
    write(
        dir.path(),
        "data/handoffs/handoffs.csv",
        HANDOFFS.replace("Bob", "Carol"),
    );
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("source `handoffs`: 1 of 4 rows quarantined (25.00%)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        snapshot(&wh.join("stg_handoffs")),
        before,
        "previous output intact"
    );
    assert_eq!(
        query(
            &wh,
            "select status, exit_code from runs order by started_at"
        ),
        vec![vec!["succeeded", "0"], vec!["failed", "1"]]
    );
    let failed_run = scalar(&wh, "select run_id from runs where status = 'failed'");
    assert_eq!(
        query(
            &wh,
            &format!(
                "select source, status from data_quality where run_id = '{failed_run}' and status = 'failed'"
            )
        ),
        vec![vec!["handoffs", "failed"]]
    );
    // Only the changed handoff file was read again; the other sources' rejected rows are in
    // the first run's partition.
    assert_eq!(
        query(
            &wh,
            &format!(
                "select source, count(*) from quarantine where run_id = '{failed_run}' group by source"
            )
        ),
        vec![vec!["handoffs", "1"]],
        "the failed run still records its quarantine"
    );
}

#[test]
fn a_truncated_gzip_file_fails_with_exit_3_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, TICKETS.repeat(50).as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    std::fs::remove_file(dir.path().join("data/tickets/tickets.ndjson")).unwrap();
    write(
        dir.path(),
        "data/tickets/tickets.ndjson.gz",
        &gz[..gz.len() / 2],
    );
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("data/tickets/tickets.ndjson.gz"), "{err}");
    assert!(err.contains("truncated or corrupt"), "{err}");
    assert!(
        !dir.path().join("wh/stg_tickets").exists(),
        "nothing published"
    );
    assert_eq!(
        scalar(&dir.path().join("wh"), "select exit_code from runs"),
        "3"
    );
}

#[test]
fn a_missing_required_csv_column_names_the_column_and_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write(
        dir.path(),
        "data/handoffs/handoffs.csv",
        HANDOFFS.replacen("account_id", "account", 1),
    );
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "header has no column `account_id`, which required field `account_id` maps to"
        ),
        "{err}"
    );
    assert!(err.contains("[sources.handoffs.columns]"), "{err}");
}

#[test]
fn a_missing_fx_rate_is_an_error_naming_currency_and_date() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write(
        dir.path(),
        "data/fx/rates.csv",
        "date,currency,rate\n2025-03-02,JPY,0.0090000000\n",
    );
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 1);
    assert!(
        stderr(&out).contains("no exchange rate to USD for JPY on or before 2025-03-01 (deal d2)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_file_loads_nothing_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write(dir.path(), "data/segment/events-2.ndjson", "");
    write(dir.path(), "data/fx/empty.csv", "date,currency,rate\n");
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        query(
            &dir.path().join("wh"),
            "select source, files, empty_files from data_quality where empty_files > 0 order by source"
        ),
        vec![vec!["events", "2", "1"], vec!["fx_rates", "2", "1"]]
    );
}

#[test]
fn a_parquet_source_maps_nested_columns_and_quarantines_by_row_index() {
    use datafusion::arrow::array::{
        ArrayRef, Int64Array, StringArray, StructArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write(
        dir.path(),
        "pipeline.toml",
        format!(
            "{PIPELINE}\n[sources.nps]\nkind = \"nps\"\npath = \"nps/*.parquet\"\n\n[sources.nps.columns]\ncomment = \"meta.comment\"\n"
        ),
    );
    let comments: ArrayRef = Arc::new(StringArray::from(vec![Some("great"), Some("meh"), None]));
    let meta = StructArray::from(vec![(
        Arc::new(Field::new("comment", DataType::Utf8, true)),
        comments,
    )]);
    let micros = 1_772_323_200_000_000; // 2026-03-01T00:00:00Z
    let batch = RecordBatch::try_from_iter(vec![
        (
            "response_id",
            Arc::new(StringArray::from(vec!["r1", "r2", "r3"])) as ArrayRef,
        ),
        (
            "account_id",
            Arc::new(StringArray::from(vec![Some("acc_1"), Some("acc_1"), None])) as ArrayRef,
        ),
        (
            "user_id",
            Arc::new(StringArray::from(vec![None, None, Some("u1")])) as ArrayRef,
        ),
        (
            "responded_at",
            Arc::new(
                TimestampMicrosecondArray::from(vec![micros, micros, micros]).with_timezone("UTC"),
            ) as ArrayRef,
        ),
        (
            "score",
            Arc::new(Int64Array::from(vec![9, 11, 3])) as ArrayRef,
        ),
        ("meta", Arc::new(meta) as ArrayRef),
    ])
    .unwrap();
    std::fs::create_dir_all(dir.path().join("data/nps")).unwrap();
    let file = std::fs::File::create(dir.path().join("data/nps/nps.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let wh = dir.path().join("wh");
    // r3 has no account: its user u1 belongs to acc_1 from 2025-01-01 to 2025-06-01, then acc_2.
    assert_eq!(
        query(
            &wh,
            "select response_id, account_id, score, comment, cast(responded_date as varchar) from stg_nps order by 1"
        ),
        vec![
            vec!["r1", "acc_1", "9", "great", "2026-03-01"],
            vec!["r3", "acc_2", "3", "", "2026-03-01"],
        ]
    );
    assert_eq!(
        query(
            &wh,
            "select line, field, reason from quarantine where source = 'nps'"
        ),
        vec![vec!["1", "score", "`score` 11 is outside 0–10"]]
    );
}
