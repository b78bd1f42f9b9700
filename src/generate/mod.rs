//! `churnlake generate`: writes a deterministic synthetic Customer Success dataset — every source
//! of contract §1 in the layout the ingest's default globs expect — with planted personas (churners,
//! expanders, new accounts, reactivators, steady accounts) that the analytics must later detect,
//! and, on request, a few malformed rows of every kind contract §2 names, each recorded by file and
//! line.
//!
//! It owns the files under the output directory, including two answer keys that are not
//! sources (`_planted.csv`, `_malformed.csv`). It must not read its output back, depend on the
//! ingest code, or hold a whole file in memory: thousands of accounts write gigabytes, one line
//! at a time. The same options and seed give byte-identical files.
//!
//! How it flows: `world` draws the planted truth (accounts, contract lines, users, usage
//! curves); one module per source samples it into files through the writers in `sink`, each
//! from its own random stream; `defects` plants and records the malformed rows.
//!
//! Output layout (paths relative to `out`):
//! - `handoffs/handoffs.csv`
//! - `tickets/tickets-0001.ndjson`, `tickets/tickets-0002.ndjson.gz`
//! - `segment/events-YYYY-MM.ndjson` / `.ndjson.gz` / `.ndjson.zst` (rotating by month)
//! - `helpsite/pages-YYYY-MM.ndjson`
//! - `nps/nps.csv`, `fx/fx_rates.csv`
//! - `_planted.csv` (`account_id,persona,first_start_date,contract_end,currency`)
//! - `_malformed.csv` (`file,line,kind`)

mod calendar;
mod contracts;
mod defects;
mod encode;
mod events;
mod fx_rates;
mod handoffs;
mod nps;
mod pageviews;
mod people;
mod planted;
mod sample;
mod sink;
mod tickets;
mod vocab;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use calendar::History;
use defects::DefectLog;
use sample::{Stream, stream_rng};
use sink::WrittenFile;
use world::World;

/// What to generate. The caller (the CLI) supplies the defaults.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Number of accounts (default 200).
    pub accounts: usize,
    /// Days of history, ending on `end_date` (default 365; at least 30).
    pub days: u32,
    pub seed: u64,
    /// Last day of the generated history (default 2026-10-31).
    pub end_date: chrono::NaiveDate,
    /// Output directory; created if missing.
    pub out: PathBuf,
    /// How much each user does: events, help-site reads, tickets.
    pub volume: Volume,
    /// From this day on, events and page views go to one file per day (for benchmarks that
    /// land one new day at a time); the rows are the same either way.
    pub daily_files_from: Option<chrono::NaiveDate>,
    /// Plant malformed rows (default true).
    pub malformed: bool,
}

/// Rates per user that set a dataset's volume for its number of accounts. The defaults give
/// the demo's busy accounts; the benchmark scales use a long tail of quieter ones.
#[derive(Clone, Copy, Debug)]
pub struct Volume {
    /// Mean track events per active user per active day (at least 1).
    pub events_per_user_day: f64,
    /// Multiplies the chance that a known user comes back on a given day (1 = the demo).
    pub activity: f64,
    /// Mean help-site page views per user per day, at normal help need.
    pub reads_per_user_day: f64,
    /// Mean tickets per user per day, at normal support load.
    pub tickets_per_user_day: f64,
}

impl Default for Volume {
    fn default() -> Self {
        Volume {
            events_per_user_day: 3.0,
            activity: 1.0,
            reads_per_user_day: 0.012,
            tickets_per_user_day: 0.002,
        }
    }
}

/// What a run wrote.
#[derive(Clone, Debug)]
pub struct GenerateSummary {
    /// Every file written, with its size on disk in bytes (compressed size for `.gz`/`.zst`).
    pub files: Vec<(PathBuf, u64)>,
    pub accounts: usize,
    /// Accounts per persona: churner, expander, new, reactivator, steady.
    pub personas: Vec<(String, usize)>,
    /// Distinct valid track calls (retried duplicates and planted rows not counted).
    pub track_events: u64,
    /// Distinct valid tickets (each counted once however many exports hold it).
    pub tickets: u64,
    /// Valid help-site page views.
    pub pageviews: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid `{option}` {value}: {expected}")]
    InvalidOption {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot write `{}`: {source}; check that the output directory is writable", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "`{}` is left over from an earlier run with other options and the ingest would read it; \
         delete it, or generate into an empty directory",
        path.display()
    )]
    StaleOutput { path: PathBuf },
}

