//! `churnlake query`: run SQL over the warehouse tables and print the result.

use super::GlobalArgs;
use crate::engine::EngineContext;
use crate::engine::delta::TimeTravel;
use crate::pipeline::Result;
use crate::pipeline::catalog;
use chrono::{DateTime, Utc};
use clap::Args;

/// Run one SQL query over the warehouse (staged tables, marts and the run log).
///
/// Examples:
///   churnlake query "select band, count(*) from health_scores group by band"
///   churnlake query "select * from quarantine order by run_id desc limit 20"
///   churnlake query --version 3 "select h.account_id, h.score as before, c.score as now \
///     from health_scores h join current_health_scores c using (account_id, as_of_date)"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct QueryArgs {
    /// The SQL query.
    pub sql: String,
    /// Read each Delta table at its version N (see `churnlake history TABLE`); the tables
    /// as they are now are there too, as current_<table>.
    #[arg(long, conflicts_with = "as_of_time")]
    pub version: Option<u64>,
    /// Read each Delta table as it was at this time (RFC 3339, e.g. 2026-12-01T00:00:00Z);
    /// the tables as they are now are there too, as current_<table>.
    #[arg(long, value_parser = parse_time)]
    pub as_of_time: Option<DateTime<Utc>>,
}

fn parse_time(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time such as 2026-12-01T00:00:00Z: {e}"))
}

pub async fn execute(global: &GlobalArgs, args: QueryArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let ctx = catalog::session();
    let travel = match (args.version, args.as_of_time) {
        (Some(version), _) => Some(TimeTravel::Version(version)),
        (None, Some(time)) => Some(TimeTravel::Time(time)),
        (None, None) => None,
    };
    match travel {
        Some(travel) => catalog::register_then_and_now(&ctx, &pipeline.warehouse, travel).await?,
        None => catalog::register_warehouse(&ctx, &pipeline.warehouse).await?,
    }
    let df = ctx.sql(&args.sql).await.context("query")?;
    Ok(df.show().await.context("query")?)
}
