//! `[[metrics]]` on a hand-built book: each metric definition of contract §4 worked out by
//! hand in the comments, read back from customer_daily after a real ingest and build.

mod common;

use common::*;

const PIPELINE: &str = r#"
[pipeline]
name = "metrics"
warehouse = "wh"
data_root = "data"

[sources.handoffs]
kind = "handoffs"
path = "handoffs.csv"

[sources.events]
kind = "events"
path = "events.ndjson"

[[metrics]]
name = "posts"
kind = "count"
events = ["post"]

[[metrics]]
name = "posts_14d"
kind = "count"
events = ["post"]
window_days = 14

[[metrics]]
name = "users"
kind = "distinct_users"

[[metrics]]
name = "active"
kind = "active_days"

[[metrics]]
name = "amount"
kind = "sum"
events = ["post"]
property = "amount"

[[metrics]]
name = "mobile_posts"
kind = "count"
where = "event = 'post' and property(properties, 'channel') = 'mobile'"

[[metrics]]
name = "last_login"
kind = "days_since"
events = ["login"]

[[metrics]]
name = "last_like"
kind = "days_since"
events = ["like"]
window_days = 3

[[metrics]]
name = "posts_per_user"
kind = "per_user"
metric = "posts"

[[metrics]]
name = "posts_per_seat"
kind = "per_seat"
metric = "posts"

[[metrics]]
name = "amount_per_mrr"
kind = "per_mrr"
metric = "amount"

[[metrics]]
name = "posts_change"
kind = "change"
metric = "posts"

[[metrics]]
name = "post_share"
kind = "ratio"
numerator = "posts"
denominator = "active"

[[metrics]]
name = "posts_scaled"
kind = "count"
events = ["post"]
scale_to_tenure = true

[health]
name = "h"
version = 1

[[health.components]]
name = "posting"
metric = "m_posts_per_user"
scale = "linear"
bad = 0
good = 3
weight = 1
"#;

const HANDOFFS: &str = "\
deal_id,account_id,segment,seats,start_date,end_date,mrr,currency
A1,acc_a,smb,4,2026-01-01,,200,USD
B1,acc_b,smb,2,2026-03-20,,100,USD
";

/// One track call.
fn event(id: &str, account: &str, user: &str, day: &str, name: &str, properties: &str) -> String {
    format!(
        "{{\"type\":\"track\",\"messageId\":\"{id}\",\"timestamp\":\"{day}T12:00:00Z\",\"userId\":\"{user}\",\"event\":\"{name}\",\"context\":{{\"groupId\":\"{account}\"}},\"properties\":{properties}}}\n"
    )
}

fn book() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pipeline.toml", PIPELINE);
    write(dir.path(), "data/handoffs.csv", HANDOFFS);
    let events = [
        // The 30-day window of 2026-03-31 starts on 03-02, the 14-day one on 03-18, the
        // 60-day one (posts_change) on 01-31.
        event(
            "a1",
            "acc_a",
            "u1",
            "2026-03-31",
            "post",
            r#"{"amount": 10.5}"#,
        ),
        event(
            "a2",
            "acc_a",
            "u2",
            "2026-03-30",
            "post",
            r#"{"amount": "2"}"#,
        ),
        event("a3", "acc_a", "u1", "2026-03-25", "like", "{}"),
        event(
            "a4",
            "acc_a",
            "u1",
            "2026-03-10",
            "post",
            r#"{"amount": 1.25, "channel": "mobile"}"#,
        ),
        event("a5", "acc_a", "u1", "2026-02-20", "post", "{}"),
        event("a6", "acc_a", "u3", "2026-01-15", "login", "{}"),
        // After the date: never counted on 03-31.
        event(
            "a7",
            "acc_a",
            "u4",
            "2026-04-01",
            "post",
            r#"{"amount": 100}"#,
        ),
        event("b1", "acc_b", "v1", "2026-03-25", "post", "{}"),
        event("b2", "acc_b", "v1", "2026-03-31", "post", "{}"),
    ]
    .concat();
    write(dir.path(), "data/events.ndjson", events);
    for args in [&["ingest"][..], &["build", "--as-of", "2026-03-31"]] {
        let mut full = vec!["--pipeline", "pipeline.toml"];
        full.extend(args);
        let out = churnlake(dir.path(), &full);
        assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    }
    dir
}

