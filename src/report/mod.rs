//! What the operator reads at the end of a command: plain-text summaries on stdout.
//!
//! Reports format figures the run computed and read the tables it published (bands, the
//! accounts at risk, the actions that fired); they never change a table.

mod calibration;
pub mod html;
pub use calibration::print_calibration;

use crate::config::Pipeline;
use crate::engine;
use crate::marts::BuildOutcome;
use crate::pipeline::IngestOutcome;
use crate::pipeline::Result;
use chrono::DateTime;

/// The per-source table of an ingest run, its rejections and what was published.
pub fn print_ingest(run_id: &str, outcome: &IngestOutcome, pipeline: &Pipeline) {
    let status = if outcome.result.is_ok() {
        "succeeded"
    } else {
        "FAILED"
    };
    println!("\nrun {run_id} (ingest) {status}");
    if outcome.unchanged {
        println!(
            "no file is new or changed since the last ingest; the staged tables stand as they are"
        );
        return;
    }
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
            let appended = match outcome.partly_written(table) {
                Some(how) => format!(" ({how})"),
                None => String::new(),
            };
            println!("  {table:<16} {rows:>10} rows{appended}");
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
        run_id
    );
}

/// What a build published, then the accounts a CSM should look at first: red or falling,
/// with the reasons, and the playbook actions that fired.
pub async fn print_build(pipeline: &Pipeline, run_id: &str, outcome: &BuildOutcome) -> Result<()> {
    println!(
        "\nrun {run_id} built {}",
        crate::base::days::describe_dates(&outcome.dates)
    );
    if !outcome.skipped.is_empty() {
        println!(
            "skipped (no input): {}",
            crate::base::days::describe_dates(&outcome.skipped)
        );
    }
    for (table, rows) in &outcome.tables {
        println!("  {table:<18} {rows:>8} rows");
    }
    let ctx = engine::session();
    let warehouse = crate::engine::warehouse::Warehouse::open(&pipeline.warehouse)?;
    crate::marts::register_marts(&ctx, &warehouse).await?;
    // The watch list is for the latest date built.
    let last = outcome.dates.last().expect("a build has a date");
    println!("\nas of {last}:");
    let day_list = format!("date '{last}'");
    let bands = engine::query(
        &ctx,
        &format!(
            "select band, count(*) from health_scores where as_of_date in ({day_list}) \
             group by band order by case band when 'green' then 1 when 'yellow' then 2 else 3 end"
        ),
    )
    .await?;
    let bands: Vec<String> = engine::string_rows(&bands)
        .into_iter()
        .map(|r| {
            format!(
                "{} {}",
                r[1],
                if r[0].is_empty() { "unscored" } else { &r[0] }
            )
        })
        .collect();
    println!("\nhealth: {}", bands.join(", "));
    let at_risk = engine::query(
        &ctx,
        &format!(
            "select h.account_id, c.account_name, c.lifecycle_stage, \
             cast(c.days_to_renewal as varchar) as renewal, cast(h.score as varchar) as score_text, \
             h.band, cast(h.delta_30d as varchar) as delta_text, h.reasons \
             from health_scores h join customer_daily c \
             on c.account_id = h.account_id and c.as_of_date = h.as_of_date \
             where h.as_of_date in ({day_list}) and c.lifecycle_stage <> 'churned' \
             and (h.band = 'red' or h.trend = 'down') \
             order by h.score, h.account_id limit 20"
        ),
    )
    .await?;
    let rows = engine::string_rows(&at_risk);
    println!(
        "\nred or falling accounts ({} shown, lowest score first):",
        rows.len()
    );
    println!(
        "  {:<10} {:<28} {:<10} {:>8} {:>6} {:<6} {:>7}  reasons",
        "account", "name", "stage", "renewal", "score", "band", "Δ30d"
    );
    for r in rows {
        let name: String = r[1].chars().take(28).collect();
        println!(
            "  {:<10} {:<28} {:<10} {:>8} {:>6} {:<6} {:>7}  {}",
            r[0], name, r[2], r[3], r[4], r[5], r[6], r[7]
        );
    }
    let actions = engine::query(
        &ctx,
        &format!(
            "select rule_id, severity, count(*) from playbook_actions \
             where as_of_date in ({day_list}) group by rule_id, severity order by count(*) desc"
        ),
    )
    .await?;
    println!("\nplaybook actions:");
    for r in engine::string_rows(&actions) {
        println!("  {:<28} {:<8} {:>5}", r[0], r[1], r[2]);
    }
    print_retention(&ctx).await
}

