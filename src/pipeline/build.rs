//! The build step of a command: the plan of passes over the dates asked (score passes for
//! the earlier dates the deltas and cohorts read, passes of up to [`DATES_PER_PASS`] dates,
//! the whole tables in the last), the sweeps of window figures they share, and what
//! publishing them changes — each built date's partitions, the whole tables, the scores kept
//! as history and the kept last-active months.

use super::dates::{Planner, dates_with_input};
use super::operation::{Operation, RunLog};
use super::results::Step;
use crate::base::days::{date_to_days, days_to_date, describe_dates};
use crate::base::error::FromFile;
use crate::base::log;
use crate::config::Pipeline;
use crate::engine::{self, warehouse::Warehouse};
use crate::marts::history::{self, HealthHistory};
use crate::marts::{self, BuildOutcome, MART_TABLES, PassKind};
use crate::pipeline::{Error, Result};
use crate::publish::Publication;
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::path::Path;

/// Builds `dates` in one pass, publishes their partitions and the whole tables, and records
/// the run. Returns the run id and what was built.
pub async fn run_build(
    pipeline: &Pipeline,
    dates: &[NaiveDate],
    command: &str,
) -> Result<(String, BuildOutcome)> {
    let mut op = Operation::begin(pipeline, command).await?;
    let run_id = op.run.id.clone();
    let built = build_step(pipeline, &mut op, dates).await;
    let (outcome, publication, result) = match built {
        Ok((outcome, publication)) => (Some(outcome), publication, Ok(())),
        Err(e) => (None, Publication::new(&run_id), Err(e)),
    };
    let tables = outcome.as_ref().map(all_tables).unwrap_or_default();
    let log = RunLog {
        tables: &tables,
        ..Default::default()
    };
    op.finish(publication, log, result).await?;
    Ok((run_id, outcome.expect("a successful build has an outcome")))
}

/// Every table a build wrote, with rows.
pub fn all_tables(outcome: &BuildOutcome) -> Vec<(String, u64)> {
    outcome
        .tables
        .iter()
        .chain(&outcome.whole_tables)
        .cloned()
        .collect()
}

/// Dates computed in one pass of every model. A pass also computes the dates 7 and 30 days
/// before each, so memory grows with the dates of a pass; 31 keeps a one-year daily backfill
/// of a few hundred accounts well inside the default 2 GiB pool, in 12 passes.
const DATES_PER_PASS: usize = 31;

