//! Operating churnlake from a scheduler: `run` and `backfill`, incremental ingest, the lock,
//! crash safety of publishing (kill -9 at several points, then a re-run), exit codes and the
//! JSON output, all through the real binary on the committed fixtures.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// churnlake on the fixtures with a warehouse (and optionally a data root) of the test's own.
fn cl(wh: &Path, data: Option<&Path>, args: &[&str]) -> Output {
    cl_env(wh, data, args, &[])
}

fn cl_env(wh: &Path, data: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churnlake"));
    command.current_dir(root()).arg("--warehouse").arg(wh);
    if let Some(data) = data {
        command.arg("--data-root").arg(data);
    }
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("churnlake runs")
}

const DAY: &str = "2026-08-24";

/// The rows a date's partitions hold, sorted by grain, for comparing warehouses.
fn dated_rows(wh: &Path, date: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (table, key) in [
        ("customer_daily", "account_id"),
        ("health_scores", "account_id"),
        ("playbook_actions", "account_id, rule_id"),
    ] {
        let mut table_rows = query(
            wh,
            &format!("select * from {table} where as_of_date = date '{date}' order by {key}"),
        );
        assert!(
            !table_rows.is_empty() || table == "playbook_actions",
            "{table} has rows"
        );
        rows.push(vec![format!("-- {table}: {} rows", table_rows.len())]);
        rows.append(&mut table_rows);
    }
    rows
}

/// Every table's rows, sorted, except the run log (which differs by run).
fn all_rows(wh: &Path) -> Vec<Vec<String>> {
    table_rows(
        wh,
        &[
            "stg_handoffs",
            "stg_events",
            "stg_tickets",
            "customer_daily",
            "health_scores",
            "playbook_actions",
            "mrr_monthly",
            "retention_monthly",
            "churn_cohorts",
            "health_cohorts",
        ],
    )
}

#[test]
fn running_a_date_twice_gives_the_same_rows_and_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let first = cl(&wh, None, &["run", "--as-of", DAY]);
    ok(&first);
    let before = all_rows(&wh);
    let second = cl(&wh, None, &["run", "--as-of", DAY]);
    ok(&second);
    assert!(
        stdout(&second).contains("no file is new or changed"),
        "{}",
        stdout(&second)
    );
    assert_same(&all_rows(&wh), &before, "second run");
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from runs where command = 'run' and status = 'succeeded'"
        ),
        "2"
    );
    let partitions = std::fs::read_dir(wh.join("customer_daily/as_of_date=2026-08-24"))
        .unwrap()
        .count();
    assert_eq!(partitions, 1, "one file per partition");
    assert!(!wh.join("_lock").exists(), "the lock is released");
    assert!(!wh.join("_work").exists(), "no work left behind");
}

#[test]
fn a_backfill_equals_single_date_builds() {
    let dir = tempfile::tempdir().unwrap();
    let backfilled = dir.path().join("backfilled");
    ok(&cl(&backfilled, None, &["ingest"]));
    let out = cl(
        &backfilled,
        None,
        &[
            "backfill",
            "--from",
            "2026-06-20",
            "--to",
            "2026-09-30",
            "--every",
            "week",
        ],
    );
    ok(&out);
    assert_eq!(
        scalar(
            &backfilled,
            "select count(distinct as_of_date) from customer_daily"
        ),
        "15",
        "every week from June 20 through Sept 26"
    );
    let single = dir.path().join("single");
    ok(&cl(&single, None, &["ingest"]));
    // One date from each pass.
    for date in ["2026-06-20", "2026-08-01", "2026-09-05"] {
        ok(&cl(&single, None, &["build", "--as-of", date]));
        assert_same(
            &dated_rows(&backfilled, date),
            &dated_rows(&single, date),
            date,
        );
    }
    let runs = query(
        &backfilled,
        "select cast(as_of_from as varchar), cast(as_of_to as varchar) from runs where command = 'backfill'",
    );
    assert_eq!(
        runs,
        vec![vec!["2026-06-20".to_string(), "2026-09-26".to_string()]]
    );
}

