//! Bad input as `churnlake ingest` meets it: each kind of malformed value or file, the
//! quarantine row (or the failure) a user sees for it, and the good rows beside it loading.

mod common;

use common::*;
use std::path::Path;

const PIPELINE: &str = r#"
[pipeline]
name = "bad-input"
warehouse = "wh"
data_root = "data"

[sources.handoffs]
kind = "handoffs"
path = "handoffs.csv"

[sources.tickets]
kind = "tickets"
path = "tickets.ndjson"

[sources.events]
kind = "events"
path = "events.ndjson"

[sources.nps]
kind = "nps"
path = "nps/*"
"#;

const HANDOFFS: &str = "\
deal_id,account_id,start_date,mrr,updated_at
d1,acc_1,2025-01-01,100,2025-01-01T00:00:00Z
d2,acc_2,2025-01-01,200,2025-01-01T09:00:00+0900
";

const TICKETS: &str = r#"{"id":"1","organization_id":1021,"created_at":"2025-03-01T00:00:00Z","status":"open"}
{"id":"2","organization_id":"acc_1","created_at":"2025-03-01T00:00:00Z","status":"Solved"}
{"id":"3","organization_id":"acc_1","created_at":"2025-03-01T00:00:00Z","status":"PENDING"}
{"id":"4","organization_id":"acc_1","created_at":"2025-03-01T00:00:00+09:00","status":"closed","priority":"High"}
"#;

const NPS: &str =
    "response_id,account_id,responded_at,score,comment\nr1,acc_1,2025-05-01T00:00:00Z,9,fine\n";

/// A project with one good file per source; tests add the bad rows they are about.
fn project(dir: &Path, events: &str) {
    write(dir, "pipeline.toml", PIPELINE);
    write(dir, "data/handoffs.csv", HANDOFFS);
    write(dir, "data/tickets.ndjson", TICKETS);
    write(dir, "data/events.ndjson", events);
    write(dir, "data/nps/nps.csv", NPS);
}

fn ingest(dir: &Path) -> std::process::Output {
    churnlake(dir, &["--pipeline", "pipeline.toml", "ingest"])
}

/// (line, field, reason) of a source's quarantined rows, in line order.
fn quarantined(dir: &Path, source: &str) -> Vec<Vec<String>> {
    query(
        &dir.join("wh"),
        &format!(
            "select cast(line as varchar) as line_text, field, reason from quarantine \
             where source = '{source}' order by file, line"
        ),
    )
}

fn row(line: &str, field: &str, reason: &str) -> Vec<String> {
    vec![line.to_string(), field.to_string(), reason.to_string()]
}

const TIMESTAMP_FORM: &str =
    "(expected RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction] then `Z`, `±HH:MM` or no offset)";

#[test]
fn a_timestamp_whose_offset_has_no_colon_is_quarantined_in_every_format() {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let events = r#"{"type":"track","messageId":"t1","timestamp":"2024-03-10T21:00:00+0900","userId":"u1","event":"Login","context":{"groupId":"acc_1"}}
{"type":"track","messageId":"t2","timestamp":"2024-03-10T21:00:00+09:00","userId":"u1","event":"Login","context":{"groupId":"acc_1"}}
{"type":"track","messageId":"t3","timestamp":"2024-03-10 12:00:00z","userId":"u1","event":"Login","context":{"groupId":"acc_1"}}
"#;
    project(dir.path(), events);
    // Parquet with the timestamps as strings.
    std::fs::remove_file(dir.path().join("data/nps/nps.csv")).unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "response_id",
            Arc::new(StringArray::from(vec!["r1", "r2"])) as ArrayRef,
        ),
        (
            "account_id",
            Arc::new(StringArray::from(vec!["acc_1", "acc_1"])) as ArrayRef,
        ),
        (
            "responded_at",
            Arc::new(StringArray::from(vec![
                "2025-05-01T00:00:00-0500",
                "2025-05-01T00:00:00-05:00",
            ])) as ArrayRef,
        ),
        ("score", Arc::new(Int64Array::from(vec![9, 7])) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.path().join("data/nps/nps.parquet"), &batch);

    let out = ingest(dir.path());
    ok(&out);
    assert_eq!(
        quarantined(dir.path(), "events"),
        vec![row(
            "1",
            "timestamp",
            &format!(
                "`timestamp` `2024-03-10T21:00:00+0900` has the offset `+0900`, which is not \
                 RFC 3339 {TIMESTAMP_FORM}"
            )
        )]
    );
    assert_eq!(
        quarantined(dir.path(), "handoffs"),
        vec![row(
            "3",
            "updated_at",
            &format!(
                "`updated_at` `2025-01-01T09:00:00+0900` has the offset `+0900`, which is not \
                 RFC 3339 {TIMESTAMP_FORM}"
            )
        )]
    );
    assert_eq!(
        quarantined(dir.path(), "nps"),
        vec![row(
            "0",
            "responded_at",
            &format!(
                "`responded_at` `2025-05-01T00:00:00-0500` has the offset `-0500`, which is not \
                 RFC 3339 {TIMESTAMP_FORM}"
            )
        )]
    );
    let wh = dir.path().join("wh");
    // The RFC 3339 spellings load: `+09:00`, and a space with a lower-case `z`.
    assert_eq!(
        query(
            &wh,
            "select message_id, cast(timestamp as varchar) from stg_events order by 1"
        ),
        vec![
            vec!["t2", "2024-03-10T12:00:00Z"],
            vec!["t3", "2024-03-10T12:00:00Z"]
        ]
    );
    assert_eq!(
        scalar(&wh, "select cast(responded_at as varchar) from stg_nps"),
        "2025-05-01T05:00:00Z"
    );
}

