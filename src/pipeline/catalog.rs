//! Every table of a warehouse registered in one session, with every SQL function churnlake
//! adds: what `query` reads, and what tests and benchmarks read a warehouse through.

use crate::engine::delta::{self, TimeTravel};
use crate::engine::{self, EngineContext, warehouse::Warehouse};
use crate::pipeline::{Error, Result};
use crate::publish::runlog::LOG_TABLES;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use std::path::Path;

/// A session for queries over a warehouse: churnlake's SQL functions registered.
pub fn session() -> SessionContext {
    let ctx = engine::session();
    crate::marts::register_functions(&ctx);
    ctx
}

/// Registers every table of a warehouse that exists: staged tables, marts and the run log.
pub async fn register_warehouse(ctx: &SessionContext, location: &Path) -> Result<()> {
    let warehouse = Warehouse::open(location)?;
    register_tables(ctx, &warehouse).await
}

/// Registers every table of a warehouse as it was at `travel` under its own name, and as it
/// is now as `current_<name>`, so that one query compares the two.
pub async fn register_then_and_now(
    ctx: &SessionContext,
    location: &Path,
    travel: TimeTravel,
) -> Result<()> {
    let warehouse = Warehouse::open(location)?;
    register_tables(ctx, &warehouse).await?;
    let schema = ctx
        .catalog("datafusion")
        .and_then(|catalog| catalog.schema("public"))
        .expect("the session's default schema");
    for name in schema.table_names() {
        if let Some(table) = ctx.deregister_table(name.as_str()).context(name.clone())? {
            ctx.register_table(format!("current_{name}"), table)
                .context(name.clone())?;
        }
    }
    register_tables(ctx, &warehouse.at(Some(travel))).await
}

/// The versions of a warehouse table, newest first.
pub async fn history(location: &Path, table: &str) -> Result<Vec<delta::Version>> {
    let warehouse = Warehouse::open(location)?;
    if !warehouse.exists(table).await? {
        return Err(Error::Usage(format!(
            "no table `{table}` in {}",
            warehouse.location
        )));
    }
    delta::history(&warehouse, table).await?.ok_or_else(|| {
        Error::Usage(format!(
            "`{table}` is a Parquet table, which keeps no history; tables written with \
             table_format = \"delta\" do"
        ))
    })
}

/// [`register_warehouse`] for an opened warehouse.
pub async fn register_tables(ctx: &SessionContext, warehouse: &Warehouse) -> Result<()> {
    crate::marts::register_functions(ctx);
    crate::staging::register_staged(ctx, warehouse).await?;
    crate::marts::register_marts(ctx, warehouse).await?;
    for table in LOG_TABLES {
        let partition = Some(("run_id", DataType::Utf8));
        engine::register_published(ctx, warehouse, table, partition).await?;
    }
    Ok(())
}
