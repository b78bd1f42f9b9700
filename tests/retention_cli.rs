//! `mrr_monthly` and `retention_monthly` on a hand-built book of contract lines. Every
//! expected number is worked out in the comments from contract §5.

mod common;

use common::*;
use std::path::Path;

const PIPELINE: &str = r#"
[pipeline]
name = "retention"
warehouse = "wh"
data_root = "data"

[sources.handoffs]
kind = "handoffs"
path = "handoffs.csv"

[sources.fx_rates]
kind = "fx_rates"
path = "fx.csv"

[health]
name = "h"
version = 1

[[health.components]]
name = "usage"
metric = "active_days_30d"
scale = "linear"
bad = 0
good = 10
weight = 1
"#;

/// Boundaries run from 2025-11-01 (the month ending where the first lines start) to
/// 2026-06-01, the last month start on or before the as-of date 2026-06-30: months Nov … May
/// are complete.
const HANDOFFS: &str = "\
deal_id,account_id,segment,start_date,end_date,mrr,arr,currency
a1,a1,smb,2026-01-15,,100,,USD
a2,a2,smb,2026-02-10,2026-02-20,50,,USD
a3-old,a3,smb,2025-12-01,2026-02-15,200,,USD
a3-new,a3,smb,2026-04-05,,150,,USD
a4-base,a4,enterprise,2025-12-01,,100,,USD
a4-addon,a4,enterprise,2026-03-10,,50,,USD
a5-old,a5,enterprise,2025-12-01,2026-04-15,300,,USD
a5-new,a5,enterprise,2026-04-15,,240,,USD
a6-old,a6,smb,2025-12-01,2026-03-01,80,,USD
a6-new,a6,smb,2026-03-01,,80,,USD
a7,a7,free,2025-12-01,,0,,USD
a8,a8,startup,2026-01-01,,,1200,USD
a9,a9,enterprise,2025-12-01,,100,,EUR
";

fn book() -> tempfile::TempDir {
    built(PIPELINE)
}

/// The book ingested and built as of 2026-06-30 with `pipeline`, in a fresh directory.
fn built(pipeline: &str) -> tempfile::TempDir {
    built_from(pipeline, HANDOFFS)
}

/// `handoffs` ingested and built as of 2026-06-30 with `pipeline`, in a fresh directory.
fn built_from(pipeline: &str, handoffs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pipeline.toml", pipeline);
    write(dir.path(), "data/handoffs.csv", handoffs);
    write(
        dir.path(),
        "data/fx.csv",
        "date,currency,rate\n2025-11-30,EUR,1.1\n2026-03-01,EUR,2.0\n",
    );
    for args in [&["ingest"][..], &["build", "--as-of", "2026-06-30"]] {
        let mut full = vec!["--pipeline", "pipeline.toml"];
        full.extend(args);
        let out = churnlake(dir.path(), &full);
        assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    }
    dir
}

fn wh(dir: &Path) -> std::path::PathBuf {
    dir.join("wh")
}

