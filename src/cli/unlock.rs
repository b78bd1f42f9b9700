//! `churnlake unlock`: remove a warehouse lock left by a run that is known to be dead.

use super::GlobalArgs;
use crate::engine::warehouse::Warehouse;
use crate::pipeline::Result;
use crate::publish::lock;
use clap::Args;

/// Remove the warehouse lock, printing the run that held it.
///
/// Runs take the lock in <warehouse>/_lock and release it when they end. A run killed on
/// this host is detected and its lock taken over automatically; use this command for a lock
/// held from another host once you know that run is gone. The next run repairs whatever the
/// dead run left half-published.
///
/// Examples:
///   churnlake unlock --warehouse s3://analytics/churnlake
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UnlockArgs {}

pub async fn execute(global: &GlobalArgs, _args: UnlockArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let warehouse = Warehouse::open(&pipeline.warehouse)?;
    match lock::force_unlock(&warehouse).await? {
        Some(holder) => println!("removed the lock of {holder}"),
        None => println!("{} is not locked", warehouse.location),
    }
    Ok(())
}
