//! `window_figures` (sql/marts/window_figures.sql): customer_daily's 7/30/90-day product,
//! help-site and ticket figures for any set of dates, from sweeps over each account's days
//! whose running sums are taken in Rust ([`super::sweep`]). Sweeps are cut in parts the
//! memory limit holds.

use super::catalog::{WINDOW_FIGURES_SQL, as_of_table};
use super::{last_active, sweep};
use crate::base::days::{days_to_date, month_start_of, sql_date_list};
use crate::base::error::FromFile;
use crate::config::{Metric, Pipeline};
use crate::engine::EngineContext;
use crate::engine::{self, warehouse::Warehouse};
use crate::marts::{Error, Result};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Memory a sweep's running sums take per account and date: the two rows (its changes and
/// the date itself, 17 columns) that the window sorts, and the sort's copy of them.
const SWEEP_BYTES_PER_ACCOUNT_DATE: usize = 1024;

/// How many dates one `window_figures` sweep takes at most, for `accounts` accounts: as many
/// account-dates as half the memory limit sorts without spilling. A sweep's cost follows the
/// days it spans (and the 29 days before), so sweeping in parts costs little more than
/// sweeping once, while one sweep of every date of a long backfill at 50,000 accounts sorts
/// 70 million rows through the disk.
pub fn dates_per_sweep(memory_limit: usize, accounts: u64) -> usize {
    let account_dates = memory_limit / 2 / SWEEP_BYTES_PER_ACCOUNT_DATE;
    account_dates / (accounts as usize).max(1)
}

/// Computes `window_figures` into `work` for `dates` (every date several passes compute, so
/// that they share sweeps over the history), in sweeps of at most `per_sweep` dates (see
/// [`dates_per_sweep`]). Returns the table's directory, for [`super::build`].
pub async fn compute_window_figures(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    dates: &BTreeSet<i32>,
    per_sweep: usize,
    work: &Path,
) -> Result<PathBuf> {
    let spill = work.join("spill");
    std::fs::create_dir_all(&spill).map_err(|e| Error::io(&spill, e))?;
    let scratch = run_scratch(work);
    write_window_figures(pipeline, warehouse, scratch, &spill, work, dates, per_sweep).await
}

/// The SQL of `window_figures` for dates from `first` through `last`, with the columns of
/// the `[[metrics]]`: it sweeps the events and page views of the days whose 30-day windows
/// reach them (none after `last`), the latest active day before, and the events of the days
/// the metrics' windows reach (more, for a metric of a longer window).
pub(super) fn window_figures_sql(metrics: &[Metric], first: i32, last: i32) -> String {
    let from = first - 29;
    let metric_from = first - (super::metrics::lookback_days(metrics) - 1);
    let mut sql = WINDOW_FIGURES_SQL.to_string();
    for (placeholder, piece) in super::metrics::window_figures_pieces(metrics) {
        sql = sql.replace(placeholder, &piece);
    }
    sql.replace(
        "${metric_from_date}",
        &days_to_date(metric_from).to_string(),
    )
    .replace("${metric_from_day}", &metric_from.to_string())
    .replace("${month_start}", &month_start_of(from).to_string())
    .replace("${from_date}", &days_to_date(from).to_string())
    .replace("${last_date}", &days_to_date(last).to_string())
    .replace("${from_day}", &from.to_string())
    .replace("${first_day}", &first.to_string())
    .replace("${last_day}", &last.to_string())
}

/// The run's scratch directory, of which a build step's work directories (`pass-N`,
/// `window_figures-N`, see `cli::build::build_step`) are children: where what outlives a pass
/// waits for publishing (the months of [`last_active`]).
pub(super) fn run_scratch(work: &Path) -> &Path {
    work.parent()
        .expect("a work directory inside the run's scratch directory")
}