#[test]
fn a_json_value_of_the_wrong_shape_is_quarantined_naming_the_field_and_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let events = r#"{"type":"track","messageId":"t1","timestamp":"2025-03-01T00:00:00Z","userId":"u1","event":"Login","context":{"groupId":{"id":"1003"}}}
{"type":"track","messageId":"t2","timestamp":"2025-03-01T00:00:00Z","userId":"u1","event":"Login","context":{"groupId":["acc_1"]}}
{"type":"track","messageId":"t3","timestamp":"2025-03-01T00:00:00Z","userId":"u1","event":"Login","context":{"groupId":true}}
{"type":"group","messageId":"g1","timestamp":"2025-03-01T00:00:00Z","userId":"u1","groupId":{"id":"acc_1"}}
{"type":"track","messageId":"t4","timestamp":"2025-03-01T00:00:00Z","userId":"u1","event":"Login","context":"acc_1"}
{"type":"track","messageId":"t5","timestamp":"2025-03-01T00:00:00Z","userId":"u1","userId":"u2","event":"Login"}
{"type":"track","messageId":"t6","timestamp":"2025-03-01T00:00:00Z","userId":42,"event":"Login","properties":{"plan":["a","b"],"ok":true},"context":{"groupId":1003}}
["track","t7"]
"#;
    project(dir.path(), events);
    let out = ingest(dir.path());
    ok(&out);
    assert_eq!(
        quarantined(dir.path(), "events"),
        vec![
            row(
                "1",
                "account_id",
                "`account_id` (`context.groupId`) holds a JSON object; expected a string or a number"
            ),
            row(
                "2",
                "account_id",
                "`account_id` (`context.groupId`) holds a JSON array; expected a string or a number"
            ),
            row(
                "3",
                "account_id",
                "`account_id` (`context.groupId`) holds a JSON boolean; expected a string or a number"
            ),
            row(
                "4",
                "group_id",
                "`group_id` (`groupId`) holds a JSON object; expected a string or a number"
            ),
            row(
                "5",
                "account_id",
                "`context` is a JSON string, not an object holding the mapped paths below it"
            ),
            row(
                "6",
                "user_id",
                "key `userId` appears twice in the record; keep one"
            ),
            row(
                "8",
                "call_type",
                "the record is a JSON array, not an object holding the mapped paths below it"
            ),
        ]
    );
    // Numbers where strings are expected stay accepted, as their text; nested properties
    // are kept whole.
    assert_eq!(
        query(
            &dir.path().join("wh"),
            "select message_id, user_id, account_id, properties from stg_events"
        ),
        vec![vec!["t6", "42", "1003", r#"{"ok":true,"plan":["a","b"]}"#]]
    );
    assert_eq!(
        scalar(
            &dir.path().join("wh"),
            "select account_id from stg_tickets where id = '1'"
        ),
        "1021"
    );
}

#[test]
fn a_parquet_column_of_the_wrong_type_quarantines_its_rows() {
    use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray, StructArray};
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "");
    std::fs::remove_file(dir.path().join("data/nps/nps.csv")).unwrap();
    let ids: ArrayRef = Arc::new(StringArray::from(vec![Some("acc_1"), None, None]));
    let account = StructArray::try_new(
        vec![Field::new("id", DataType::Utf8, true)].into(),
        vec![ids],
        Some(vec![true, false, false].into()),
    )
    .unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "response_id",
            Arc::new(StringArray::from(vec!["r1", "r2", "r3"])) as ArrayRef,
        ),
        ("account_id", Arc::new(account) as ArrayRef),
        (
            "user_id",
            Arc::new(BooleanArray::from(vec![None, Some(true), None])) as ArrayRef,
        ),
        (
            "responded_at",
            Arc::new(StringArray::from(vec!["2025-05-01T00:00:00Z"; 3])) as ArrayRef,
        ),
        (
            "score",
            Arc::new(Int64Array::from(vec![9, 7, 8])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&dir.path().join("data/nps/nps.parquet"), &batch);
    let out = ingest(dir.path());
    // A null in a wrong-typed column is an absent value, not a misfit.
    ok(&out);
    assert_eq!(
        quarantined(dir.path(), "nps"),
        vec![
            row(
                "0",
                "account_id",
                "`account_id` (`account_id`) holds a Parquet object; expected a string or a number"
            ),
            row(
                "1",
                "user_id",
                "`user_id` (`user_id`) holds a Parquet boolean; expected a string or a number"
            ),
            row(
                "2",
                "account_id",
                "a response needs `account_id` or `user_id`"
            ),
        ]
    );
}

