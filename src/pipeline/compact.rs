//! `compact`: a Delta warehouse's tables rewritten into fewer files, and with `vacuum` the
//! files no version of the last `[warehouse] keep_versions_days` reads deleted. It runs
//! under the warehouse lock and is logged as a run like any other command.

use super::operation::{Operation, RunLog};
use super::{Error, Result};
use crate::config::{Pipeline, TableFormat};
use crate::engine::delta::{self, Compacted, Writer};
use crate::publish::Publication;

/// What `compact` did to each table.
pub struct CompactOutcome {
    pub run_id: String,
    /// (table, what compacting it did), in name order.
    pub tables: Vec<(String, Compacted)>,
    /// Days of versions vacuum kept, when it ran.
    pub vacuumed_past_days: Option<u32>,
}

/// Compacts every Delta table of the warehouse; `vacuum` also deletes the files no version
/// within `keep_versions_days` reads.
pub async fn run_compact(pipeline: &Pipeline, vacuum: bool) -> Result<CompactOutcome> {
    if pipeline.table_format != TableFormat::Delta {
        return Err(Error::Usage(format!(
            "compact works on Delta tables, and this pipeline's table_format is \"{}\": a Parquet \
             warehouse already holds one file per partition",
            pipeline.table_format.name()
        )));
    }
    let op = Operation::begin(pipeline, "compact").await?;
    let run_id = op.run.id.clone();
    let keep = vacuum.then_some(pipeline.keep_versions_days);
    let writer = Writer {
        run_id: &run_id,
        command: "compact",
    };
    let mut tables = Vec::new();
    let mut result = Ok(());
    for table in op.warehouse.list_dirs("").await? {
        if table.starts_with('_') {
            continue;
        }
        match delta::compact(&op.warehouse, &table, keep, &writer).await {
            Ok(Some(done)) => tables.push((table, done)),
            Ok(None) => {}
            Err(e) => {
                result = Err(Error::from(e));
                break;
            }
        }
    }
    op.finish(Publication::new(&run_id), RunLog::default(), result)
        .await?;
    Ok(CompactOutcome {
        run_id,
        tables,
        vacuumed_past_days: keep,
    })
}
