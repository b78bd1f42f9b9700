//! Every table of a warehouse registered in one session, with every SQL function churnlake
//! adds: what `query` reads, and what tests and benchmarks read a warehouse through.

use crate::engine::{self, warehouse::Warehouse};
use crate::pipeline::Result;
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
