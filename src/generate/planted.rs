//! Writes `_planted.csv`, the answer key of planted personas (not a source: the leading
//! underscore keeps it out of the ingest globs). One row per account: its persona, first
//! `start_date`, contract end and currency, so tests can check that analytics find what was
//! planted.

use std::path::Path;

use super::Result;
use super::sink::{CsvFile, WrittenFile};
use super::world::World;

pub(super) const PATH: &str = "_planted.csv";

/// `contract_end` is the latest `end_date` of the lines in force on the last day, empty when one
/// is open-ended; for an account with none in force (a churner) the latest `end_date` of any line.
pub(super) fn write_answer_key(world: &World, root: &Path) -> Result<WrittenFile> {
    let header = [
        "account_id",
        "persona",
        "first_start_date",
        "contract_end",
        "currency",
    ];
    let mut file = CsvFile::create(root, PATH, &header)?;
    for account in &world.accounts {
        let contract_end = account.contract_end(world.history.last_day);
        file.write_record(&[
            account.id.clone(),
            account.persona().name().to_owned(),
            account.first_start_date().to_string(),
            contract_end.map(|end| end.to_string()).unwrap_or_default(),
            account.currency.code().to_owned(),
        ])?;
    }
    file.finish()
}
