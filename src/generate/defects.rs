//! Planted malformed rows: the kinds contract §2 names, where in a file each goes, and
//! `_malformed.csv`, the answer key listing every planted row by file and physical line. Plants
//! are built without randomness, so a run with them differs from one without only by the
//! planted lines themselves.

use std::path::Path;

use super::Result;
use super::sink::{CsvFile, LineFile, WrittenFile};

pub(super) const ANSWER_KEY: &str = "_malformed.csv";

/// Why the ingest must quarantine a planted row; `kind` is the name in `_malformed.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Defect {
    UnparseableJson,
    CsvFieldCount,
    BadTimestamp,
    BadDate,
    MissingRequired,
    BadEnum,
    NegativeAmount,
    OutOfRange,
    NumberTooLarge,
    InvalidUtf8,
    BadNumber,
}

impl Defect {
    pub fn kind(self) -> &'static str {
        match self {
            Defect::UnparseableJson => "unparseable_json",
            Defect::CsvFieldCount => "csv_field_count",
            Defect::BadTimestamp => "bad_timestamp",
            Defect::BadDate => "bad_date",
            Defect::MissingRequired => "missing_required",
            Defect::BadEnum => "bad_enum",
            Defect::NegativeAmount => "negative_amount",
            Defect::OutOfRange => "out_of_range",
            Defect::NumberTooLarge => "number_too_large",
            Defect::InvalidUtf8 => "invalid_utf8",
            Defect::BadNumber => "bad_number",
        }
    }
}

struct PlantedRow {
    file: String,
    line: u64,
    defect: Defect,
}

/// Writes planted rows (when the run plants any) and remembers where they went.
pub(super) struct DefectLog {
    enabled: bool,
    planted: Vec<PlantedRow>,
}

impl DefectLog {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            planted: Vec::new(),
        }
    }

    /// Writes a planted NDJSON line; a no-op when the run plants nothing.
    pub fn plant_line(&mut self, file: &mut LineFile, line: &[u8], defect: Defect) -> Result<()> {
        if self.enabled {
            let line = file.write_line(line)?;
            self.remember(file.relative(), line, defect);
        }
        Ok(())
    }

    /// Writes a planted CSV record; a no-op when the run plants nothing.
    pub fn plant_record<T: AsRef<[u8]>>(
        &mut self,
        file: &mut CsvFile,
        fields: &[T],
        defect: Defect,
    ) -> Result<()> {
        if self.enabled {
            let line = file.write_record(fields)?;
            self.remember(file.relative(), line, defect);
        }
        Ok(())
    }

    fn remember(&mut self, file: &str, line: u64, defect: Defect) {
        self.planted.push(PlantedRow {
            file: file.to_owned(),
            line,
            defect,
        });
    }

    /// Writes `_malformed.csv` (`file,line,kind`), header only when nothing was planted.
    pub fn write_answer_key(&self, root: &Path) -> Result<WrittenFile> {
        let mut key = CsvFile::create(root, ANSWER_KEY, &["file", "line", "kind"])?;
        for row in &self.planted {
            key.write_record(&[row.file.as_str(), &row.line.to_string(), row.defect.kind()])?;
        }
        key.finish()
    }
}

/// Where planted rows go in a file of data rows: each plant is due before a given row index,
/// spread evenly so plants never cluster at one end.
pub(super) struct PlantSchedule<P> {
    due: Vec<(usize, P)>,
    next: usize,
}

impl<P: Copy> PlantSchedule<P> {
    pub fn spread(rows: usize, plants: &[P]) -> Self {
        let due = plants
            .iter()
            .enumerate()
            .map(|(index, plant)| (rows * (index + 1) / (plants.len() + 1), *plant))
            .collect();
        Self { due, next: 0 }
    }

    /// The plants due before data row `row` (0-based) that were not taken yet.
    pub fn due_before(&mut self, row: usize) -> Vec<P> {
        let start = self.next;
        while self.next < self.due.len() && self.due[self.next].0 <= row {
            self.next += 1;
        }
        self.due[start..self.next]
            .iter()
            .map(|(_, plant)| *plant)
            .collect()
    }

    /// The plants not taken yet (for after the last data row).
    pub fn rest(&mut self) -> Vec<P> {
        self.due_before(usize::MAX)
    }
}