#[test]
fn movements_follow_the_boundary_snapshots() {
    let dir = book();
    let rows = query(
        &wh(dir.path()),
        "select account_id, cast(month as varchar) as month_text, movement, cast(mrr_start as varchar), cast(mrr_end as varchar), \
         cast(new + reactivation + expansion - contraction - churn as varchar) \
         from mrr_monthly where movement <> 'flat' order by month, account_id",
    );
    assert_eq!(
        rows,
        vec![
            // The lines starting on 2025-12-01 are new in November, whose end that is.
            vec![
                "a3",
                "2025-11-01",
                "new",
                "0.000000",
                "200.000000",
                "200.000000"
            ],
            vec![
                "a4",
                "2025-11-01",
                "new",
                "0.000000",
                "100.000000",
                "100.000000"
            ],
            vec![
                "a5",
                "2025-11-01",
                "new",
                "0.000000",
                "300.000000",
                "300.000000"
            ],
            vec![
                "a6",
                "2025-11-01",
                "new",
                "0.000000",
                "80.000000",
                "80.000000"
            ],
            vec![
                "a7",
                "2025-11-01",
                "new",
                "0.000000",
                "0.000000",
                "0.000000"
            ],
            vec![
                "a9",
                "2025-11-01",
                "new",
                "0.000000",
                "110.000000",
                "110.000000"
            ],
            // a8 starts on 2026-01-01 (arr 1200 → mrr 100): inactive at Dec 1, active at Jan 1.
            vec![
                "a8",
                "2025-12-01",
                "new",
                "0.000000",
                "100.000000",
                "100.000000"
            ],
            // a1 starts mid-January.
            vec![
                "a1",
                "2026-01-01",
                "new",
                "0.000000",
                "100.000000",
                "100.000000"
            ],
            // a3's first line ends 2026-02-15: active on Feb 1, not on Mar 1.
            vec![
                "a3",
                "2026-02-01",
                "churn",
                "200.000000",
                "0.000000",
                "-200.000000"
            ],
            // a4 adds a 50 line on 2026-03-10.
            vec![
                "a4",
                "2026-03-01",
                "expansion",
                "100.000000",
                "150.000000",
                "50.000000"
            ],
            // a3 returns on 2026-04-05 after a month with no line: reactivation, not new.
            vec![
                "a3",
                "2026-04-01",
                "reactivation",
                "0.000000",
                "150.000000",
                "150.000000"
            ],
            // a5 renews at 240 on the day its 300 line ends: contraction, no churn.
            vec![
                "a5",
                "2026-04-01",
                "contraction",
                "300.000000",
                "240.000000",
                "-60.000000"
            ],
        ]
    );
    // a2 starts and ends inside February: it never appears. a3 has no row for March (inactive
    // at both boundaries). a6 renews on the day its line ends: new once, then flat, never churned.
    let wh = wh(dir.path());
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from mrr_monthly where account_id = 'a2'"
        ),
        "0"
    );
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from mrr_monthly where account_id = 'a3' and month = date '2026-03-01'"
        ),
        "0"
    );
    assert_eq!(
        scalar(
            &wh,
            "select string_agg(distinct movement, ',' order by movement) from mrr_monthly where account_id = 'a6'"
        ),
        "flat,new"
    );
    // a7's zero-MRR line keeps it active; the EUR line converts at the rate on 2025-11-30
    // (1.1), fixed for the line's life although the rate later moves to 2.0.
    assert_eq!(
        query(
            &wh,
            "select account_id, cast(min(mrr_end) as varchar), cast(max(mrr_end) as varchar), count(*) from mrr_monthly where account_id in ('a7', 'a9') group by 1 order by 1"
        ),
        vec![
            vec!["a7", "0.000000", "0.000000", "7"],
            vec!["a9", "110.000000", "110.000000", "7"]
        ]
    );
    // Months end at 2026-06-01 <= as_of: June is not complete and not written.
    assert_eq!(
        scalar(&wh, "select cast(max(month) as varchar) from mrr_monthly"),
        "2026-05-01"
    );
}

