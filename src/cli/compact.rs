//! `churnlake compact [--vacuum]`: fewer, larger files in a Delta warehouse's tables.

use super::GlobalArgs;
use crate::pipeline::Result;
use clap::Args;

/// Rewrite each Delta table's small files into fewer (a Delta `optimize` per table, under the
/// warehouse lock). With --vacuum, then delete the files that no version committed within
/// `[warehouse] keep_versions_days` (default 7) reads: time travel past that is given up.
///
/// Examples:
///   churnlake --table-format delta compact
///   churnlake --table-format delta compact --vacuum
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CompactArgs {
    /// Also delete files no version within keep_versions_days reads.
    #[arg(long)]
    pub vacuum: bool,
}

pub async fn execute(global: &GlobalArgs, args: CompactArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let outcome = crate::pipeline::run_compact(&pipeline, args.vacuum).await?;
    crate::report::print_compact(&outcome);
    Ok(())
}
