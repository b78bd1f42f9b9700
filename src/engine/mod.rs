//! The engine: the DataFusion session churnlake runs its SQL in (time zone, memory pool,
//! spill directory), the warehouse's object stores, and the moves every layer makes with
//! them: run a `sql/` file, write its result as a table, register a table, query.
//!
//! It knows no table and no SQL function of churnlake's: the layers above register theirs
//! with the sessions they open (`staging::register_functions`, `marts::register_functions`).

pub mod cluster;
pub mod delta;
pub mod error;
pub use error::{EngineContext, Error, Result};
mod tables;
pub mod warehouse;
mod write;

pub use cluster::pipeline_session;
pub use tables::{register_location, register_location_typed, register_published, register_table};
pub use write::{
    BatchStep, PARTITION_KEY, WriteOrder, peak_rss_bytes, write_empty_file, write_table,
    write_table_through,
};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use std::path::Path;
use std::sync::Arc;

fn config() -> SessionConfig {
    SessionConfig::new()
        .set_str("datafusion.execution.time_zone", "UTC")
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        // Utf8View batches share their data buffers, and sorts and joins count a shared
        // buffer once per batch: at 10 million events a sort asked for terabytes and failed.
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
}

/// A session with UTC as its time zone and churnlake's SQL functions registered, using as
/// much memory as it needs (tests and small ad-hoc queries).
pub fn session() -> SessionContext {
    SessionContext::new_with_config(config())
}

/// A session whose sorts and aggregates spill to `spill_dir` past `memory_limit` bytes, so
/// its memory stays bounded whatever the input size.
pub fn bounded_session(memory_limit: usize, spill_dir: &Path) -> Result<SessionContext> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(memory_limit)))
        .with_temp_file_path(spill_dir)
        .build_arc()
        .context("creating the query runtime")?;
    Ok(SessionContext::new_with_config_rt(config(), runtime))
}

/// Runs one SQL model, with `${name}` placeholders filled from `vars`.
pub async fn run_model(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
    vars: &[(&str, &str)],
) -> Result<DataFrame> {
    let mut text = sql.to_string();
    for (key, value) in vars {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    ctx.sql(&text).await.context(format!("model {name}"))
}

/// Runs a query and collects its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql)
        .await
        .context(sql.to_string())?
        .collect()
        .await
        .context(sql.to_string())
}

/// Every cell of the batches as display text (empty for null), row by row.
pub fn string_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("displayable column"))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    rows
}

/// One integer from a query such as `select count(*) from t`; 0 for no row or null.
pub async fn query_count(ctx: &SessionContext, sql: &str) -> Result<u64> {
    let df = ctx.sql(sql).await.context(sql.to_string())?;
    count_of(df, sql).await
}

/// The integer a planned count query (`what`, for errors) returns; 0 for no row or null.
pub async fn count_of(df: DataFrame, what: &str) -> Result<u64> {
    let batches = df.collect().await.context(what.to_string())?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(0);
    };
    let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64)
        .context(format!("reading the result of {what}"))?;
    let ints = column.as_primitive::<Int64Type>();
    Ok(if ints.is_null(0) {
        0
    } else {
        ints.value(0).max(0) as u64
    })
}
