//! The whole pipeline against a real S3-compatible server (moto) on 127.0.0.1: sources read
//! from a bucket, the warehouse written to it, the same rows as a local run, an idempotent
//! re-run, and the lock held as an object. `.ci/start-s3.sh` installs and starts the server
//! (CI runs it first; the test runs it too, which is quick once it answers).

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

const BUCKET: &str = "churnlake-test";
const DAY: &str = "2026-08-24";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Starts (or finds) the server and returns its endpoint.
fn s3_endpoint() -> String {
    let out = Command::new("bash")
        .arg(root().join(".ci/start-s3.sh"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "the S3 test server did not start: {}",
        stderr(&out)
    );
    stdout(&out).trim().to_string()
}

fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", endpoint.to_string()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// Runs Python with boto3 from the server's venv (bucket setup and uploads).
fn boto(endpoint: &str, script: &str) {
    let venv = std::env::var("CHURNLAKE_CI_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/churnlake-ci/venv",
            std::env::var("HOME").unwrap()
        )
    });
    let prelude = format!(
        "import boto3, os\ns3 = boto3.client('s3', endpoint_url='{endpoint}', \
         aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n"
    );
    let out = Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn cl(endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churnlake"));
    command.current_dir(root()).args(args);
    for (key, value) in s3_env(endpoint) {
        command.env(key, value);
    }
    command.output().expect("churnlake runs")
}

/// Sorted rows of each table, read with the library (S3 settings from the environment).
fn all_rows(warehouse: &str) -> Vec<Vec<String>> {
    table_rows(
        Path::new(warehouse),
        &[
            "stg_handoffs",
            "stg_events",
            "stg_tickets",
            "customer_daily",
            "health_scores",
            "playbook_actions",
            "mrr_monthly",
            "retention_monthly",
            "health_cohorts",
        ],
    )
}

#[test]
fn the_pipeline_runs_against_an_s3_bucket_in_both_table_formats() {
    let endpoint = s3_endpoint();
    // This file holds one test, so setting the process environment races with nothing.
    for (key, value) in s3_env(&endpoint) {
        unsafe { std::env::set_var(key, value) };
    }
    for format in ["parquet", "delta"] {
        // Every churnlake this test starts inherits it.
        unsafe { std::env::set_var("CHURNLAKE_TABLE_FORMAT", format) };
        runs_against_the_bucket(&endpoint, format);
    }
}

