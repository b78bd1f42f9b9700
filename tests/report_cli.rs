//! `churnlake report` on the committed fixtures: the page's figures are the tables' values,
//! it loads nothing from the network, and a warehouse without marts or without any table
//! says what to run.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const AS_OF: &str = "2026-10-31";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(wh: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["--warehouse", wh.to_str().unwrap()];
    full.extend(args);
    churnlake(root(), &full)
}

/// The fixtures ingested and built as of AS_OF, and the report written.
fn reported() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    ok(&run(&wh, &["ingest"]));
    ok(&run(&wh, &["build", "--as-of", AS_OF]));
    let page = dir.path().join("report.html");
    let out = run(
        &wh,
        &["report", "--as-of", AS_OF, "--out", page.to_str().unwrap()],
    );
    ok(&out);
    assert!(stdout(&out).contains("report.html"), "{}", stdout(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    (dir, wh, html)
}

/// The `data-value` of the element carrying `attribute="name"`.
fn data_value(html: &str, attribute: &str, name: &str) -> f64 {
    let marker = format!("{attribute}=\"{name}\" data-value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in the page"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].parse().unwrap()
}

#[test]
fn the_pages_figures_are_the_tables_values() {
    let (_dir, wh, html) = reported();
    for heading in [
        "Headline",
        "Retention equation",
        "Health movement",
        "Who needs a call today",
        "Cohorts",
        "Does the score work?",
        "Data quality",
    ] {
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    // The last complete month as of AS_OF is October's predecessor: September.
    let month = query(
        &wh,
        "select cast(mrr_start as double), cast(new_mrr as double), \
         cast(reactivation_mrr as double), cast(expansion_mrr as double), \
         cast(contraction_mrr as double), cast(churned_mrr as double), \
         cast(mrr_end as double), nrr from retention_monthly \
         where segment = 'all' and month = date '2026-09-01'",
    );
    let value = |i: usize| month[0][i].parse::<f64>().unwrap();
    assert!((data_value(&html, "data-figure", "mrr_end") - value(6)).abs() < 1e-6);
    assert!((data_value(&html, "data-figure", "nrr") - value(7)).abs() < 1e-9);
    // The waterfall: start, the five movements, end — and they add up to the end.
    let steps: Vec<f64> = [
        "start",
        "new",
        "reactivation",
        "expansion",
        "contraction",
        "churn",
    ]
    .iter()
    .map(|s| data_value(&html, "data-step", s))
    .collect();
    let end = data_value(&html, "data-step", "end");
    assert!((steps[0] - value(0)).abs() < 1e-6);
    assert!((steps[4] + value(4)).abs() < 1e-6 && (steps[5] + value(5)).abs() < 1e-6);
    assert!(
        (steps.iter().sum::<f64>() - end).abs() < 1e-6,
        "{steps:?} → {end}"
    );
    assert!((end - value(6)).abs() < 1e-6);
    // The accounts to call: red or falling, active, the largest MRR first.
    let expected: Vec<String> = query(
        &wh,
        &format!(
            "select h.account_id from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             where h.as_of_date = date '{AS_OF}' and c.lifecycle_stage <> 'churned' \
             and (h.band = 'red' or h.trend = 'down') \
             order by c.mrr desc, h.score, h.account_id limit 50"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert!(!expected.is_empty());
    let listed: Vec<String> = html
        .split("data-account=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect();
    assert_eq!(listed, expected);
    // The band counts of the headline.
    let green = scalar(
        &wh,
        &format!(
            "select count(*) from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             where h.as_of_date = date '{AS_OF}' and c.lifecycle_stage <> 'churned' \
             and h.band = 'green'"
        ),
    );
    assert_eq!(
        data_value(&html, "data-figure", "accounts_green"),
        green.parse::<f64>().unwrap()
    );
}

#[test]
fn the_page_loads_nothing_from_the_network() {
    let (_dir, _wh, html) = reported();
    let lower = html.to_lowercase();
    for forbidden in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "@import",
        "url(http",
        "url(\"http",
        "url('http",
        "<script",
        "<link",
        "<img",
        "<iframe",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden} in the page");
    }
    assert!(html.len() < 5 * 1024 * 1024, "{} bytes", html.len());
    assert!(
        html.contains("Noto Sans CJK JP"),
        "a font stack that covers Japanese"
    );
}

#[test]
fn a_warehouse_without_marts_says_what_to_run_and_one_without_tables_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let page = dir.path().join("empty.html");
    let args = ["report", "--as-of", AS_OF, "--out", page.to_str().unwrap()];
    let out = run(&wh, &args);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run `churnlake ingest` and `churnlake build"),
        "{}",
        stderr(&out)
    );
    assert!(!page.exists());

    ok(&run(&wh, &["ingest"]));
    let out = run(&wh, &args);
    ok(&out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("run `churnlake build"),
        "the page says what to run"
    );
    assert!(
        stdout(&out).contains("not shown: Headline"),
        "{}",
        stdout(&out)
    );
    // The data quality of the ingest is there already.
    assert!(
        html.contains("<h2>Data quality</h2>") && html.contains("stg") || html.contains("events")
    );
}

/// Whether a PNG holds a picture rather than one flat colour: its decompressed scanlines take
/// many byte values (a blank page's are a handful).
fn png_is_not_blank(png: &[u8]) -> bool {
    use std::io::Read;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let mut data = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        if &png[at + 4..at + 8] == b"IDAT" {
            data.extend_from_slice(&png[at + 8..at + 8 + length]);
        }
        at += 12 + length;
    }
    let mut pixels = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut pixels)
        .unwrap();
    let mut seen = [false; 256];
    pixels.iter().for_each(|b| seen[*b as usize] = true);
    seen.iter().filter(|s| **s).count() >= 32
}

/// The demo's report in headless Chromium (Debian's `chromium`, which .ci/run installs): the
/// screenshot is not blank and the browser logs no JavaScript error. Without Chromium the
/// test is skipped outside CI and fails in it.
#[test]
fn the_demos_report_renders_in_headless_chromium() {
    let Some(browser) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        assert!(
            std::env::var("CI").is_err(),
            "chromium is not installed; .ci/run installs it"
        );
        eprintln!("skipped: no chromium on this machine");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = churnlake(
        dir.path(),
        &[
            "demo",
            "--accounts",
            "60",
            "--days",
            "200",
            "--dir",
            demo.to_str().unwrap(),
        ],
    );
    ok(&out);
    let page = demo.join("report.html");
    assert!(
        stdout(&out).contains(page.to_str().unwrap()),
        "{}",
        stdout(&out)
    );
    let shot = dir.path().join("shot.png");
    let browsed = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,4000",
            "--enable-logging=stderr",
            "--v=0",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&browsed.stderr);
    assert!(shot.exists(), "no screenshot: {log}");
    assert!(
        png_is_not_blank(&std::fs::read(&shot).unwrap()),
        "a blank screenshot"
    );
    for line in log.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains(":CONSOLE("),
            "the browser logged: {line}"
        );
    }
}