#[test]
fn the_retention_equation_and_rates_by_hand() {
    let dir = book();
    let rows = query(
        &wh(dir.path()),
        "select cast(month as varchar) as month_text, logos_start, logos_end, new_logos, reactivated_logos, churned_logos, \
         cast(mrr_start as varchar), cast(new_mrr as varchar), cast(reactivation_mrr as varchar), \
         cast(expansion_mrr as varchar), cast(contraction_mrr as varchar), cast(churned_mrr as varchar), \
         cast(mrr_end as varchar) from retention_monthly where segment = 'all' order by month",
    );
    // At Dec 1: a3 200, a4 100, a5 300, a6 80, a7 0, a9 110 = 790 over 6 logos, all new
    // in November.
    assert_eq!(
        rows,
        vec![
            vec![
                "2025-11-01",
                "0",
                "6",
                "6",
                "0",
                "0",
                "0.000000",
                "790.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "790.000000"
            ],
            vec![
                "2025-12-01",
                "6",
                "7",
                "1",
                "0",
                "0",
                "790.000000",
                "100.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "890.000000"
            ],
            vec![
                "2026-01-01",
                "7",
                "8",
                "1",
                "0",
                "0",
                "890.000000",
                "100.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "990.000000"
            ],
            vec![
                "2026-02-01",
                "8",
                "7",
                "0",
                "0",
                "1",
                "990.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "200.000000",
                "790.000000"
            ],
            vec![
                "2026-03-01",
                "7",
                "7",
                "0",
                "0",
                "0",
                "790.000000",
                "0.000000",
                "0.000000",
                "50.000000",
                "0.000000",
                "0.000000",
                "840.000000"
            ],
            vec![
                "2026-04-01",
                "7",
                "8",
                "0",
                "1",
                "0",
                "840.000000",
                "0.000000",
                "150.000000",
                "0.000000",
                "60.000000",
                "0.000000",
                "930.000000"
            ],
            vec![
                "2026-05-01",
                "8",
                "8",
                "0",
                "0",
                "0",
                "930.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "0.000000",
                "930.000000"
            ],
        ]
    );
    let rates = query(
        &wh(dir.path()),
        "select cast(month as varchar) as month_text, cast(logo_churn_rate as varchar), cast(round(gross_mrr_churn_rate, 6) as varchar), \
         cast(round(nrr, 6) as varchar), cast(quick_ratio as varchar), cast(arpa as varchar), cast(ltv as varchar) \
         from retention_monthly where segment = 'all' order by month",
    );
    assert_eq!(
        rates,
        vec![
            // No churn or contraction: quick ratio has a zero denominator → null; the mean
            // logo churn of the months so far is 0 → LTV null. ARPA 890 / 7 = 127.142857.
            // November starts from nothing: every rate over mrr_start or logos_start is null.
            vec!["2025-11-01", "", "", "", "", "131.666667", ""],
            vec!["2025-12-01", "0.0", "0.0", "1.0", "", "127.142857", ""],
            vec!["2026-01-01", "0.0", "0.0", "1.0", "", "123.750000", ""],
            // logo churn 1/8; gross 200/990; NRR 790/990; quick 0/200 = 0; ARPA 790/7;
            // LTV = 112.857143 / mean(0, 0, 0.125) = 112.857143 × 24 = 2708.571432.
            vec![
                "2026-02-01",
                "0.125",
                "0.20202",
                "0.79798",
                "0.0",
                "112.857143",
                "2708.571432"
            ],
            vec![
                "2026-03-01",
                "0.0",
                "0.0",
                "1.063291",
                "",
                "120.000000",
                "2880.000000"
            ],
            // quick = 150 / 60 = 2.5; NRR = (840 − 60) / 840.
            vec![
                "2026-04-01",
                "0.0",
                "0.071429",
                "0.928571",
                "2.5",
                "116.250000",
                "2790.000000"
            ],
            // The window Mar–May has no churn: LTV null, not infinite.
            vec!["2026-05-01", "0.0", "0.0", "1.0", "", "116.250000", ""],
        ]
    );
}

#[test]
fn segments_add_up_to_all_and_the_equation_holds_everywhere() {
    let dir = book();
    let wh = wh(dir.path());
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from retention_monthly where mrr_end <> mrr_start + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr"
        ),
        "0"
    );
    assert_eq!(
        query(
            &wh,
            "select segment, cast(mrr_end as varchar), logos_end from retention_monthly where month = date '2026-05-01' order by segment"
        ),
        vec![
            // all: 930 = enterprise (a4 150 + a5 240 + a9 110) + free (a7 0) + smb (a1 100 +
            // a3 150 + a6 80) + startup (a8 100).
            vec!["all", "930.000000", "8"],
            vec!["enterprise", "500.000000", "3"],
            vec!["free", "0.000000", "1"],
            vec!["smb", "330.000000", "3"],
            vec!["startup", "100.000000", "1"],
        ]
    );
}

