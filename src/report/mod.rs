//! What the operator reads at the end of a command: plain-text summaries on stdout.
//!
//! Reports format figures the run already computed; they never query or change tables.

use crate::config::Pipeline;
use crate::ingest::IngestOutcome;
use crate::publish::runlog::Run;
use chrono::DateTime;

/// The per-source table of an ingest run, its rejections and what was published.
pub fn print_ingest(run: &Run, outcome: &IngestOutcome, pipeline: &Pipeline) {
    let status = if outcome.result.is_ok() {
        "succeeded"
    } else {
        "FAILED"
    };
    println!("\nrun {} ({}) {status}", run.id, run.command);
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>11} {:>10} {:>8}  {:<20} {:>9}  status",
        "source",
        "files",
        "read",
        "loaded",
        "quarantined",
        "duplicates",
        "orphans",
        "latest event",
        "MB/s"
    );
    for s in &outcome.sources {
        let latest = s
            .max_event_time
            .and_then(DateTime::from_timestamp_micros)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into());
        let throughput = s.bytes_decoded as f64 / 1e6 / s.read_seconds.max(1e-9);
        println!(
            "{:<12} {:>5} {:>10} {:>10} {:>11} {:>10} {:>8}  {:<20} {:>9.1}  {}",
            s.source,
            s.files,
            s.rows_read,
            s.rows_loaded,
            s.rows_quarantined,
            s.duplicates,
            s.orphans,
            latest,
            throughput,
            if s.failed { "FAILED" } else { "ok" }
        );
    }
    for s in outcome.sources.iter().filter(|s| s.rows_quarantined > 0) {
        println!(
            "\n{} row(s) of {} quarantined, first ones:",
            s.rows_quarantined, s.source
        );
        for rejection in &s.first_rejections {
            println!("  {rejection}");
        }
    }
    for s in &outcome.sources {
        for check in s.checks.iter().filter(|c| !c.passed) {
            println!(
                "\ncheck {} failed for {}: {}",
                check.name, s.source, check.detail
            );
        }
    }
    if outcome.result.is_ok() {
        println!("\npublished to {}:", pipeline.warehouse.display());
        for (table, rows) in &outcome.tables {
            println!("  {table:<16} {rows:>10} rows");
        }
    } else {
        println!(
            "\nnothing published; the previous tables in {} are unchanged",
            pipeline.warehouse.display()
        );
    }
    println!(
        "run log: {}/runs, data_quality and quarantine, partition run_id={}",
        pipeline.warehouse.display(),
        run.id
    );
}