#[test]
fn a_backfill_in_passes_scores_each_date_once_and_equals_single_date_builds() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    ok(&cl(&wh, None, &["ingest"]));
    let out = cl(
        &wh,
        None,
        &[
            "--log-format",
            "json",
            "backfill",
            "--from",
            "2026-07-01",
            "--to",
            "2026-09-04",
        ],
    );
    ok(&out);
    let finished = build_finished(&out);
    assert_eq!(finished["dates"], 66);
    // Three passes of dates, after three scoring the earlier dates they read (the month
    // boundaries since the first contract, for the cohorts, and the 30 days before July).
    assert_eq!(finished["passes"], 6);
    assert_eq!(finished["score_passes"], 3);
    assert_eq!(finished["sweeps"], 1);
    // A pass reads the scores of the dates 7 and 30 days back that earlier passes computed.
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wh.join("_state/health_history.json")).unwrap())
            .unwrap();
    let kept = history["dates"].as_array().unwrap().len();
    assert_eq!(
        finished["computed"], kept,
        "no date scored twice: {finished}"
    );

    let single = dir.path().join("single");
    ok(&cl(&single, None, &["ingest"]));
    // The first dates of the second and third passes, and the last.
    for date in ["2026-08-01", "2026-09-01", "2026-09-04"] {
        let out = cl(
            &single,
            None,
            &["--log-format", "json", "build", "--as-of", date],
        );
        ok(&out);
        if date == "2026-08-01" {
            let finished = build_finished(&out);
            assert_eq!(finished["score_passes"], 2, "{finished}");
        }
        assert_same(&dated_rows(&wh, date), &dated_rows(&single, date), date);
    }
    // The first build scored its earlier dates in passes of their own: kept as history,
    // never published as dated partitions.
    let mut published: Vec<String> = std::fs::read_dir(single.join("customer_daily"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    published.sort();
    assert_eq!(
        published,
        [
            "as_of_date=2026-08-01",
            "as_of_date=2026-09-01",
            "as_of_date=2026-09-04"
        ]
    );
    let actions = scalar(
        &single,
        "select count(distinct as_of_date) from playbook_actions",
    );
    assert_eq!(actions, "3");
}

#[test]
fn a_backfill_skips_dates_without_input_and_fails_99_when_none_has_any() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    ok(&cl(&wh, None, &["ingest"]));
    let out = cl(
        &wh,
        None,
        &["backfill", "--from", "2026-10-25", "--to", "2026-11-10"],
    );
    ok(&out);
    assert!(
        stdout(&out).contains("skipped (no input)"),
        "{}",
        stdout(&out)
    );
    let latest = scalar(
        &wh,
        "select cast(max(as_of_date) as varchar) from customer_daily",
    );
    assert!(
        latest.as_str() < "2026-11-01",
        "nothing built past the data: {latest}"
    );
    let none = cl(
        &wh,
        None,
        &["backfill", "--from", "2027-01-01", "--to", "2027-01-31"],
    );
    assert_eq!(exit_code(&none), 99, "{}", stderr(&none));
    assert!(stderr(&none).contains("no input"), "{}", stderr(&none));
}

#[test]
fn a_data_root_named_relatively_then_absolutely_reads_no_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    // From the directory above the data, as `data`: a scheduler's working directory.
    let pipeline = root().join("pipelines/default.toml");
    let relative = Command::new(env!("CARGO_BIN_EXE_churnlake"))
        .current_dir(dir.path())
        .arg("--pipeline")
        .arg(&pipeline)
        .args(["--warehouse", "wh", "--data-root", "data", "ingest"])
        .output()
        .expect("churnlake runs");
    ok(&relative);
    let staged = snapshot(&wh.join("stg_events"));

    // The same files named by their full path, from elsewhere.
    let absolute = cl(&wh, Some(&data), &["ingest"]);
    ok(&absolute);
    let said = String::from_utf8_lossy(&absolute.stdout).to_string() + &stderr(&absolute);
    assert!(
        said.contains("no file is new or changed since the last ingest"),
        "{said}"
    );
    assert_eq!(snapshot(&wh.join("stg_events")), staged, "nothing restaged");
}

