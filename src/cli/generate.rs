//! `churnlake generate`: write demo sources in the real export formats.

use crate::base::error::FromFile;
use crate::generate::{self, GenerateError, GenerateOptions, GenerateSummary, Volume};
use crate::pipeline::{Error, Result};
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
///   churnlake generate --scale l --out /data/bench-l
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
    /// A benchmark size: s, m, l (50,000 accounts, about 100 million track events, 5 million
    /// page views and 1 million tickets over 730 days) or xl (2 × l). Sets the accounts, the
    /// days and quieter per-user rates; --accounts and --days still override it.
    #[arg(long, value_enum)]
    pub scale: Option<Scale>,
    /// Number of customer accounts [default: 200, or the scale's].
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Days of history [default: 365, or the scale's].
    #[arg(long)]
    pub days: Option<u32>,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of history (YYYY-MM-DD).
    #[arg(long, default_value = "2026-10-31")]
    pub end_date: NaiveDate,
    /// Mean product events per active user per active day [default: 3, or the scale's].
    #[arg(long)]
    pub events_per_user_day: Option<f64>,
    /// From this day on, write events and page views one file per day
    /// (`segment/events-YYYY-MM-DD.ndjson…`), so the newest days can land one at a time.
    #[arg(long)]
    pub daily_files_from: Option<NaiveDate>,
    /// Plant no malformed rows.
    #[arg(long)]
    pub no_malformed: bool,
}

/// Benchmark sizes. Their rates make an account a tenth as busy as a demo account, like the
/// long tail of a self-serve SaaS, so 50,000 accounts give about 100 million events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    S,
    M,
    L,
    Xl,
}

impl Scale {
    pub fn accounts(self) -> usize {
        match self {
            Scale::S => 500,
            Scale::M => 5_000,
            Scale::L => 50_000,
            Scale::Xl => 100_000,
        }
    }

    pub const DAYS: u32 = 730;

    /// Calibrated on 500 accounts over 730 days: the demo rates give about 10,000 events,
    /// 240 page views and 39 tickets per account; these give about 2,000, 100 and 20.
    pub fn volume(self) -> Volume {
        Volume {
            events_per_user_day: 2.0,
            activity: 0.29,
            reads_per_user_day: 0.0042,
            tickets_per_user_day: 0.00104,
        }
    }
}

impl DatasetArgs {
    pub fn options(&self, out: PathBuf) -> GenerateOptions {
        let mut volume = self.scale.map(Scale::volume).unwrap_or_default();
        if let Some(rate) = self.events_per_user_day {
            volume.events_per_user_day = rate;
        }
        GenerateOptions {
            accounts: self
                .accounts
                .unwrap_or(self.scale.map_or(200, Scale::accounts)),
            days: self.days.unwrap_or(self.scale.map_or(365, |_| Scale::DAYS)),
            seed: self.seed,
            end_date: self.end_date,
            out,
            volume,
            daily_files_from: self.daily_files_from,
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