#[test]
fn every_metric_kind_gives_its_hand_worked_value_point_in_time() {
    let dir = book();
    let rows = query(
        &dir.path().join("wh"),
        "select account_id, m_posts, m_posts_14d, m_users, m_active, m_amount, m_mobile_posts, \
         m_last_login, m_last_like, m_posts_per_user, m_posts_per_seat, m_amount_per_mrr, \
         m_posts_change, m_post_share, m_posts_scaled \
         from customer_daily where as_of_date = date '2026-03-31' order by account_id",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                "acc_a",
                // posts on 03-31, 03-30 and 03-10 (02-20 is 39 days back; 04-01 is later).
                "3",     // 03-31 and 03-30.
                "2",     // u1 and u2 (u3 logged in 75 days back, u4 later).
                "2",     // 03-31, 03-30, 03-25, 03-10.
                "4",     // 10.5 + 2 (a numeric string) + 1.25.
                "13.75", // a4 alone has channel mobile.
                "1",     // 01-15 to 03-31: 16 + 28 + 31 days, within the 90-day window.
                "75",    // The like is 6 days back, outside its 3-day window.
                "",      // 3 posts / 2 users; / 4 seats; 13.75 / 200 MRR.
                "1.5", "0.75", "0.06875",
                // 30 days: 3 posts; the 30 before: 1 (02-20): (3 / 30) / (1 / 30).
                "3.0",  // 3 posts / 4 active days.
                "0.75", // 89 days of tenure: no scaling.
                "3.0",
            ],
            vec![
                "acc_b", "2", "2", "1", "2", // No amounts: a sum of nothing is 0.
                "0.0", "0", "", "", "2.0", "1.0", "0.0",
                // Nothing in the earlier 30 days: no rate to compare with.
                "", "1.0", // 11 days of tenure, 12 days observed: 2 × 30 / 12.
                "5.0",
            ],
        ]
    );
    // A component reads a metric: acc_a posts 1.5 per user on a 0–3 scale.
    assert_eq!(
        scalar(
            &dir.path().join("wh"),
            "select score from health_scores where account_id = 'acc_a'"
        ),
        "50.0"
    );
}

#[test]
fn a_metric_condition_naming_an_unknown_column_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = PIPELINE.replace(
        "property(properties, 'channel') = 'mobile'",
        "channel = 'mobile'",
    );
    write(dir.path(), "pipeline.toml", &pipeline);
    write(dir.path(), "data/handoffs.csv", HANDOFFS);
    write(dir.path(), "data/events.ndjson", "");
    let out = churnlake(dir.path(), &["--pipeline", "pipeline.toml", "validate"]);
    assert_eq!(exit_code(&out), 2, "{}", stdout(&out));
    let text = stderr(&out);
    assert!(
        text.contains("pipeline.toml:43:")
            && text.contains("`where` of metric `mobile_posts`")
            && text.contains("unknown column(s) `channel`"),
        "{text}"
    );
}

#[test]
fn a_calibration_feature_that_is_no_column_is_reported_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = format!(
        "{PIPELINE}\n[calibration]\nfeatures = [\"posting\", \"m_posts\", \"posts_per_day\"]\n"
    );
    write(dir.path(), "pipeline.toml", &pipeline);
    write(dir.path(), "data/handoffs.csv", HANDOFFS);
    write(dir.path(), "data/events.ndjson", "");
    let out = churnlake(dir.path(), &["--pipeline", "pipeline.toml", "validate"]);
    assert_eq!(exit_code(&out), 2, "{}", stdout(&out));
    let text = stderr(&out);
    assert!(
        text.contains("[calibration] feature `posts_per_day`")
            && text.contains("unknown column(s) `posts_per_day`")
            && !text.contains("feature `m_posts`"),
        "{text}"
    );
}