/// Writes `window_figures` for `dates` into `<dir>/window_figures`, in sweeps of consecutive
/// dates that each take at most [`dates_per_sweep`] dates. A sweep's distinct-key aggregate
/// holds a bitset of every key's days over the days it spans: one sweep of a cold build's
/// dates (its month boundaries go back to the first contract) spans the whole history, and at
/// 50,000 accounts that aggregate no longer fits its share of the pool, emits its partial
/// state early and spills its final state (110 s of a 145 s build).
pub(super) async fn write_window_figures(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    scratch: &Path,
    spill: &Path,
    dir: &Path,
    dates: &BTreeSet<i32>,
    per_sweep: usize,
) -> Result<PathBuf> {
    let path = dir.join("window_figures");
    for part in sweep_parts(dates, per_sweep) {
        let ctx = engine::pipeline_session(&pipeline.engine, pipeline.memory_limit, spill).await?;
        super::register_functions(&ctx);
        crate::staging::register_staged(&ctx, warehouse).await?;
        ctx.register_table("as_of_dates", Arc::new(as_of_table(&part)?))
            .context("as_of_dates")?;
        let first = *part.first().expect("chunks are not empty");
        let last = *part.last().expect("chunks are not empty");
        last_active::register(&ctx, warehouse, month_start_of(first - 29), scratch).await?;
        let df = ctx
            .sql(&window_figures_sql(&pipeline.metrics, first, last))
            .await
            .context("model window_figures (sql/marts/window_figures.sql)")?;
        let mut running_sums = sweep::RunningSums::new(df.schema().as_arrow())?;
        engine::write_table_through(
            df,
            &mut running_sums,
            "window_figures",
            &path,
            Some("as_of_date"),
        )
        .await?;
    }
    Ok(path)
}

/// The longest span of days one sweep's dates may cover. The distinct-key aggregate keeps a
/// bitset of each key's days over the span, and one that outgrows its share of the pool
/// emits its partial state early and spills the final one: at 50,000 accounts a sweep of 19
/// months of dates took 60 s where smaller sweeps over the same events take a fraction.
const MAX_SWEEP_SPAN_DAYS: i32 = 183;

/// `dates` in consecutive parts of at most `per_sweep` dates (at least one) spanning at most
/// [`MAX_SWEEP_SPAN_DAYS`] days.
fn sweep_parts(dates: &BTreeSet<i32>, per_sweep: usize) -> Vec<BTreeSet<i32>> {
    let mut parts: Vec<BTreeSet<i32>> = Vec::new();
    for &day in dates {
        match parts.last_mut() {
            Some(part)
                if part.len() < per_sweep.max(1)
                    && day - part.first().copied().unwrap_or(day) < MAX_SWEEP_SPAN_DAYS =>
            {
                part.insert(day);
            }
            _ => parts.push(BTreeSet::from([day])),
        }
    }
    parts
}

/// Registers the `window_figures` table at `dir` as `window_figures`, restricted to the dates
/// computed (it may hold more).
pub(super) async fn register_window_figures(
    ctx: &SessionContext,
    dir: &Path,
    dates: &BTreeSet<i32>,
) -> Result<()> {
    let location = dir.display().to_string();
    register_dates_of(ctx, "window_figures", &location, "*", dates).await
}

/// Registers `name`: `columns` of the table at `location` (partitioned by `as_of_date`),
/// restricted to `dates` (the partitions pruned).
pub(super) async fn register_dates_of(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    columns: &str,
    dates: &BTreeSet<i32>,
) -> Result<()> {
    let files = format!("{name}_files");
    let partition = Some(("as_of_date", DataType::Date32));
    engine::register_location(ctx, &files, location, partition).await?;
    let view = ctx
        .sql(&format!(
            "select {columns} from {files} where as_of_date in ({})",
            sql_date_list(dates)
        ))
        .await
        .context(name.to_string())?;
    ctx.register_table(name, view.into_view())
        .context(name.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_take_consecutive_dates_up_to_a_count_and_a_span() {
        // Month boundaries a year apart, then a run of daily dates.
        let dates: BTreeSet<i32> = [0, 30, 200, 365, 1000, 1001, 1002, 1003, 1004]
            .into_iter()
            .collect();
        let parts: Vec<Vec<i32>> = sweep_parts(&dates, 3)
            .into_iter()
            .map(|part| part.into_iter().collect())
            .collect();
        assert_eq!(
            parts,
            vec![
                vec![0, 30],
                vec![200, 365],
                vec![1000, 1001, 1002],
                vec![1003, 1004]
            ]
        );
        // A memory limit too small for one date's accounts still sweeps one date at a time.
        assert_eq!(sweep_parts(&dates, 0).len(), dates.len());
    }
}
