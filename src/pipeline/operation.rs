//! What every command that writes to the warehouse does around its work: open the
//! warehouse, take its lock, repair what an earlier crashed run left, then publish the
//! run's files with its run log, write the run-results JSON and give the lock back.

use super::results::{self, RunResults, Step};
use crate::base::error::FromFile;
use crate::base::log;
use crate::config::Pipeline;
use crate::engine::warehouse::Warehouse;
use crate::ingest::SourceReport;
use crate::pipeline::{Error, Result};
use crate::publish::{self, Publication, lock::Lock, runlog::Run};
use std::path::Path;
use std::time::Instant;

pub struct Operation {
    pub warehouse: Warehouse,
    pub run: Run,
    lock: Lock,
    pub results: RunResults,
    started: Instant,
}

impl Operation {
    /// Opens the warehouse, takes its lock and finishes or discards earlier runs' leftovers.
    pub async fn begin(pipeline: &Pipeline, command: &str) -> Result<Operation> {
        let warehouse = Warehouse::open(&pipeline.warehouse)?.with_format(pipeline.table_format);
        crate::publish::check_format(&warehouse).await?;
        let run = Run::start(command, &pipeline.name, &warehouse);
        let lock = Lock::acquire(&warehouse, &run.id, command).await?;
        if let Some(previous) = &lock.took_over {
            log::warn(&format!(
                "took over the lock of {previous}, which is no longer running"
            ));
        }
        let repaired = match publish::recover(&warehouse, &run.id).await {
            Ok(repaired) => repaired,
            Err(e) => {
                lock.release().await?;
                return Err(e.into());
            }
        };
        for line in &repaired {
            log::warn(line);
        }
        let results = RunResults::new(&run, pipeline, &warehouse, repaired);
        log::event(
            "run_started",
            serde_json::json!({"run_id": run.id, "command": command, "warehouse": warehouse.location}),
        );
        Ok(Operation {
            warehouse,
            run,
            lock,
            results,
            started: Instant::now(),
        })
    }

    /// Records a step (a table written, a source read) for the run results.
    pub fn step(&mut self, step: Step) {
        self.results.steps.push(step);
    }

    /// Publishes `publication` with the run log when `result` is `Ok`, only the run log when
    /// it is not (the previous tables stay as they were); then writes the run results and
    /// releases the lock. Returns the run's result, or the first error publishing met.
    pub async fn finish(
        mut self,
        mut publication: Publication,
        log: RunLog<'_>,
        result: Result<()>,
    ) -> Result<()> {
        let scratch = self.run.scratch.clone();
        let mut result = result;
        if result.is_err() {
            publication = Publication::new(&self.run.id);
        }
        let tables: &[(String, u64)] = if result.is_ok() { log.tables } else { &[] };
        let failure = result
            .as_ref()
            .err()
            .map(|e| (e.exit_code(), e.to_string()));
        let logged = self
            .run
            .record(log.sources, tables, log.quarantine_file, failure)
            .map(|written| publication.add(written))
            .map_err(Error::from);
        self.results
            .finish(&result, log.sources, self.started.elapsed().as_secs_f64());
        let summary = self.results.to_json();
        let results_file = scratch.join("run_results.json");
        let written = std::fs::create_dir_all(&scratch)
            .and_then(|_| std::fs::write(&results_file, &summary))
            .map_err(|e| Error::io(&results_file, e));
        if written.is_ok() {
            publication.add_file(
                "run_results.json",
                &format!("_run_results/{}.json", self.run.id),
            );
        }
        let published = match logged.and(written) {
            Ok(()) => publication
                .publish(&self.warehouse, &scratch, &self.run.command)
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = published {
            match &result {
                Ok(()) => result = Err(e),
                Err(_) => log::warn(&format!("the run log could not be written: {e}")),
            }
        }
        let cleaned = publish::clean_scratch(&scratch).map_err(Error::from);
        let released = self.lock.release().await.map_err(Error::from);
        if result.is_ok() {
            result = cleaned.and(released);
        }
        results::finished(&self.results, &summary);
        result
    }

    /// The local directory the run computes into.
    pub fn scratch(&self) -> &Path {
        &self.run.scratch
    }
}

/// What the run log records besides the status.
#[derive(Default)]
pub struct RunLog<'a> {
    pub sources: &'a [SourceReport],
    pub tables: &'a [(String, u64)],
    pub quarantine_file: Option<&'a Path>,
}