#[test]
fn a_months_segment_is_that_of_the_latest_line_starting_before_its_end() {
    let dir = built_from(
        PIPELINE,
        "\
deal_id,account_id,segment,start_date,end_date,mrr,arr,currency
b1,b,smb,2025-12-01,,100,,USD
b2,b,mid,2026-03-01,,50,,USD
b3-a,b,aaa,2026-04-10,,10,,USD
b3-b,b,ent,2026-04-10,,10,,USD
c1,c,startup,2026-02-01,,20,,USD
c2,c,growth,2026-02-01,,20,,USD
",
    );
    let rows = query(
        &wh(dir.path()),
        "select account_id, cast(month as varchar), segment from mrr_monthly order by 1, 2",
    );
    let expected = [
        // b1 starts on Dec 1, the end of November (new at E): its own segment.
        ("b", "2025-11-01", "smb"),
        // b2 starts on Mar 1, the end of February, not before it: February is still smb.
        ("b", "2025-12-01", "smb"),
        ("b", "2026-01-01", "smb"),
        ("b", "2026-02-01", "smb"),
        ("b", "2026-03-01", "mid"),
        // Two lines on one day, neither closed: the greater deal_id.
        ("b", "2026-04-01", "ent"),
        ("b", "2026-05-01", "ent"),
        // c's lines both start on Feb 1, the end of January (new at E): theirs, c2's.
        ("c", "2026-01-01", "growth"),
        ("c", "2026-02-01", "growth"),
        ("c", "2026-03-01", "growth"),
        ("c", "2026-04-01", "growth"),
        ("c", "2026-05-01", "growth"),
    ];
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|(a, m, s)| vec![a.to_string(), m.to_string(), s.to_string()])
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn the_forecast_projects_trailing_mean_rates() {
    let dir = book();
    let wh = wh(dir.path());
    // Trailing 3 months (Mar, Apr, May): new = (0 + 150 + 0) / 3 = 50 a month (reactivation
    // counts as new business); expansion rate = (50/790 + 0 + 0) / 3; contraction rate =
    // (0 + 60/840 + 0) / 3; churn rate 0. June starts at May's 930:
    // expansion 930 × 0.0210970 = 19.620253, contraction 930 × 0.0238095 = 22.142857,
    // mrr_end = 930 + 50 + 19.620253 − 22.142857 = 977.477396.
    assert_eq!(
        query(
            &wh,
            "select cast(month as varchar) as month_text, cast(mrr_start as varchar), cast(new_mrr as varchar), \
                    cast(expansion_mrr as varchar), cast(contraction_mrr as varchar), cast(churned_mrr as varchar), \
                    cast(mrr_end as varchar), trailing_months from retention_forecast order by month limit 1"
        ),
        vec![vec![
            "2026-06-01",
            "930.000000",
            "50.000000",
            "19.620253",
            "22.142857",
            "0.000000",
            "977.477396",
            "3"
        ]]
    );
    assert_eq!(scalar(&wh, "select count(*) from retention_forecast"), "36");
    // With no churn in the window, churned MRR never exceeds new MRR: no growth ceiling.
    assert_eq!(
        scalar(
            &wh,
            "select count(*) from retention_forecast where churn_exceeds_new or growth_ceiling_month"
        ),
        "0"
    );
}

#[test]
fn the_growth_ceiling_is_the_first_month_churn_exceeds_new() {
    let dir = built(&format!(
        "{PIPELINE}\n[retention]\nforecast_trailing_months = 4\n"
    ));
    // Feb–May: new = 150 / 4 = 37.5; churn rate = (200/990) / 4 = 0.0505051, so June's
    // churned MRR is 930 × 0.0505051 = 46.969697 > 37.5: the ceiling is reached at once.
    assert_eq!(
        query(
            &wh(dir.path()),
            "select cast(month as varchar) as month_text, cast(new_mrr as varchar), cast(churned_mrr as varchar), churn_exceeds_new \
                                from retention_forecast where growth_ceiling_month"
        ),
        vec![vec!["2026-06-01", "37.500000", "46.969697", "true"]]
    );
}

