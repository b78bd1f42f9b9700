//! `churnlake calibrate` on generated demo data: the observations and labels agree with
//! health_cohorts, the time split never tests on a training date, the metric cohorts hold
//! every observation, and the model it writes is a pipeline fragment that validates, builds
//! and scores with contributions adding up to the score. A failed calibration leaves the
//! published tables as they were.

mod common;

use common::*;
use std::path::Path;

const AS_OF: &str = "2026-10-31";

fn pipeline(data: &Path) -> String {
    let default = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/default.toml"),
    )
    .unwrap();
    default
        .replace(
            "data_root = \"fixtures\"",
            &format!("data_root = {:?}", data),
        )
        .replace("warehouse = \"warehouse\"", "warehouse = \"wh\"")
        + "\n[calibration]\nmin_tenure_days = 0\nfeatures = [\"usage\", \"activity\", \"nps\", \"tenure_days\"]\n"
}

/// Demo data of 120 accounts over 400 days ending on AS_OF, ingested and built as of it.
fn book() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = churnlake(
        dir.path(),
        &[
            "generate",
            "--accounts",
            "120",
            "--days",
            "400",
            "--seed",
            "11",
            "--events-per-user-day",
            "0.5",
            "--end-date",
            AS_OF,
            "--out",
            data.to_str().unwrap(),
        ],
    );
    ok(&out);
    write(dir.path(), "pipeline.toml", pipeline(&data));
    for args in [&["ingest"][..], &["build", "--as-of", AS_OF]] {
        let mut full = vec!["--pipeline", "pipeline.toml"];
        full.extend(args);
        ok(&churnlake(dir.path(), &full));
    }
    dir
}

#[test]
fn calibrate_fits_on_earlier_dates_tests_on_later_ones_and_writes_a_model_that_scores() {
    let dir = book();
    let wh = dir.path().join("wh");
    let out = churnlake(
        dir.path(),
        &[
            "--pipeline",
            "pipeline.toml",
            "calibrate",
            "--from",
            "2025-10-01",
            "--to",
            "2026-10-01",
            "--write-model",
            "v2.toml",
        ],
    );
    ok(&out);
    let text = stdout(&out);
    for expected in [
        "metric cohorts",
        "v1 current",
        "v2 calibrated",
        "v2 written to v2.toml",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }

    // Observations from 2025-10-01 to 2026-08-01 (2026-09-01 + 90 days is after AS_OF):
    // with no minimum tenure they are health_cohorts' accounts and churners, date for date.
    let evaluation = query(
        &wh,
        "select split, min(first_date), max(last_date), min(observations), min(churners), \
         count(*) from model_evaluation group by split order by split desc",
    );
    assert_eq!(evaluation.len(), 2, "{evaluation:?}");
    let (train, test) = (&evaluation[0], &evaluation[1]);
    assert_eq!((train[0].as_str(), test[0].as_str()), ("train", "test"));
    assert_eq!(train[1], "2025-10-01");
    assert_eq!(test[2], "2026-08-01");
    assert!(
        train[2] < test[1],
        "training ends before testing starts: {evaluation:?}"
    );
    for (split, row) in [("train", train), ("test", test)] {
        let cohorts = query(
            &wh,
            &format!(
                "select cast(sum(accounts) as bigint), cast(sum(churned) as bigint) \
                 from health_cohorts where band = 'all' \
                 and observation_date between date '{}' and date '{}'",
                row[1], row[2]
            ),
        );
        assert_eq!(
            (&row[3], &row[4]),
            (&cohorts[0][0], &cohorts[0][1]),
            "{split}: observations and churners as health_cohorts counts them"
        );
    }
    // Every observation is in one cohort of every feature.
    let totals = query(
        &wh,
        "select feature, cast(sum(observations) as bigint) from metric_cohorts \
         group by feature order by feature",
    );
    let observations: i64 = train[3].parse::<i64>().unwrap() + test[3].parse::<i64>().unwrap();
    assert_eq!(totals.len(), 4, "{totals:?}");
    for row in &totals {
        assert_eq!(row[1], observations.to_string(), "{row:?}");
    }
    let weights = scalar(
        &wh,
        "select round(sum(weight_share), 6) from model_features where model = 'calibrated'",
    );
    assert_eq!(weights, "1.0");

    // The fragment replaces [health]; the pipeline validates and scores with it.
    let fragment = std::fs::read_to_string(dir.path().join("v2.toml")).unwrap();
    let parsed: toml::Table = fragment.parse().expect("the fragment is TOML");
    assert_eq!(parsed["health"]["version"].as_integer(), Some(2));
    assert_eq!(parsed["health"]["kind"].as_str(), Some("logistic"));
    // Green at most at the training churn rate, yellow up to twice its odds.
    assert_eq!(parsed["health"]["green_at"].as_float(), Some(50.0));
    assert_eq!(parsed["health"]["yellow_at"].as_float(), Some(40.0));
    let current = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    let start = current.find("[health]\n").unwrap();
    let end = current.find("[[playbook]]").unwrap();
    let updated = format!("{}{fragment}\n{}", &current[..start], &current[end..]);
    write(dir.path(), "pipeline.toml", updated);
    ok(&churnlake(
        dir.path(),
        &["--pipeline", "pipeline.toml", "validate"],
    ));
    ok(&churnlake(
        dir.path(),
        &["--pipeline", "pipeline.toml", "build", "--as-of", AS_OF],
    ));
    let scored = query(
        &wh,
        &format!(
            "select count(*), min(model_version), \
             count(*) filter (where churn_probability between 0 and 1), \
             count(*) filter (where abs(usage_contribution + activity_contribution \
                 + nps_contribution + tenure_days_contribution - score) > 0.01) \
             from health_scores where as_of_date = date '{AS_OF}'"
        ),
    );
    let accounts = &scored[0][0];
    assert_eq!(
        scored[0][1..],
        ["2".to_string(), accounts.clone(), "0".to_string()],
        "{scored:?}"
    );
}

#[test]
fn a_calibration_that_cannot_run_leaves_the_published_tables_untouched() {
    let dir = book();
    let wh = dir.path().join("wh");
    let calibrate = |from: &str, to: &str| {
        churnlake(
            dir.path(),
            &[
                "--pipeline",
                "pipeline.toml",
                "calibrate",
                "--from",
                from,
                "--to",
                to,
            ],
        )
    };
    ok(&calibrate("2025-10-01", "2026-10-01"));
    let before = snapshot(&wh.join("model_evaluation"));
    // Every month start's horizon is after the data: nothing to label.
    let out = calibrate("2026-09-01", "2026-10-01");
    assert_eq!(exit_code(&out), 99, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("90-day horizon within the data"),
        "{}",
        stderr(&out)
    );
    // Two dates cannot make a training, validation and test period.
    let out = calibrate("2026-06-01", "2026-07-01");
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("calibration needs at least 3"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&wh.join("model_evaluation")), before);
}
