//! `churnlake demo`: the whole job on built-in demo data, ending in a readable summary.

use super::generate::{DatasetArgs, print_summary, write_dataset};
use super::{BUILTIN_PIPELINE, GlobalArgs};
use crate::base::error::FromFile;
use crate::config::Overrides;
use crate::pipeline::{Error, Result};
use crate::report;
use clap::Args;
use std::path::PathBuf;

/// Generate demo data, ingest it, build the customer tables as of its last day (and the
/// month starts of the year before it), print a summary — per-source counts, then the red
/// and falling accounts with their reasons — and write the HTML report (report.html).
///
/// Uses the built-in default pipeline (the one in pipelines/default.toml) with its data root
/// and warehouse under --dir, so it runs from any directory.
///
/// Examples:
///   churnlake demo
///   churnlake demo --accounts 1000 --dir /tmp/churnlake-demo
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {
    #[command(flatten)]
    pub size: DatasetArgs,
    /// Directory for the demo's data and warehouse.
    #[arg(long, default_value = "demo")]
    pub dir: PathBuf,
}

pub async fn execute(global: &GlobalArgs, args: DemoArgs) -> Result<()> {
    let data = args.dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| Error::io(&data, e))?;
    }
    let summary = write_dataset(&args.size, data.clone())?;
    print_summary(&data, &summary);

    let pipeline_file = args.dir.join("pipeline.toml");
    std::fs::create_dir_all(&args.dir).map_err(|e| Error::io(&args.dir, e))?;
    std::fs::write(&pipeline_file, BUILTIN_PIPELINE).map_err(|e| Error::io(&pipeline_file, e))?;
    let overrides = Overrides {
        data_root: Some(data),
        warehouse: Some(
            global
                .warehouse
                .clone()
                .unwrap_or_else(|| args.dir.join("warehouse")),
        ),
        memory_limit: global.memory_limit.clone(),
        table_format: global.table_format,
        engine: global.engine.clone(),
    };
    let pipeline = crate::pipeline::load(&pipeline_file, &overrides).await?;
    let (run_id, outcome) = crate::pipeline::run_ingest(&pipeline, true).await?;
    report::print_ingest(&run_id, &outcome, &pipeline);
    outcome.result?;
    // The last day, and the month starts of the year before it: the report's history (the
    // score's components on observation dates) reads their partitions.
    let as_of = args.size.end_date;
    let days = args.size.options(args.dir.join("data")).days;
    let first = as_of - chrono::Days::new(u64::from(days.saturating_sub(1)));
    let year_ago = as_of - chrono::Months::new(12);
    let mut dates: Vec<chrono::NaiveDate> =
        crate::base::days::month_starts(year_ago.max(first), as_of)
            .into_iter()
            .map(crate::base::days::days_to_date)
            .filter(|d| *d > year_ago.max(first) && *d < as_of)
            .collect();
    dates.push(as_of);
    let (run_id, built) = crate::pipeline::run_build(&pipeline, &dates, "build").await?;
    report::print_build(&pipeline, &run_id, &built).await?;
    let started = std::time::Instant::now();
    let warehouse = crate::engine::warehouse::Warehouse::open(&pipeline.warehouse)?;
    let out = args.dir.join("report.html");
    let page = report::html::write_report(&pipeline, &warehouse, as_of, None, &out).await?;
    super::report::print_written(&page, started.elapsed().as_secs_f64());
    Ok(())
}