fn runs_against_the_bucket(endpoint: &str, format: &str) {
    let endpoint = endpoint.to_string();
    let fixtures = root().join("fixtures");
    boto(
        &endpoint,
        &format!(
            "try:\n    s3.create_bucket(Bucket='{BUCKET}')\nexcept s3.exceptions.BucketAlreadyOwnedByYou:\n    pass\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}'):\n\
             \x20   for o in page.get('Contents', []):\n        s3.delete_object(Bucket='{BUCKET}', Key=o['Key'])\n\
             root = '{}'\n\
             for d, _, files in os.walk(root):\n\
             \x20   for f in files:\n\
             \x20       p = os.path.join(d, f)\n\
             \x20       s3.upload_file(p, '{BUCKET}', 'sources/' + os.path.relpath(p, root))\n",
            fixtures.display()
        ),
    );
    let sources = format!("s3://{BUCKET}/sources");
    let warehouse = format!("s3://{BUCKET}/warehouse");
    let run_in_bucket = || {
        cl(
            &endpoint,
            &[
                "--data-root",
                &sources,
                "--warehouse",
                &warehouse,
                "run",
                "--as-of",
                DAY,
            ],
        )
    };
    let out = run_in_bucket();
    ok(&out);
    assert!(
        stdout(&out).contains(&format!("{sources}/")),
        "quarantined rows name the object: {}",
        stdout(&out)
    );

    // The same rows as a local run of the same files.
    let local = tempfile::tempdir().unwrap();
    let local_wh = local.path().join("wh");
    ok(&cl(
        &endpoint,
        &[
            "--warehouse",
            local_wh.to_str().unwrap(),
            "run",
            "--as-of",
            DAY,
        ],
    ));
    let in_s3 = all_rows(&warehouse);
    let on_disk = all_rows(local_wh.to_str().unwrap());
    assert_eq!(in_s3.len(), on_disk.len());
    assert_same(&in_s3, &on_disk, "S3 and local warehouses");
    // The report reads the bucket as it reads a directory: the same page but for its
    // location and the ingest's run id.
    let pages: Vec<String> = [warehouse.as_str(), local_wh.to_str().unwrap()]
        .iter()
        .enumerate()
        .map(|(i, wh)| {
            let page = local.path().join(format!("report-{i}.html"));
            ok(&cl(
                &endpoint,
                &[
                    "--warehouse",
                    wh,
                    "report",
                    "--as-of",
                    DAY,
                    "--out",
                    page.to_str().unwrap(),
                ],
            ));
            let html = std::fs::read_to_string(&page)
                .unwrap()
                .replace(wh, "WAREHOUSE");
            // The two warehouses were ingested by runs of their own.
            let run = html
                .find("The last ingest, run ")
                .expect("the ingest's run")
                + 21;
            let end = run + html[run..].find('.').expect("the run id's end");
            format!("{}RUN{}", &html[..run], &html[end..])
        })
        .collect();
    assert!(pages[0].contains("<h2>Who needs a call today</h2>"));
    assert!(pages[0] == pages[1], "the S3 and local reports differ");
    assert_eq!(
        scalar(
            Path::new(&warehouse),
            "select file from quarantine where file like 's3://%' limit 1"
        )
        .split('/')
        .nth(2),
        Some(BUCKET)
    );

    // A re-run reads nothing new and changes nothing; no lock or work area is left.
    let again = run_in_bucket();
    ok(&again);
    assert!(stdout(&again).contains("no file is new or changed"));
    assert_same(&all_rows(&warehouse), &in_s3, "after a re-run");
    let keys = list_keys(&warehouse);
    assert!(
        !keys.iter().any(|k| k == "_lock" || k.starts_with("_work/")),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.starts_with("_state/raw/events/")));
    let partition = "customer_daily/as_of_date=2026-08-24/part-0";
    if format == "delta" {
        assert!(
            keys.iter()
                .any(|k| k == "customer_daily/_delta_log/00000000000000000000.json")
        );
        // Each run's files carry its run id: an old version's file is never overwritten.
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("{partition}-")) && k.ends_with(".parquet")),
            "{keys:?}"
        );
    } else {
        assert!(
            keys.iter().any(|k| k == &format!("{partition}.parquet")),
            "{keys:?}"
        );
    }

    // A new object appends to the staged events in the bucket: a new event, and a later
    // read of a staged one, which loses to the read kept among the raw rows in the bucket.
    let staged = query(
        Path::new(&warehouse),
        "select message_id, user_id from stg_events where user_id is not null \
         order by message_id limit 1",
    );
    let (id, user) = (&staged[0][0], &staged[0][1]);
    let local_data = local.path().join("data");
    copy_tree(&fixtures, &local_data);
    let new_file = write(
        &local_data,
        "segment/events-2026-11.ndjson",
        format!(
            "{{\"type\":\"track\",\"messageId\":\"s3-new-1\",\"userId\":\"{user}\",\"event\":\"Report Exported\",\"timestamp\":\"2026-11-01T10:00:00Z\"}}\n\
             {{\"type\":\"track\",\"messageId\":\"{id}\",\"userId\":\"{user}\",\"event\":\"Retried\",\"timestamp\":\"2026-11-01T11:00:00Z\"}}\n"
        ),
    );
    boto(
        &endpoint,
        &format!(
            "s3.upload_file('{}', '{BUCKET}', 'sources/segment/events-2026-11.ndjson')\n",
            new_file.display()
        ),
    );
    let appended = run_in_bucket();
    ok(&appended);
    assert!(
        stdout(&appended).contains("(appended: 2 partitions rewritten, the others kept)"),
        "{}",
        stdout(&appended)
    );
    // The tables whose sources read nothing stand in the bucket as they were.
    for table in ["stg_handoffs", "stg_tickets", "stg_nps", "stg_fx_rates"] {
        assert!(
            stdout(&appended)
                .lines()
                .any(|l| l.trim_start().starts_with(table)
                    && l.ends_with("(kept as the last run staged it)")),
            "{table} kept: {}",
            stdout(&appended)
        );
    }
    let local_again = local.path().join("wh-again");
    ok(&cl(
        &endpoint,
        &[
            "--data-root",
            local_data.to_str().unwrap(),
            "--warehouse",
            local_again.to_str().unwrap(),
            "run",
            "--as-of",
            DAY,
        ],
    ));
    for (table, key) in [("stg_events", "message_id"), ("stg_tickets", "id")] {
        let rows = format!("select * from {table} order by {key}");
        assert_same(
            &query(Path::new(&warehouse), &rows),
            &query(&local_again, &rows),
            &format!("{table} appended or kept in the bucket and staged from scratch on disk"),
        );
    }

    // The lock is an object: a second run is refused, naming the holder.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    boto(
        &endpoint,
        &format!(
            "s3.put_object(Bucket='{BUCKET}', Key='warehouse/_lock', Body=b'{{\"run_id\":\"r-held\",\"command\":\"run\",\"pid\":{},\"host\":\"{}\",\"started_at\":\"now\"}}')\n",
            std::process::id(),
            host.trim()
        ),
    );
    let locked = run_in_bucket();
    assert_eq!(exit_code(&locked), 3, "{}", stderr(&locked));
    assert!(
        stderr(&locked).contains("locked by run r-held"),
        "{}",
        stderr(&locked)
    );
    ok(&cl(&endpoint, &["--warehouse", &warehouse, "unlock"]));
    assert!(!list_keys(&warehouse).iter().any(|k| k == "_lock"));
}

/// Keys under the warehouse prefix, relative to it.
fn list_keys(warehouse: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = churnlake::engine::warehouse::Warehouse::open(Path::new(warehouse)).unwrap();
        store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect()
    })
}