type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// Wraps an I/O error with the path it happened on.
fn io_error(path: &Path) -> impl FnOnce(io::Error) -> GenerateError {
    let path = path.to_path_buf();
    move |source| GenerateError::Io { path, source }
}

/// Records and files one source writer produced.
#[derive(Default)]
struct SourceOutput {
    files: Vec<WrittenFile>,
    records: u64,
}

pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let history = opts.validate()?;
    refuse_stale_files(&opts.out, &monthly_and_export_files(&history))?;
    let world = World::build(
        &mut stream_rng(opts.seed, Stream::World),
        opts.accounts,
        history,
    );
    let root = opts.out.as_path();
    let rng = |stream| stream_rng(opts.seed, stream);
    let mut defects = DefectLog::new(opts.malformed);

    let handoffs = handoffs::write(&world, root, &mut rng(Stream::Handoffs), &mut defects)?;
    let tickets = tickets::write(
        &world,
        opts.volume.tickets_per_user_day,
        root,
        &mut rng(Stream::Tickets),
        &mut defects,
    )?;
    let events = events::write(
        &world,
        &opts.volume,
        root,
        &mut rng(Stream::Events),
        &mut defects,
    )?;
    let pageviews = pageviews::write(
        &world,
        opts.volume.reads_per_user_day,
        root,
        &mut rng(Stream::Pageviews),
    )?;
    let nps = nps::write(&world, root, &mut rng(Stream::Nps), &mut defects)?;
    let fx_rates = fx_rates::write(&world, root, &mut rng(Stream::FxRates))?;
    let answer_keys = [
        planted::write_answer_key(&world, root)?,
        defects.write_answer_key(root)?,
    ];

    let summary = GenerateSummary {
        accounts: world.accounts.len(),
        personas: world
            .persona_counts()
            .into_iter()
            .map(|(persona, count)| (persona.name().to_owned(), count))
            .collect(),
        track_events: events.records,
        tickets: tickets.records,
        pageviews: pageviews.records,
        files: [handoffs, tickets, events, pageviews, nps, fx_rates]
            .into_iter()
            .flat_map(|source| source.files)
            .chain(answer_keys)
            .map(|file| (file.path, file.bytes))
            .collect(),
    };
    Ok(summary)
}

impl GenerateOptions {
    /// Checks the options and turns them into the history to generate.
    fn validate(&self) -> Result<History> {
        let invalid = |option, value: String, expected| {
            Err(GenerateError::InvalidOption {
                option,
                value,
                expected,
            })
        };
        if self.accounts == 0 {
            return invalid("accounts", "0".into(), "generate at least 1 account");
        }
        if self.days < 30 {
            return invalid(
                "days",
                self.days.to_string(),
                "generate at least 30 days, so planted churn and renewals fall inside the history",
            );
        }
        if !(0.0..=100.0).contains(&self.volume.events_per_user_day) {
            return invalid(
                "events_per_user_day",
                self.volume.events_per_user_day.to_string(),
                "use a number from 0 to 100",
            );
        }
        match History::ending_on(self.end_date, self.days) {
            Some(history) => Ok(History {
                daily_files_from: self.daily_files_from,
                ..history
            }),
            None => invalid(
                "days",
                self.days.to_string(),
                "the history would start before year -262144",
            ),
        }
    }
}

/// The files whose names depend on the options (monthly files, ticket exports): the ones an
/// earlier run with other options could leave behind.
fn monthly_and_export_files(history: &History) -> BTreeSet<String> {
    let months = history.months();
    let monthly = months
        .iter()
        .flat_map(|month| [events::month_file(month), pageviews::month_file(month)]);
    monthly
        .chain(tickets::EXPORTS.iter().map(|export| (*export).to_owned()))
        .collect()
}

/// Fails when an NDJSON file from an earlier run (another date range) sits where the ingest's
/// globs would pick it up next to this run's files. Files this run rewrites are fine.
fn refuse_stale_files(root: &Path, planned: &BTreeSet<String>) -> Result<()> {
    let directories: BTreeSet<&str> = planned
        .iter()
        .filter_map(|path| Some(path.split_once('/')?.0))
        .collect();
    for directory in directories {
        let entries = match fs::read_dir(root.join(directory)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io_error(&root.join(directory))(error)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error(&root.join(directory)))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(".ndjson") && !planned.contains(&format!("{directory}/{name}")) {
                return Err(GenerateError::StaleOutput { path: entry.path() });
            }
        }
    }
    Ok(())
}
