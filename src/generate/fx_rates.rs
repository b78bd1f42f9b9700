//! Writes `fx/fx_rates.csv` (contract §1 source `fx_rates`): a daily USD-per-JPY rate, a bounded random
//! walk around 0.00675, from 30 days before the earliest contract line to the end of the history,
//! so every yen line finds a rate on or before its start.

use std::path::Path;

use chrono::Days;
use rand::Rng;

use super::calendar::days_through;
use super::sink::CsvFile;
use super::world::World;
use super::{Result, SourceOutput};

pub(super) const PATH: &str = "fx/fx_rates.csv";

/// USD per JPY: the walk stays inside this band and drifts back toward its middle.
const LOWEST_RATE: f64 = 0.0065;
const HIGHEST_RATE: f64 = 0.0070;
const MIDDLE_RATE: f64 = 0.00675;
const DAILY_MOVE: f64 = 0.00002;
const PULL_TO_MIDDLE: f64 = 0.02;
/// Rates start this many days before the earliest contract line.
const LEAD_DAYS: u64 = 30;

pub(super) fn write(world: &World, root: &Path, rng: &mut impl Rng) -> Result<SourceOutput> {
    let mut file = CsvFile::create(root, PATH, &["date", "currency", "rate"])?;
    let mut output = SourceOutput::default();
    let earliest_start = world
        .accounts
        .iter()
        .flat_map(|account| account.lines.iter().map(|line| line.start));
    let first_day = earliest_start.min().unwrap_or(world.history.first_day) - Days::new(LEAD_DAYS);
    let mut rate = MIDDLE_RATE;
    for day in days_through(first_day, world.history.last_day) {
        let drift = (MIDDLE_RATE - rate) * PULL_TO_MIDDLE;
        rate = (rate + drift + rng.random_range(-DAILY_MOVE..DAILY_MOVE))
            .clamp(LOWEST_RATE, HIGHEST_RATE);
        file.write_record(&[day.to_string(), "JPY".to_owned(), format!("{rate:.10}")])?;
        output.records += 1;
    }
    output.files.push(file.finish()?);
    Ok(output)
}