#[test]
fn a_csv_header_naming_a_mapped_column_twice_fails_the_file_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "");
    ok(&ingest(dir.path()));
    let wh = dir.path().join("wh");
    let before = snapshot(&wh.join("stg_handoffs"));
    write(
        dir.path(),
        "data/handoffs.csv",
        "deal_id,account_id,start_date,mrr,updated_at,mrr\n\
         d1,acc_1,2025-01-01,100,2025-01-01T00:00:00Z,900\n",
    );
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("data/handoffs.csv"), "{err}");
    assert!(
        err.contains(
            "header names column `mrr` 2 times (positions 4 and 6), and field `mrr` maps to it; \
             rename or remove all but one"
        ),
        "{err}"
    );
    assert_eq!(
        snapshot(&wh.join("stg_handoffs")),
        before,
        "nothing published"
    );
}

#[test]
fn a_parquet_schema_naming_a_mapped_column_twice_fails_the_file_and_publishes_nothing() {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "");
    ok(&ingest(dir.path()));
    let wh = dir.path().join("wh");
    let before = snapshot(&wh);
    std::fs::remove_file(dir.path().join("data/nps/nps.csv")).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("response_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("responded_at", DataType::Utf8, false),
        Field::new("score", DataType::Int64, false),
        Field::new("score", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["r1"])),
        Arc::new(StringArray::from(vec!["acc_1"])),
        Arc::new(StringArray::from(vec!["2025-05-01T00:00:00Z"])),
        Arc::new(Int64Array::from(vec![9])),
        Arc::new(Int64Array::from(vec![2])),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    write_parquet(&dir.path().join("data/nps/nps.parquet"), &batch);
    let out = ingest(dir.path());
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "data/nps/nps.parquet: the schema names column `score` 2 times (positions 4 and 5), \
             and field `score` maps to it"
        ),
        "{err}"
    );
    let changed: Vec<_> = snapshot(&wh)
        .into_iter()
        .filter(|(path, _)| {
            let path = path.to_string_lossy();
            !["/runs/", "/data_quality/", "/quarantine/", "/_run_results/"]
                .iter()
                .any(|log| path.contains(log))
        })
        .collect();
    let unchanged: Vec<_> = before
        .into_iter()
        .filter(|(path, _)| changed.iter().any(|(p, _)| p == path))
        .collect();
    assert_eq!(changed, unchanged, "only the run log changed");
}

#[test]
fn a_last_csv_record_that_never_closes_its_quote_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "");
    let nps = "response_id,account_id,responded_at,score,comment\n\
               r1,acc_1,2025-05-01T00:00:00Z,9,\"fine, \"\"really\"\"\"\n\
               r2,acc_1,2025-05-02T00:00:00Z,8,\"two\nlines\"\n\
               r3,acc_1,2025-05-03T00:00:00Z,3,\"never closed\n\
               r4,acc_1,2025-05-04T00:00:00Z,10,swallowed\n";
    write(dir.path(), "data/nps/nps.csv", nps);
    let out = ingest(dir.path());
    ok(&out);
    let rows = query(
        &dir.path().join("wh"),
        "select cast(line as varchar) as line_text, reason, raw from quarantine where source = 'nps'",
    );
    assert_eq!(
        rows,
        vec![vec![
            "5".to_string(),
            "unterminated quoted field: a quote opened in this record is never closed before \
             the end of the file"
                .to_string(),
            "r3,acc_1,2025-05-03T00:00:00Z,3,\"never closed\nr4,acc_1,2025-05-04T00:00:00Z,10,swallowed\n\""
                .to_string(),
        ]]
    );
    assert_eq!(
        query(
            &dir.path().join("wh"),
            "select response_id, comment from stg_nps order by 1"
        ),
        vec![vec!["r1", "fine, \"really\""], vec!["r2", "two\nlines"]]
    );
}

#[test]
fn an_enum_value_in_another_case_is_quarantined_listing_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "");
    let out = ingest(dir.path());
    ok(&out);
    assert_eq!(
        quarantined(dir.path(), "tickets"),
        vec![
            row(
                "2",
                "status",
                "`status` `Solved` is not one of new, open, pending, hold, solved, closed (lower case, as listed)"
            ),
            row(
                "3",
                "status",
                "`status` `PENDING` is not one of new, open, pending, hold, solved, closed (lower case, as listed)"
            ),
            row(
                "4",
                "priority",
                "`priority` `High` is not one of low, normal, high, urgent (lower case, as listed)"
            ),
        ]
    );
    assert_eq!(
        query(&dir.path().join("wh"), "select id, status from stg_tickets"),
        vec![vec!["1", "open"]]
    );
}

fn write_parquet(path: &Path, batch: &datafusion::arrow::record_batch::RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}