#[test]
fn incremental_ingest_reads_only_new_and_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let events_before: i64 = scalar(&wh, "select count(*) from stg_events")
        .parse()
        .unwrap();

    // A new file with two track calls of a known user.
    let user = scalar(&wh, "select min(user_id) from stg_events");
    let track = |id: &str, ts: &str| {
        format!(
            r#"{{"type":"track","messageId":"{id}","userId":"{user}","event":"Report Exported","timestamp":"{ts}"}}"#
        )
    };
    let new_file = data.join("segment/events-2026-11.ndjson");
    std::fs::write(
        &new_file,
        format!(
            "{}\n{}\n",
            track("inc-1", "2026-11-01T10:00:00Z"),
            track("inc-2", "2026-11-02T10:00:00Z")
        ),
    )
    .unwrap();
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let read = |wh: &Path| {
        query(
            wh,
            "select source, files, files_read from data_quality \
             where run_id = (select max(run_id) from data_quality) order by source",
        )
    };
    let files_read: Vec<(String, String)> = read(&wh)
        .into_iter()
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    for (source, n) in &files_read {
        let expected = if source == "events" { "1" } else { "0" };
        assert_eq!(n, expected, "files read for {source}: {files_read:?}");
    }
    assert_eq!(
        scalar(&wh, "select count(*) from stg_events"),
        (events_before + 2).to_string()
    );

    // The file changes: its earlier rows are replaced, not added to.
    std::fs::write(
        &new_file,
        format!("{}\n", track("inc-3", "2026-11-03T10:00:00Z")),
    )
    .unwrap();
    ok(&cl(&wh, Some(&data), &["ingest"]));
    assert_eq!(
        scalar(&wh, "select count(*) from stg_events"),
        (events_before + 1).to_string()
    );
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from stg_events where message_id in ('inc-1', 'inc-2')"
        ),
        "0"
    );

    // A removed file's rows go too; --full-refresh reads every file.
    std::fs::remove_file(&new_file).unwrap();
    ok(&cl(&wh, Some(&data), &["ingest"]));
    assert_eq!(
        scalar(&wh, "select count(*) from stg_events"),
        events_before.to_string()
    );
    ok(&cl(&wh, Some(&data), &["ingest", "--full-refresh"]));
    let all_read = read(&wh);
    assert!(all_read.iter().all(|r| r[1] == r[2]), "{all_read:?}");
    assert_eq!(
        scalar(&wh, "select count(*) from stg_events"),
        events_before.to_string()
    );

    // The same rows as a fresh warehouse's, and nothing stale in the raw cache.
    let fresh = dir.path().join("fresh");
    ok(&cl(&fresh, Some(&data), &["ingest"]));
    assert_eq!(
        query(&wh, "select * from stg_events order by message_id"),
        query(&fresh, "select * from stg_events order by message_id")
    );
    let raw_files = |wh: &Path| {
        std::fs::read_dir(wh.join("_state/raw/events"))
            .unwrap()
            .count()
    };
    assert_eq!(raw_files(&wh), raw_files(&fresh));
}

/// Every file under `dir` with its inode and modification time: a file rewritten, even with
/// the same bytes, shows a new inode.
fn file_stamps(dir: &Path) -> std::collections::BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    snapshot(dir)
        .into_iter()
        .map(|(path, _)| {
            let meta = std::fs::metadata(&path).unwrap();
            let stamp = (meta.ino(), meta.modified().unwrap());
            (path.strip_prefix(dir).unwrap().to_path_buf(), stamp)
        })
        .collect()
}

/// The `message` of a table's step in the run results an ingest printed (`--log-format json`).
fn table_message(out: &Output, table: &str) -> Option<String> {
    let results: serde_json::Value = serde_json::from_str(&stdout(out)).expect("stdout is JSON");
    let step = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["unique_id"] == format!("table.{table}"))
        .cloned()
        .unwrap_or_else(|| panic!("table.{table} in the results: {results}"));
    step["message"].as_str().map(str::to_string)
}

/// `tables` (each with its key) and the last run's `data_quality` figures in `wh` are those
/// an ingest of every file in `data` afresh stages (in `<scratch>/fresh-<what>`).
fn assert_staged_as_afresh(
    wh: &Path,
    data: &Path,
    scratch: &Path,
    tables: &[(&str, &str)],
    what: &str,
) {
    let fresh = &scratch.join(format!("fresh-{what}"));
    ok(&cl(fresh, Some(data), &["ingest"]));
    for (table, key) in tables {
        let sql = format!("select * from {table} order by {key}");
        assert_same(
            &query(wh, &sql),
            &query(fresh, &sql),
            &format!("{table} {what}"),
        );
    }
    let figures = "select source, rows_read, rows_loaded, rows_quarantined, duplicates, \
                   orphans, max_event_time, status from data_quality \
                   where run_id = (select max(run_id) from data_quality) order by source";
    assert_eq!(
        query(wh, figures),
        query(fresh, figures),
        "data_quality {what}"
    );
}