/// Computes the marts for `dates` into the operation's scratch directory, in passes of
/// [`DATES_PER_PASS`] dates (the whole tables in the last) that read a `window_figures`
/// computed for them and the passes around them, in sweeps the memory limit holds. Earlier
/// dates' scores still valid in the health history are read, not recomputed; more earlier
/// dates than one pass holds are scored first, in passes of their own. Returns what to
/// publish: each built date's partition of the dated tables, the whole tables, and the
/// scores of every date computed, kept as history.
pub async fn build_step(
    pipeline: &Pipeline,
    op: &mut Operation,
    dates: &[NaiveDate],
) -> Result<(BuildOutcome, Publication)> {
    let first = dates.iter().min().copied().map(date_to_days);
    let last = dates.iter().max().copied().map(date_to_days);
    op.run.as_of = first.zip(last);
    let started = std::time::Instant::now();
    let planner = Planner::open(&op.warehouse).await?;
    let (dates, skipped) = dates_with_input(&planner, dates).await?;
    let fingerprint = marts::model_fingerprint(pipeline);
    let history = HealthHistory::load(&op.warehouse).await?;
    let reusable = published_dates(&op.warehouse, history.reusable(&fingerprint)).await?;
    let mut known = history::KnownScores {
        kept: reusable.clone(),
        passes: Vec::new(),
    };
    // The whole tables come with the last pass.
    let chunks: Vec<&[NaiveDate]> = dates.chunks(DATES_PER_PASS).collect();
    let mut passes: Vec<(&[NaiveDate], PassKind)> = chunks
        .iter()
        .enumerate()
        .map(|(pass, chunk)| match pass + 1 == chunks.len() {
            true => (*chunk, PassKind::DatesAndWholeTables),
            false => (*chunk, PassKind::Dates),
        })
        .collect();
    // The earlier dates the passes read and nothing kept holds (a cold build's month
    // boundaries, about 100 dates at two years of history) are scored first, in passes of
    // their own, when there are more than a pass's worth: the pass reading them would
    // otherwise compute them all at once, its memory growing with the history.
    let requested: BTreeSet<i32> = dates.iter().map(|d| date_to_days(*d)).collect();
    let earlier: Vec<NaiveDate> = planner
        .computed_dates(pipeline, &passes, &known.dates())
        .await?
        .difference(&requested)
        .map(|day| days_to_date(*day))
        .collect();
    if earlier.len() > DATES_PER_PASS {
        let scores = earlier
            .chunks(DATES_PER_PASS)
            .map(|chunk| (chunk, PassKind::ScoresOnly));
        passes = scores.chain(passes).collect();
    }
    let progress = log::progress(dates.len() as u64, "building");
    let mut publication = Publication::new(&op.run.id);
    let mut total: Option<BuildOutcome> = None;
    let mut kept = BTreeSet::new();
    // Consecutive passes share one sweep of the windowed figures, as many as the memory
    // limit holds the figures of (a single pass computes its own).
    let sweep_dates = planner.dates_per_sweep(pipeline);
    let pass_dates: Vec<usize> = passes.iter().map(|(chunk, _)| chunk.len()).collect();
    let sweeps = sweep_passes(&pass_dates, sweep_dates);
    let mut figures: Option<std::path::PathBuf> = None;
    let mut sweep_ends = sweeps.iter().scan(0, |end, passes| {
        *end += passes;
        Some(*end)
    });
    let mut sweep_end = 0;
    let mut scored_first = Vec::new();
    for (pass, (chunk, kind)) in passes.iter().enumerate() {
        if passes.len() > 1 && pass == sweep_end {
            sweep_end = sweep_ends.next().expect("a sweep for every pass");
            let work = op.scratch().join(format!("window_figures-{pass}"));
            let done = known.dates();
            let swept = planner
                .computed_dates(pipeline, &passes[pass..sweep_end], &done)
                .await?;
            let per_sweep = planner.dates_per_sweep(pipeline);
            let figures_dir =
                marts::compute_window_figures(pipeline, &op.warehouse, &swept, per_sweep, &work)
                    .await?;
            figures = Some(figures_dir);
        }
        progress.set_message(describe_dates(chunk));
        let work = op.scratch().join(format!("pass-{pass}"));
        let pass_dates = planner.pass(pipeline, chunk, *kind, &known.dates()).await?;
        let outcome = marts::build(
            pipeline,
            &op.warehouse,
            &pass_dates,
            &work,
            figures.as_deref(),
            &known,
        )
        .await?;
        // Later passes read these scores (the 7 and 30 days before their dates).
        let computed_here = outcome.computed.iter().map(|d| date_to_days(*d)).collect();
        known
            .passes
            .push((outcome.tables_dir.join("health_history"), computed_here));
        if *kind != PassKind::ScoresOnly {
            plan_publication(&op.warehouse, op.scratch(), &outcome, &mut publication).await?;
        }
        let staged = format!("{}/health_history", staged_root(op.scratch(), &outcome));
        for date in &outcome.computed {
            if kept.insert(*date) {
                let partition = format!("{staged}/{}", history::partition_name(*date));
                let target = history::partition_of(*date);
                publication
                    .replace_tree(&op.warehouse, op.scratch(), &partition, &target)
                    .await?;
            }
        }
        if *kind == PassKind::ScoresOnly {
            scored_first.extend(outcome.computed);
            continue;
        }
        progress.inc(chunk.len() as u64);
        total = Some(match total {
            None => outcome,
            Some(mut sum) => {
                for ((_, rows), (_, more)) in sum.tables.iter_mut().zip(&outcome.tables) {
                    *rows += more;
                }
                sum.dates.extend(outcome.dates);
                sum.computed.extend(outcome.computed);
                sum.whole_tables = outcome.whole_tables;
                sum
            }
        });
    }
    progress.finish_and_clear();
    let mut outcome = total.expect("at least one pass");
    outcome.computed.extend(scored_first);
    let kept: Vec<NaiveDate> = kept.into_iter().collect();
    let history = history.after_build(&fingerprint, &kept);
    publication.add(history.write(op.scratch())?);
    publication.add(marts::last_active::written(&op.warehouse, op.scratch()).await?);
    outcome.skipped = skipped;
    let seconds = started.elapsed().as_secs_f64();
    op.results.as_of = outcome.dates.iter().map(|d| d.to_string()).collect();
    op.results.skipped_dates = outcome.skipped.iter().map(|d| d.to_string()).collect();
    for (table, rows) in all_tables(&outcome) {
        op.step(Step::table(&table, rows, seconds));
    }
    log::event(
        "build_finished",
        serde_json::json!({
            "dates": outcome.dates.len(),
            // Dates scored, summed over the passes: the earlier dates the deltas and cohorts
            // read included, unless kept in the health history or scored by an earlier pass.
            "computed": outcome.computed.len(),
            "skipped": outcome.skipped.len(),
            "passes": passes.len(),
            // Of them, passes that only score earlier dates for the others to read.
            "score_passes": passes.iter().filter(|(_, kind)| *kind == PassKind::ScoresOnly).count(),
            "sweeps": if passes.len() > 1 { sweeps.len() } else { 0 },
            "seconds": seconds,
        }),
    );
    Ok((outcome, publication))
}