/// The last months' retention equation for all accounts.
async fn print_retention(ctx: &datafusion::prelude::SessionContext) -> Result<()> {
    let rows = engine::query(
        ctx,
        "select cast(month as varchar) as month_text, mrr_start, new_mrr, reactivation_mrr, \
         expansion_mrr, contraction_mrr, churned_mrr, mrr_end, logos_end, \
         round(nrr, 3) as nrr, round(grr, 3) as grr \
         from retention_monthly where segment = 'all' order by month desc limit 3",
    )
    .await?;
    let mut rows = engine::string_rows(&rows);
    rows.reverse();
    println!(
        "\nretention (all accounts): mrr_end = mrr_start + new + reactivation + expansion - contraction - churned"
    );
    println!(
        "  {:<10} {:>14} {:>12} {:>12} {:>12} {:>12} {:>12} {:>14} {:>6} {:>6} {:>6}",
        "month",
        "mrr_start",
        "new",
        "reactivation",
        "expansion",
        "contraction",
        "churned",
        "mrr_end",
        "logos",
        "nrr",
        "grr"
    );
    for r in rows {
        println!(
            "  {:<10} {:>14} {:>12} {:>12} {:>12} {:>12} {:>12} {:>14} {:>6} {:>6} {:>6}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]
        );
    }
    print_cohorts(ctx).await
}

/// Logo retention of the latest signup cohorts, months since start across.
async fn print_cohorts(ctx: &datafusion::prelude::SessionContext) -> Result<()> {
    const COHORTS: usize = 8;
    const PERIODS: i64 = 12;
    let rows = engine::query(
        ctx,
        &format!(
            "select cast(cohort_month as varchar) as cohort, cohort_size, months_since_start, \
             cast(round(logo_retention * 100) as bigint) as percent from churn_cohorts \
             where cohort_month in (select distinct cohort_month from churn_cohorts \
             order by cohort_month desc limit {COHORTS}) and months_since_start <= {PERIODS} \
             order by cohort_month, months_since_start"
        ),
    )
    .await?;
    println!("\nlogo retention by signup cohort (%, months since start):");
    let header: String = (0..=PERIODS).map(|k| format!("{k:>5}")).collect();
    println!("  {:<10} {:>5} {header}", "cohort", "size");
    let mut line = String::new();
    let mut current = String::new();
    for r in engine::string_rows(&rows) {
        if r[0] != current {
            if !line.is_empty() {
                println!("{line}");
            }
            current = r[0].clone();
            line = format!("  {:<10} {:>5} ", r[0], r[1]);
        }
        line.push_str(&format!("{:>5}", r[3]));
    }
    if !line.is_empty() {
        println!("{line}");
    }
    Ok(())
}

/// What `compact` did, a line per table.
pub fn print_compact(outcome: &crate::pipeline::CompactOutcome) {
    println!("\nrun {} (compact) succeeded", outcome.run_id);
    println!(
        "{:<22} {:>14} {:>14} {:>14}",
        "table", "files merged", "files written", "files deleted"
    );
    for (table, done) in &outcome.tables {
        let deleted = match outcome.vacuumed_past_days {
            Some(_) => done.files_vacuumed.to_string(),
            None => "-".to_string(),
        };
        println!(
            "{:<22} {:>14} {:>14} {:>14}",
            table, done.files_removed, done.files_added, deleted
        );
    }
    match outcome.vacuumed_past_days {
        Some(days) => println!(
            "vacuum kept every file a version of the last {days} days reads; older versions can no longer be read"
        ),
        None => {
            println!("removed files stay for time travel; `compact --vacuum` deletes the old ones")
        }
    }
}
