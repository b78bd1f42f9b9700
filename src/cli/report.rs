//! `churnlake report`: the HTML page for CS leadership.

use super::GlobalArgs;
use super::output;
use crate::engine::warehouse::Warehouse;
use crate::pipeline::Result;
use crate::report::html;
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;

/// Write one self-contained HTML page of the warehouse as of a date: headline, retention
/// equation, health movement, who needs a call, cohorts, whether the score works, data
/// quality.
///
/// Reads the published tables only (local or object store) and opens offline: no script,
/// font or image is loaded from anywhere. Exit 2 when the warehouse has no tables at all.
///
/// Examples:
///   churnlake report --as-of 2026-10-31
///   churnlake report --as-of 2026-10-31 --segment enterprise --out enterprise.html
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReportArgs {
    /// The date the page reports (YYYY-MM-DD): build it first.
    #[arg(long)]
    pub as_of: NaiveDate,
    /// Where to write the page (default: report-<as-of>.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only this segment's retention rows and accounts.
    #[arg(long)]
    pub segment: Option<String>,
}

pub async fn execute(global: &GlobalArgs, args: ReportArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("report-{}.html", args.as_of)));
    let warehouse = Warehouse::open(&pipeline.warehouse)?;
    let started = std::time::Instant::now();
    let report = html::write_report(&pipeline, &warehouse, args.as_of, args.segment, &out).await?;
    if output::is_text() {
        print_written(&report, started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The line a command prints after writing the page.
pub fn print_written(report: &html::HtmlReport, seconds: f64) {
    println!(
        "\nreport: {} ({:.1} KB, {seconds:.1} s)",
        report.path.display(),
        report.bytes as f64 / 1024.0
    );
    for missing in &report.missing {
        println!("  not shown: {missing}");
    }
}