/// How many consecutive passes (of `pass_dates` dates each) each sweep of the windowed
/// figures takes: as many as fit in `sweep_dates` dates, and at least one.
fn sweep_passes(pass_dates: &[usize], sweep_dates: usize) -> Vec<usize> {
    let mut sweeps: Vec<usize> = Vec::new();
    let mut in_sweep = 0;
    for &dates in pass_dates {
        match sweeps.last_mut() {
            Some(passes) if in_sweep + dates <= sweep_dates => *passes += 1,
            _ => {
                sweeps.push(1);
                in_sweep = 0;
            }
        }
        in_sweep += dates;
    }
    sweeps
}

/// Where a build wrote its tables, relative to the scratch directory.
fn staged_root(scratch: &Path, outcome: &BuildOutcome) -> String {
    outcome
        .tables_dir
        .strip_prefix(scratch)
        .expect("tables are written in the scratch directory")
        .display()
        .to_string()
}

/// The `dates` whose kept scores are in the warehouse (the list may name a date whose files
/// were deleted by hand).
async fn published_dates(warehouse: &Warehouse, dates: BTreeSet<i32>) -> Result<BTreeSet<i32>> {
    if dates.is_empty() {
        return Ok(dates);
    }
    let partitions: BTreeSet<String> = warehouse
        .list_dirs(history::HEALTH_HISTORY_DIR)
        .await?
        .into_iter()
        .collect();
    Ok(dates
        .into_iter()
        .filter(|day| partitions.contains(&history::partition_name(days_to_date(*day))))
        .collect())
}

async fn plan_publication(
    warehouse: &Warehouse,
    scratch: &Path,
    outcome: &BuildOutcome,
    publication: &mut Publication,
) -> Result<()> {
    let staged_root = staged_root(scratch, outcome);
    for table in &MART_TABLES {
        let mut any = false;
        for date in &outcome.dates {
            let partition = format!("{}/as_of_date={date}", table.name);
            let staged = format!("{staged_root}/{partition}");
            any |= scratch.join(&staged).exists();
            publication
                .replace_tree(warehouse, scratch, &staged, &partition)
                .await?;
        }
        // A table with no rows at all still needs a file for readers to learn its schema.
        if !any && !warehouse.exists(table.name).await? {
            let schema = &outcome
                .schemas
                .iter()
                .find(|(name, _)| name == table.name)
                .expect("a schema per mart")
                .1;
            let dir = scratch.join("empty").join(table.name);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            engine::write_empty_file(schema, &dir, Some("as_of_date"))?;
            publication.add_file(
                &format!("empty/{}/empty.parquet", table.name),
                &format!("{}/empty.parquet", table.name),
            );
        }
    }
    for (table, _) in &outcome.whole_tables {
        publication
            .replace_tree(warehouse, scratch, &format!("{staged_root}/{table}"), table)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sweep_passes;

    #[test]
    fn sweeps_take_the_passes_that_fit_and_at_least_one() {
        // 730 dates in passes of 31: 10 passes fit in 314 dates (m at 3 GiB), 1 in 31 (l).
        let passes: Vec<usize> = [31; 23].into_iter().chain([17]).collect();
        assert_eq!(sweep_passes(&passes, 314), vec![10, 10, 4]);
        assert_eq!(sweep_passes(&passes, 31), vec![1; 24]);
        // Fewer dates than one pass still sweeps each pass.
        assert_eq!(sweep_passes(&passes, 5), vec![1; 24]);
        assert_eq!(sweep_passes(&passes, usize::MAX), vec![24]);
        assert_eq!(sweep_passes(&[], 100), Vec::<usize>::new());
    }
}
