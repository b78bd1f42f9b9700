//! `churnlake query`: run SQL over the warehouse tables and print the result.

use super::GlobalArgs;
use crate::engine::EngineContext;
use crate::pipeline::Result;
use crate::pipeline::catalog;
use clap::Args;

/// Run one SQL query over the warehouse (staged tables, marts and the run log).
///
/// Examples:
///   churnlake query "select band, count(*) from health_scores group by band"
///   churnlake query "select * from quarantine order by run_id desc limit 20"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct QueryArgs {
    /// The SQL query.
    pub sql: String,
}

pub async fn execute(global: &GlobalArgs, args: QueryArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let ctx = catalog::session();
    catalog::register_warehouse(&ctx, &pipeline.warehouse).await?;
    let df = ctx.sql(&args.sql).await.context("query")?;
    Ok(df.show().await.context("query")?)
}
