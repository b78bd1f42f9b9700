//! `churnlake generate`: write demo sources in the real export formats.

use crate::error::{Error, Result};
use crate::generate::{self, GenerateError, GenerateOptions, GenerateSummary};
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;

/// Write realistic demo sources: CRM handoffs (CSV, English and Japanese notes), Zendesk
/// tickets and Segment calls (NDJSON, plain, .gz and .zst), NPS and FX rates (CSV).
///
/// Accounts follow planted personas (churners, expanders, new, reactivated, steady) listed
/// in `_planted.csv`; a few malformed rows of every kind are listed in `_malformed.csv`.
/// The same options and seed always give the same bytes.
///
/// Examples:
///   churnlake generate --out /tmp/cs-data
///   churnlake generate --accounts 5000 --days 365 --seed 7 --out /data/big
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub size: DatasetArgs,
    /// Directory to write into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
}

/// Size and shape of a generated dataset.
#[derive(Debug, Args, Clone)]
pub struct DatasetArgs {
    /// Number of customer accounts.
    #[arg(long, default_value_t = 200)]
    pub accounts: usize,
    /// Days of history.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of history (YYYY-MM-DD).
    #[arg(long, default_value = "2026-10-31")]
    pub end_date: NaiveDate,
    /// Mean product events per active user per active day.
    #[arg(long, default_value_t = 3.0)]
    pub events_per_user_day: f64,
    /// Plant no malformed rows.
    #[arg(long)]
    pub no_malformed: bool,
}

impl DatasetArgs {
    pub fn options(&self, out: PathBuf) -> GenerateOptions {
        GenerateOptions {
            accounts: self.accounts,
            days: self.days,
            seed: self.seed,
            end_date: self.end_date,
            out,
            events_per_user_day: self.events_per_user_day,
            malformed: !self.no_malformed,
        }
    }
}

pub fn execute(args: GenerateArgs) -> Result<()> {
    let summary = write_dataset(&args.size, args.out.clone())?;
    print_summary(&args.out, &summary);
    Ok(())
}

/// Generates a dataset; a bad option is a usage error, anything else an I/O error.
pub fn write_dataset(size: &DatasetArgs, out: PathBuf) -> Result<GenerateSummary> {
    generate::generate(&size.options(out.clone())).map_err(|e| match e {
        GenerateError::InvalidOption { .. } => Error::Usage(e.to_string()),
        GenerateError::Io { ref path, .. } | GenerateError::StaleOutput { ref path } => {
            Error::io(path.clone(), e.to_string())
        }
    })
}

pub fn print_summary(out: &std::path::Path, summary: &GenerateSummary) {
    let bytes: u64 = summary.files.iter().map(|(_, size)| size).sum();
    let personas = summary
        .personas
        .iter()
        .map(|(name, count)| format!("{count} {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "generated {} accounts ({personas}) into {}: {} files, {:.1} MB; {} track events, {} tickets, {} page views",
        summary.accounts,
        out.display(),
        summary.files.len(),
        bytes as f64 / 1e6,
        summary.track_events,
        summary.tickets,
        summary.pageviews
    );
}