#[test]
fn churn_cohorts_by_hand() {
    let dir = book();
    let rows = query(
        &wh(dir.path()),
        "select cast(cohort_month as varchar) as cohort, months_since_start, cohort_size, active_accounts, \
         cast(round(logo_retention, 6) as varchar), cast(mrr as varchar), cast(round(mrr_retention, 6) as varchar) \
         from churn_cohorts order by cohort_month, months_since_start",
    );
    assert_eq!(
        rows,
        vec![
            // December 2025: a3 200, a4 100, a5 300, a6 80, a7 0, a9 110 on their first day = 790.
            vec!["2025-12-01", "0", "6", "6", "1.0", "790.000000", "1.0"],
            vec!["2025-12-01", "1", "6", "6", "1.0", "790.000000", "1.0"],
            vec!["2025-12-01", "2", "6", "6", "1.0", "790.000000", "1.0"],
            // Mar 1: a3 has lapsed → 5 of 6, 590 / 790.
            vec![
                "2025-12-01",
                "3",
                "6",
                "5",
                "0.833333",
                "590.000000",
                "0.746835"
            ],
            // Apr 1: a4's add-on → 640.
            vec![
                "2025-12-01",
                "4",
                "6",
                "5",
                "0.833333",
                "640.000000",
                "0.810127"
            ],
            // May 1: a3 is back at 150, a5 renewed at 240 → 730, all 6 active.
            vec!["2025-12-01", "5", "6", "6", "1.0", "730.000000", "0.924051"],
            vec!["2025-12-01", "6", "6", "6", "1.0", "730.000000", "0.924051"],
            // January 2026: a8 (100 from Jan 1) and a1 (100 from Jan 15) = 200.
            vec!["2026-01-01", "0", "2", "2", "1.0", "200.000000", "1.0"],
            vec!["2026-01-01", "1", "2", "2", "1.0", "200.000000", "1.0"],
            vec!["2026-01-01", "2", "2", "2", "1.0", "200.000000", "1.0"],
            vec!["2026-01-01", "3", "2", "2", "1.0", "200.000000", "1.0"],
            vec!["2026-01-01", "4", "2", "2", "1.0", "200.000000", "1.0"],
            vec!["2026-01-01", "5", "2", "2", "1.0", "200.000000", "1.0"],
            // February 2026: a2 lived from Feb 10 to Feb 20 — period 0 counts it, Mar 1 does not.
            vec!["2026-02-01", "0", "1", "1", "1.0", "50.000000", "1.0"],
            vec!["2026-02-01", "1", "1", "0", "0.0", "0.000000", "0.0"],
            vec!["2026-02-01", "2", "1", "0", "0.0", "0.000000", "0.0"],
            vec!["2026-02-01", "3", "1", "0", "0.0", "0.000000", "0.0"],
            vec!["2026-02-01", "4", "1", "0", "0.0", "0.000000", "0.0"],
        ]
    );
}

/// The book with a health score that is simply MRR on a 0–300 scale, so that every score
/// can be worked out by hand.
fn book_scored_by(metric: &str) -> tempfile::TempDir {
    built(
        &PIPELINE
            .replace(
                "metric = \"active_days_30d\"",
                &format!("metric = \"{metric}\""),
            )
            .replace("good = 10", "good = 300"),
    )
}

#[test]
fn health_cohorts_measure_churn_by_band_auc_and_surprises() {
    let dir = book_scored_by("mrr");
    let rows = query(
        &wh(dir.path()),
        "select cast(observation_date as varchar) as observed, band, accounts, churned, \
         cast(round(auc, 6) as varchar), cast(surprise_churn_rate as varchar) \
         from health_cohorts where band = 'all' order by observation_date",
    );
    assert_eq!(
        rows,
        vec![
            // Dec 1: a3 (200 → score 66.67) churns by Mar 1 (+90 days); of the 5 others only
            // a5 (300 → 100) scores higher: AUC = 1/5. Its churn at the Mar 1 boundary was
            // yellow 30 days before (66.67): flagged, not a surprise.
            vec!["2025-12-01", "all", "6", "1", "0.2", "0.0"],
            // Jan 1: 7 active (a1 starts Jan 15); a3 is out on Apr 1: AUC 1/6.
            vec!["2026-01-01", "all", "7", "1", "0.166667", "0.0"],
            // Feb 1: a3 is back by May 2: no churner, AUC null; its Mar 1 churn is in range.
            vec!["2026-02-01", "all", "8", "0", "", "0.0"],
            // Mar 1 and Apr 1: nobody churns within 90 days, no churn events either.
            vec!["2026-03-01", "all", "7", "0", "", ""],
            vec!["2026-04-01", "all", "7", "0", "", ""],
        ]
    );
    // By band on Dec 1: a5 100 green; a3 66.67 yellow; a4 33.3, a6 26.7, a7 0, a9 36.7 red.
    assert_eq!(
        query(
            &wh(dir.path()),
            "select band, accounts, churned from health_cohorts where observation_date = date '2025-12-01' and band <> 'all' order by band"
        ),
        vec![
            vec!["green", "1", "0"],
            vec!["red", "4", "0"],
            vec!["yellow", "1", "1"]
        ]
    );
}