#[test]
fn new_files_append_to_the_staged_events_rewriting_only_the_partitions_their_ids_reach() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let before = file_stamps(&wh.join("stg_events"));
    let staged = query(
        &wh,
        "select message_id, user_id, cast(event_date as varchar) from stg_events \
         where user_id is not null order by message_id limit 1",
    );
    let (id, user, day) = (&staged[0][0], &staged[0][1], &staged[0][2]);
    let event_of = format!("select event from stg_events where message_id = '{id}'");
    let event = scalar(&wh, &event_of);
    // A staged page view no handoff's account names: its partition holds orphans.
    let orphan = query(
        &wh,
        "select message_id, anonymous_id, cast(event_date as varchar) from stg_pageviews \
         where account_id is null and anonymous_id is not null order by message_id limit 1",
    );
    let (orphan_id, anonymous, orphan_day) = (&orphan[0][0], &orphan[0][1], &orphan[0][2]);
    let orphans = "select orphans from data_quality where source = 'pageviews' \
                   and run_id = (select max(run_id) from data_quality)";
    let orphans_before: u64 = scalar(&wh, orphans).parse().unwrap();
    assert!(orphans_before > 0, "the demo data has orphan page views");
    let track = |id: &str, ts: &str, event: &str| {
        format!(
            r#"{{"type":"track","messageId":"{id}","userId":"{user}","event":"{event}","timestamp":"{ts}"}}"#
        )
    };
    let identify = |id: &str, who: &str, ts: &str, name: &str| {
        format!(
            r#"{{"type":"identify","messageId":"{id}","userId":"{who}","timestamp":"{ts}","traits":{{"name":"{name}"}}}}"#
        )
    };
    let group = |id: &str, who: &str, ts: &str| {
        format!(
            r#"{{"type":"group","messageId":"{id}","userId":"{who}","groupId":"acc_0001","timestamp":"{ts}"}}"#
        )
    };
    let staged_call = scalar(
        &wh,
        "select message_id from stg_identities order by message_id limit 1",
    );
    // A new event read twice, and a later read of a staged event (it loses: its file sorts
    // after the staged one's); a staged user identified again and a new one, with a group
    // call, and a later read of a staged group call (it loses); a page view, a new orphan
    // one, and a later read of a staged orphan (its partition is rewritten: its orphans are
    // counted once).
    write(
        &data,
        "segment/events-2026-11.ndjson",
        [
            track("app-1", "2026-11-01T10:00:00Z", "Report Exported"),
            track(id, "2026-11-01T11:00:00Z", "Retried"),
            track("app-1", "2026-11-01T12:00:00Z", "Again"),
            identify("identify-app-1", user, "2026-11-01T08:00:00Z", "Renamed"),
            identify(
                "identify-app-2",
                "user-app-2",
                "2026-11-01T08:00:00Z",
                "Newcomer",
            ),
            group("group-app-2", "user-app-2", "2026-11-01T08:00:01Z"),
            group(&staged_call, "user-app-2", "2026-11-01T08:00:02Z"),
        ]
        .join("\n"),
    );
    let page = |id: &str, who: &str| {
        format!(
            r#"{{"type":"page","messageId":"{id}","timestamp":"2026-11-01T09:00:00Z",{who},"properties":{{"path":"/help/a","url":"https://help.example.com/help/a","title":"A"}}}}"#
        )
    };
    write(
        &data,
        "helpsite/pages-2026-11.ndjson",
        [
            page("page-app-1", &format!(r#""userId":"{user}""#)),
            page("page-orphan-1", r#""anonymousId":"anon-never-identified""#),
            page(orphan_id, &format!(r#""anonymousId":"{anonymous}""#)),
        ]
        .join("\n"),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_eq!(
        table_message(&out, "stg_events").as_deref(),
        Some("appended: 2 partitions rewritten, the others kept")
    );
    assert_eq!(
        table_message(&out, "stg_pageviews").as_deref(),
        Some("appended: 2 partitions rewritten, the others kept")
    );
    assert_eq!(
        table_message(&out, "stg_tickets").as_deref(),
        Some("kept as the last run staged it")
    );
    assert_eq!(
        table_message(&out, "stg_identities").as_deref(),
        Some("updated: 2 message_ids restaged, the other rows carried over")
    );
    assert_eq!(
        table_message(&out, "stg_users").as_deref(),
        Some("updated: 2 user_ids restaged, the other rows carried over")
    );

    // The staged tables and their figures are those of staging every file afresh.
    let same_as_fresh = |what: &str| {
        let tables = [
            ("stg_events", "message_id"),
            ("stg_pageviews", "message_id"),
            ("stg_identities", "message_id"),
            ("stg_users", "user_id"),
        ];
        assert_staged_as_afresh(&wh, &data, dir.path(), &tables, what);
    };
    same_as_fresh("after a later file");
    let orphans_after: u64 = scalar(&wh, orphans).parse().unwrap();
    assert_eq!(
        orphans_after,
        orphans_before + 1,
        "one new orphan page view"
    );
    assert_eq!(
        scalar(
            &wh,
            &format!(
                "select cast(event_date as varchar) from stg_pageviews where message_id = '{orphan_id}'"
            )
        ),
        *orphan_day
    );
    assert_eq!(scalar(&wh, &event_of), event);
    let name_of = format!("select name from stg_users where user_id = '{user}'");
    assert_eq!(scalar(&wh, &name_of), "Renamed");
    assert_eq!(
        scalar(
            &wh,
            "select event from stg_events where message_id = 'app-1'"
        ),
        "Report Exported"
    );

    // Only the new day's partition and the retried event's are new files.
    let after = file_stamps(&wh.join("stg_events"));
    let rewritten = [
        format!("event_date={day}"),
        "event_date=2026-11-01".to_string(),
    ];
    let mut kept = 0;
    for (file, stamp) in &before {
        let partition = file.iter().next().unwrap().to_string_lossy().to_string();
        if rewritten.contains(&partition) {
            assert_ne!(
                after.get(file),
                Some(stamp),
                "{} was rewritten",
                file.display()
            );
        } else {
            assert_eq!(
                after.get(file),
                Some(stamp),
                "{} is untouched",
                file.display()
            );
            kept += 1;
        }
    }
    assert!(kept > 100, "most partitions kept: {kept}");
    assert!(after.keys().any(|f| f.starts_with("event_date=2026-11-01")));

    // A file that sorts first holds an earlier read of a staged event, on another day: that
    // read wins now, and the event moves to its day's partition.
    // Its identify call, later than the last one though read first, names the user now.
    write(
        &data,
        "segment/events-2026-01.ndjson",
        [
            track(id, "2026-05-31T08:00:00Z", "Earlier read"),
            identify(
                "identify-app-3",
                user,
                "2026-11-02T08:00:00Z",
                "Renamed again",
            ),
        ]
        .join("\n"),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_eq!(scalar(&wh, &name_of), "Renamed again");
    // The new read's day, and those of the two kept reads.
    assert_eq!(
        table_message(&out, "stg_events").as_deref(),
        Some("appended: 3 partitions rewritten, the others kept")
    );
    same_as_fresh("after an earlier file");
    assert_eq!(
        query(
            &wh,
            &format!(
                "select event, cast(event_date as varchar) from stg_events where message_id = '{id}'"
            )
        ),
        vec![vec!["Earlier read".to_string(), "2026-05-31".to_string()]]
    );

    // A group call earlier than the latest staged event may move staged events to another
    // account: everything is restaged.
    write(
        &data,
        "segment/events-2026-12.ndjson",
        format!(
            r#"{{"type":"group","messageId":"group-app-1","timestamp":"2026-07-01T00:00:00Z","userId":"{user}","groupId":"acc_0001"}}"#
        ),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_eq!(table_message(&out, "stg_events"), None);
    same_as_fresh("after an early group call");
}

#[test]
fn tables_whose_sources_read_nothing_are_kept_unless_a_group_call_moves_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let kept_tables = ["stg_handoffs", "stg_tickets", "stg_nps", "stg_fx_rates"];
    let stamps = |wh: &Path| {
        kept_tables
            .iter()
            .map(|t| file_stamps(&wh.join(t)))
            .collect::<Vec<_>>()
    };
    let before = stamps(&wh);
    let group = |id: &str, ts: &str, user: &str, account: &str| {
        format!(
            r#"{{"type":"group","messageId":"{id}","timestamp":"{ts}","userId":"{user}","groupId":"{account}"}}"#
        )
    };
    let same_as_fresh = |what: &str| {
        let tables = [
            ("stg_tickets", "id"),
            ("stg_nps", "response_id"),
            ("stg_handoffs", "deal_id"),
            ("stg_identities", "message_id"),
        ];
        assert_staged_as_afresh(&wh, &data, dir.path(), &tables, what);
    };

    // A day of events whose group calls are later than every ticket: the handoff, ticket,
    // NPS and FX tables are kept, file for file.
    write(
        &data,
        "segment/events-2026-11.ndjson",
        [
            group("keep-1", "2026-11-02T09:00:00Z", "u_0018_09", "acc_0018"),
            group("keep-2", "2026-11-02T09:30:00Z", "u_new_01", "acc_0013"),
        ]
        .join("\n"),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    for table in kept_tables {
        assert_eq!(
            table_message(&out, table).as_deref(),
            Some("kept as the last run staged it"),
            "{table}"
        );
    }
    assert_eq!(stamps(&wh), before, "kept tables' files untouched");
    same_as_fresh("after later group calls");

    // Ticket 10012 has no organization: its requester's group call at the ticket's time
    // gives its account. A call just before it, to another account, moves it: stg_tickets is
    // restaged; the handoffs, which no call moves, stay kept.
    let account = "select account_id from stg_tickets where id = 10012";
    assert_eq!(scalar(&wh, account), "acc_0018");
    write(
        &data,
        "segment/events-2026-12.ndjson",
        group("move-1", "2026-06-19T19:00:00Z", "u_0018_09", "acc_0013"),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_eq!(table_message(&out, "stg_tickets"), None);
    assert_eq!(
        table_message(&out, "stg_handoffs").as_deref(),
        Some("kept as the last run staged it")
    );
    assert_eq!(scalar(&wh, account), "acc_0013");
    same_as_fresh("after a group call that moves a ticket");
}

#[test]
fn a_table_restaged_whole_resolves_through_every_users_spans_while_the_events_append() {
    // A ticket without an organization, created after the latest staged event: a new group
    // call can move it and still be later than every staged event, so the events append.
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    write(
        &data,
        "tickets/tickets-0003.ndjson",
        r#"{"id":99001,"requester_id":"u_0018_09","created_at":"2026-11-05T10:00:00Z","updated_at":"2026-11-05T11:00:00Z","status":"open","priority":"high","type":"incident","subject":"Export fails","tags":["export"]}"#,
    );
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let account = "select account_id from stg_tickets where id = 99001";
    assert_eq!(scalar(&wh, account), "acc_0018");
    // The requester moves to another account before the ticket; the one new event is
    // another user's, so the appended rows alone would look up only that user's spans.
    write(
        &data,
        "segment/events-2026-11.ndjson",
        [
            r#"{"type":"group","messageId":"move-2","userId":"u_0018_09","groupId":"acc_0013","timestamp":"2026-11-02T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"app-9","userId":"u_0013_01","event":"Report Exported","timestamp":"2026-11-03T10:00:00Z"}"#,
        ]
        .join("\n"),
    );
    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_eq!(
        table_message(&out, "stg_events").as_deref(),
        Some("appended: 1 partitions rewritten, the others kept")
    );
    assert_eq!(table_message(&out, "stg_tickets"), None);
    assert_eq!(scalar(&wh, account), "acc_0013");
    let tables = [
        ("stg_tickets", "id"),
        ("stg_nps", "response_id"),
        ("stg_events", "message_id"),
        ("stg_identities", "message_id"),
    ];
    assert_staged_as_afresh(
        &wh,
        &data,
        dir.path(),
        &tables,
        "after a call moving a ticket",
    );
}

#[test]
fn a_second_run_waits_for_none_and_names_the_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    ok(&cl(&wh, None, &["ingest"]));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = |pid: u32| {
        format!(
            r#"{{"run_id":"20261124T000000000Z-00001","command":"run","pid":{pid},"host":"{}","started_at":"2026-11-24T00:00:00Z"}}"#,
            host.trim()
        )
    };
    // Held by a live process (this test).
    std::fs::write(wh.join("_lock"), lock(std::process::id())).unwrap();
    let tables_before = snapshot(&wh.join("stg_events"));
    let out = cl(&wh, None, &["run", "--as-of", DAY]);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("locked by run 20261124T000000000Z-00001"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(message.contains("churnlake unlock"), "{message}");
    assert_eq!(snapshot(&wh.join("stg_events")), tables_before);

    // Held by a process that has exited: taken over with a warning.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(wh.join("_lock"), lock(dead)).unwrap();
    let out = cl(&wh, None, &["build", "--as-of", DAY]);
    ok(&out);
    assert!(
        stderr(&out).contains("took over the lock"),
        "{}",
        stderr(&out)
    );
    assert!(!wh.join("_lock").exists());

    // `unlock` removes any lock and says whose it was.
    std::fs::write(wh.join("_lock"), lock(std::process::id())).unwrap();
    let out = cl(&wh, None, &["unlock"]);
    ok(&out);
    assert!(stdout(&out).contains("removed the lock of run 20261124T000000000Z-00001"));
    assert!(!wh.join("_lock").exists());
}

/// Files of the published tables (not the run log, lock or work area), with their bytes.
fn published(wh: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(wh)
        .into_iter()
        .filter(|(path, _)| {
            let rel = path.strip_prefix(wh).unwrap().to_string_lossy().to_string();
            ![
                "_work",
                "_lock",
                "runs",
                "data_quality",
                "quarantine",
                "_run_results",
            ]
            .iter()
            .any(|skip| rel.starts_with(skip))
        })
        .collect()
}

#[test]
fn a_kill_during_publish_leaves_readable_tables_and_the_next_run_repairs_them() {
    let points = [
        "before-commit",
        "mid-publish",
        "after-commit",
        "before-delete",
    ];
    kill_during_publish("parquet", &points);
}

#[test]
fn a_kill_during_a_delta_publish_leaves_each_table_at_a_committed_version() {
    // `between-commits`: some tables at the run's version, the others at the last run's.
    let points = [
        "before-commit",
        "mid-publish",
        "after-commit",
        "between-commits",
        "before-delete",
    ];
    kill_during_publish("delta", &points);
}

fn kill_during_publish(format: &str, points: &[&str]) {
    let env = [("CHURNLAKE_TABLE_FORMAT", format)];
    let cl = |wh: &Path, data: Option<&Path>, args: &[&str]| cl_env(wh, data, args, &env);
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    // The reference: the end state after a clean run of each step.
    let reference = dir.path().join("reference");
    ok(&cl(
        &reference,
        Some(&data),
        &["run", "--as-of", "2026-08-01"],
    ));
    ok(&cl(&reference, Some(&data), &["run", "--as-of", DAY]));
    let expected = all_rows(&reference);

    for &point in points {
        let wh = dir.path().join(point);
        ok(&cl(&wh, Some(&data), &["run", "--as-of", "2026-08-01"]));
        let before = published(&wh);
        let killed = cl_env(
            &wh,
            Some(&data),
            &["build", "--as-of", DAY],
            &[("CHURNLAKE_KILL_AT", point), env[0]],
        );
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&killed.status),
            Some(9),
            "{point}: {}",
            stderr(&killed)
        );
        assert!(
            wh.join("_lock").exists(),
            "{point}: a killed run leaves its lock"
        );
        if point == "before-commit" {
            assert_eq!(published(&wh), before, "{point}: nothing published");
        }
        // Every table stays readable, whatever mix of old and new partitions it holds.
        all_rows(&wh);

        let out = cl(&wh, Some(&data), &["run", "--as-of", DAY]);
        ok(&out);
        let said = stderr(&out);
        assert!(said.contains("took over the lock"), "{point}: {said}");
        let repair = if point == "before-commit" {
            "removed the unpublished work"
        } else {
            "finished publishing run"
        };
        assert!(said.contains(repair), "{point}: {said}");
        assert_same(&all_rows(&wh), &expected, point);
        assert!(!wh.join("_work").exists(), "{point}");
    }
}

#[test]
fn a_kill_at_any_moment_of_a_run_is_repaired_by_the_next_one() {
    kill_at_any_moment("parquet");
}

#[test]
fn a_kill_at_any_moment_of_a_delta_run_is_repaired_by_the_next_one() {
    kill_at_any_moment("delta");
}

fn kill_at_any_moment(format: &str) {
    let env = [("CHURNLAKE_TABLE_FORMAT", format)];
    let cl = |wh: &Path, data: Option<&Path>, args: &[&str]| cl_env(wh, data, args, &env);
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let reference = dir.path().join("reference");
    ok(&cl(&reference, Some(&data), &["run", "--as-of", DAY]));
    let expected = all_rows(&reference);
    for delay_ms in [150u64, 600, 1200, 2500] {
        let wh = dir.path().join(format!("killed-{delay_ms}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_churnlake"))
            .current_dir(root())
            .env("CHURNLAKE_TABLE_FORMAT", format)
            .arg("--warehouse")
            .arg(&wh)
            .arg("--data-root")
            .arg(&data)
            .args(["run", "--as-of", DAY])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        // A run that ended before the signal proves nothing about crash safety.
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "killed after {delay_ms} ms: the run had already ended ({status})"
        );
        let out = cl(&wh, Some(&data), &["run", "--as-of", DAY]);
        ok(&out);
        assert_same(
            &all_rows(&wh),
            &expected,
            &format!("killed after {delay_ms} ms"),
        );
    }
}

#[test]
fn exit_codes_tell_the_scheduler_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    // 0: built.
    ok(&cl(&wh, Some(&data), &["run", "--as-of", DAY]));
    // 99: the date's data has not landed; what was ingested stays.
    let out = cl(&wh, Some(&data), &["run", "--as-of", "2027-03-01"]);
    assert_eq!(exit_code(&out), 99, "{}", stderr(&out));
    assert!(stderr(&out).contains("no input"), "{}", stderr(&out));
    assert_eq!(
        scalar(
            &wh,
            "select status from runs where run_id = (select max(run_id) from runs)"
        ),
        "failed"
    );
    // 2: usage.
    let out = cl(&wh, Some(&data), &["run", "--as-of", "yesterday"]);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    let out = cl(
        &wh,
        Some(&data),
        &["backfill", "--from", "2026-09-01", "--to", "2026-08-01"],
    );
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    // 3: a file that cannot be read, named in the message; the tables stay as they were.
    let before = published(&wh);
    std::fs::write(
        data.join("segment/events-2026-12.ndjson.gz"),
        b"not gzip at all",
    )
    .unwrap();
    let out = cl(&wh, Some(&data), &["run", "--as-of", DAY]);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("events-2026-12.ndjson.gz"),
        "{}",
        stderr(&out)
    );
    assert_eq!(published(&wh), before);
    std::fs::remove_file(data.join("segment/events-2026-12.ndjson.gz")).unwrap();
    // 1: a data check: a new handoff export whose rows all carry a negative MRR.
    let header = std::fs::read_to_string(data.join("handoffs/handoffs.csv")).unwrap();
    let header = header.lines().next().unwrap();
    let bad: String = (0..20)
        .map(|i| {
            format!(
                "D-9{i:05},acc_9{i:03},Bad Co,starter,smb,Media,NA,10,5,2026-01-01,2027-01-01,\
                 -100,,USD,Riley Chen,Alex Kim,2025-12-01T00:00:00Z,2025-12-01T00:00:00Z,,,,,,\n"
            )
        })
        .collect();
    std::fs::write(
        data.join("handoffs/bad-export.csv"),
        format!("{header}\n{bad}"),
    )
    .unwrap();
    let out = cl(&wh, Some(&data), &["run", "--as-of", DAY]);
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("data check failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(published(&wh), before);
}

#[test]
fn json_logs_and_run_results_describe_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let copy = dir.path().join("run_results.json");
    let out = cl(
        &wh,
        None,
        &[
            "--log-format",
            "json",
            "--run-results",
            copy.to_str().unwrap(),
            "run",
            "--as-of",
            DAY,
        ],
    );
    ok(&out);
    let results: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    assert_eq!(results["status"], "success");
    assert_eq!(results["exit_code"], 0);
    assert_eq!(results["as_of"][0], DAY);
    let steps = results["results"].as_array().unwrap();
    let customer = steps
        .iter()
        .find(|s| s["unique_id"] == "table.customer_daily")
        .expect("customer_daily in the results");
    assert_eq!(
        customer["rows"].as_u64().unwrap().to_string(),
        scalar(
            &wh,
            &format!("select count(*) from customer_daily where as_of_date = date '{DAY}'")
        )
    );
    assert!(steps.iter().any(|s| s["unique_id"] == "source.events"));
    assert!(
        results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true)
    );
    for line in stderr(&out).lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).expect("each stderr line is JSON");
        assert!(event["event"].is_string(), "{line}");
    }
    let run_id = results["metadata"]["run_id"].as_str().unwrap();
    let published: serde_json::Value = serde_json::from_slice(
        &std::fs::read(wh.join(format!("_run_results/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(published, results);
    let copied: serde_json::Value = serde_json::from_slice(&std::fs::read(&copy).unwrap()).unwrap();
    assert_eq!(copied, results);

    // A skipped date says so in the same shape, with exit code 99.
    let out = cl(
        &wh,
        None,
        &["--log-format", "json", "run", "--as-of", "2027-03-01"],
    );
    assert_eq!(exit_code(&out), 99);
    let results: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(results["status"], "skipped");
    assert_eq!(results["exit_code"], 99);
}

#[test]
fn staging_sql_of_another_build_restages_every_table_though_no_file_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixtures_copy(dir.path());
    let wh = dir.path().join("wh");
    ok(&cl(&wh, Some(&data), &["ingest"]));
    let manifest_path = wh.join("_state/manifest.json");
    let manifest = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let mut stale = manifest(&manifest_path);
    let current = stale["staging"]["fingerprint"].clone();
    // As a churnlake with other staging SQL would have left it.
    stale["staging"]["fingerprint"] = "0000000000000000".into();
    std::fs::write(&manifest_path, serde_json::to_vec(&stale).unwrap()).unwrap();
    let before = file_stamps(&wh.join("stg_tickets"));

    let out = cl(&wh, Some(&data), &["--log-format", "json", "ingest"]);
    ok(&out);
    assert_ne!(
        table_message(&out, "stg_tickets").as_deref(),
        Some("kept as the last run staged it")
    );
    let restaged = file_stamps(&wh.join("stg_tickets"));
    assert_ne!(restaged, before, "stg_tickets restaged");
    assert_eq!(manifest(&manifest_path)["staging"]["fingerprint"], current);
    // Then nothing is new again: nothing is restaged.
    ok(&cl(&wh, Some(&data), &["ingest"]));
    assert_eq!(file_stamps(&wh.join("stg_tickets")), restaged);
}