#[test]
fn a_churn_from_green_is_a_surprise_and_ties_count_half() {
    // Everyone scores 100 (green): the churner ties with everyone (AUC ½) and its churn is a surprise.
    let dir = book_scored_by("300");
    assert_eq!(
        query(
            &wh(dir.path()),
            "select cast(auc as varchar), cast(surprise_churn_rate as varchar) from health_cohorts where band = 'all' and observation_date = date '2025-12-01'"
        ),
        vec![vec!["0.5", "1.0"]]
    );
}

#[test]
fn every_rate_with_a_zero_denominator_is_null() {
    let dir = book();
    let wh = wh(dir.path());
    // `free` holds only a7's zero-MRR line: mrr_start 0 → the MRR rates are null, logo churn 0.
    assert_eq!(
        query(
            &wh,
            "select logos_start, cast(logo_churn_rate as varchar), cast(gross_mrr_churn_rate as varchar), \
                    cast(grr as varchar), cast(nrr as varchar), cast(quick_ratio as varchar), cast(arpa as varchar), cast(ltv as varchar) \
                    from retention_monthly where segment = 'free' and month = date '2025-12-01'"
        ),
        vec![vec!["1", "0.0", "", "", "", "", "0.000000", ""]]
    );
    // `startup` in December: a8 is new, nobody at the start → logo churn null as well.
    assert_eq!(
        query(
            &wh,
            "select logos_start, logos_end, cast(logo_churn_rate as varchar), cast(nrr as varchar), cast(quick_ratio as varchar), cast(arpa as varchar) \
                    from retention_monthly where segment = 'startup' and month = date '2025-12-01'"
        ),
        vec![vec!["0", "1", "", "", "", "100.000000"]]
    );
}

/// The book's first lines start on 2025-12-01, a month's first day: the month before it
/// (S = 2025-11-01, E = 2025-12-01) holds their new MRR. a3 200, a4 100, a5 300, a6 80, a7 0
/// and a9 100 EUR at 1.1 = 110 are active at E: 6 new logos, 790 new MRR.
#[test]
fn the_first_month_of_history_counts_the_new_mrr_of_lines_starting_on_its_end() {
    let dir = book();
    let wh = wh(dir.path());
    assert_eq!(
        query(
            &wh,
            "select cast(month as varchar) as month_text, logos_start, new_logos, \
             cast(mrr_start as varchar), cast(new_mrr as varchar), cast(mrr_end as varchar) \
             from retention_monthly where segment = 'all' order by month limit 1"
        ),
        vec![vec![
            "2025-11-01",
            "0",
            "6",
            "0.000000",
            "790.000000",
            "790.000000"
        ]]
    );
    assert_eq!(
        query(
            &wh,
            "select account_id, movement, cast(new as varchar) from mrr_monthly \
             where month = date '2025-11-01' order by account_id"
        ),
        vec![
            vec!["a3", "new", "200.000000"],
            vec!["a4", "new", "100.000000"],
            vec!["a5", "new", "300.000000"],
            vec!["a6", "new", "80.000000"],
            vec!["a7", "new", "0.000000"],
            vec!["a9", "new", "110.000000"],
        ]
    );
    // Every MRR the history holds was added by some month: the movements from the first
    // month on sum to the last month's end.
    assert_eq!(
        query(
            &wh,
            "select cast(sum(new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr) as varchar), \
             cast(max(case when month = date '2026-05-01' then mrr_end end) as varchar) \
             from retention_monthly where segment = 'all'"
        ),
        vec![vec!["930.000000", "930.000000"]]
    );
    // Nothing starts before 2025-12-01: the cohorts begin there, at period 0.
    assert_eq!(
        scalar(
            &wh,
            "select cast(min(cohort_month) as varchar) from churn_cohorts"
        ),
        "2025-12-01"
    );
}
