//! The running sums of `window_figures`: the last step of its sweep, taken in Rust over the
//! rows sql/marts/window_figures.sql gives in sweep order.
//!
//! The SQL turns every fact into changes per account and date, and returns them with one row
//! per date, each account's rows in day order with a date after the changes it takes in:
//! `account_id`, `as_of_date` (null on a change row), `day`, `is_date`, the change columns
//! (bigint) and `active_day` (an active day on a change row). This step keeps each account's
//! running sum of every change column and its latest active day, and gives one row per date:
//! `account_id`, `as_of_date`, the sums under the change columns' names, and
//! `days_since_last_seen` (the date's day minus the latest active day; null before any).
//!
//! SQL's `sum(…) over (partition by account_id order by day rows unbounded preceding)` did
//! the same with one value per row, column and window function: at 50,000 accounts it was most
//! of a backfill's `window_figures`. Here the sums are plain additions, and the step holds one
//! account's sums at a time, so its memory does not grow with the input.

use crate::engine::BatchStep;
use crate::engine::EngineContext;
use crate::marts::{Error, Result};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Array, Int64Builder, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use std::sync::Arc;

/// Columns of the sweep's rows that are not changes.
const KEYS: [&str; 5] = ["account_id", "as_of_date", "day", "is_date", "active_day"];

pub struct RunningSums {
    output: SchemaRef,
    account: usize,
    as_of_date: usize,
    day: usize,
    is_date: usize,
    active_day: usize,
    changes: Vec<usize>,
    /// The account whose rows are being summed, its sums and its latest active day.
    current: Option<String>,
    sums: Vec<i64>,
    last_active: Option<i64>,
}

impl RunningSums {
    /// The step for rows of `input`'s schema (see the module documentation).
    pub fn new(input: &Schema) -> Result<Self> {
        let index = |name: &str| {
            input.index_of(name).map_err(|_| {
                Error::Internal(format!(
                    "window_figures: the sweep's rows have no `{name}` column"
                ))
            })
        };
        let changes: Vec<usize> = (0..input.fields().len())
            .filter(|i| !KEYS.contains(&input.field(*i).name().as_str()))
            .collect();
        let mut fields = vec![
            input.field(index("account_id")?).clone(),
            input.field(index("as_of_date")?).clone(),
        ];
        fields.extend(
            changes
                .iter()
                .map(|i| Field::new(input.field(*i).name(), DataType::Int64, true)),
        );
        fields.push(Field::new("days_since_last_seen", DataType::Int32, true));
        Ok(RunningSums {
            output: Arc::new(Schema::new(fields)),
            account: index("account_id")?,
            as_of_date: index("as_of_date")?,
            day: index("day")?,
            is_date: index("is_date")?,
            active_day: index("active_day")?,
            sums: vec![0; changes.len()],
            changes,
            current: None,
            last_active: None,
        })
    }
}

/// A column as 64-bit integers.
fn integers(batch: &RecordBatch, column: usize) -> crate::engine::Result<Int64Array> {
    let values = cast(batch.column(column), &DataType::Int64).context("window_figures sweep")?;
    Ok(values.as_primitive::<Int64Type>().clone())
}

impl BatchStep for RunningSums {
    fn schema(&self) -> SchemaRef {
        self.output.clone()
    }

    fn apply(&mut self, batch: &RecordBatch) -> crate::engine::Result<RecordBatch> {
        let accounts =
            cast(batch.column(self.account), &DataType::Utf8).context("window_figures sweep")?;
        let accounts = accounts.as_string::<i32>();
        let days = integers(batch, self.day)?;
        let is_date = integers(batch, self.is_date)?;
        let active = integers(batch, self.active_day)?;
        let changes = self
            .changes
            .iter()
            .map(|c| integers(batch, *c))
            .collect::<crate::engine::Result<Vec<_>>>()?;

        let mut dates = Vec::new();
        let mut sums: Vec<Int64Builder> = changes.iter().map(|_| Int64Builder::new()).collect();
        let mut since = Int32Builder::new();
        for row in 0..batch.num_rows() {
            let account = accounts.value(row);
            if self.current.as_deref() != Some(account) {
                self.current = Some(account.to_string());
                self.sums.iter_mut().for_each(|s| *s = 0);
                self.last_active = None;
            }
            if is_date.value(row) == 0 {
                for (sum, change) in self.sums.iter_mut().zip(&changes) {
                    if change.is_valid(row) {
                        *sum += change.value(row);
                    }
                }
                if active.is_valid(row) {
                    self.last_active = self.last_active.max(Some(active.value(row)));
                }
                continue;
            }
            dates.push(row as u32);
            for (builder, sum) in sums.iter_mut().zip(&self.sums) {
                builder.append_value(*sum);
            }
            let day = days.value(row);
            since.append_option(self.last_active.map(|last| (day - last) as i32));
        }

        let dates = UInt32Array::from(dates);
        let mut columns: Vec<ArrayRef> = vec![
            take(batch.column(self.account), &dates, None).context("window_figures sweep")?,
            take(batch.column(self.as_of_date), &dates, None).context("window_figures sweep")?,
        ];
        columns.extend(sums.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(since.finish()));
        RecordBatch::try_new(self.output.clone(), columns).context("window_figures sweep")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, StringArray};

    /// account_id, as_of_date, day, is_date, events_7d, active_day.
    type Row<'a> = (&'a str, Option<i32>, i64, i64, Option<i64>, Option<i32>);

    fn sweep_rows(rows: &[Row]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("account_id", DataType::Utf8, true),
            Field::new("as_of_date", DataType::Date32, true),
            Field::new("day", DataType::Int64, true),
            Field::new("is_date", DataType::Int64, false),
            Field::new("events_7d", DataType::Int64, true),
            Field::new("active_day", DataType::Int32, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Date32Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.4).collect::<Vec<_>>(),
                )),
                Arc::new(datafusion::arrow::array::Int32Array::from(
                    rows.iter().map(|r| r.5).collect::<Vec<_>>(),
                )),
            ],
        )
        .expect("a batch")
    }

    fn shown(batch: &RecordBatch) -> Vec<Vec<String>> {
        crate::engine::string_rows(std::slice::from_ref(batch))
    }

    #[test]
    fn each_date_takes_its_accounts_sums_and_latest_active_day_across_batches() {
        let first = sweep_rows(&[
            ("a", None, 10, 0, Some(3), Some(10)),
            ("a", Some(11), 11, 1, None, None),
            ("a", None, 12, 0, Some(-1), None),
        ]);
        let second = sweep_rows(&[
            ("a", Some(12), 12, 1, None, None),
            ("b", Some(12), 12, 1, None, None),
            ("b", None, 13, 0, Some(5), Some(13)),
            ("b", Some(14), 14, 1, None, None),
        ]);
        let mut step = RunningSums::new(&first.schema()).expect("the sweep's columns");
        assert_eq!(
            step.schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>(),
            vec![
                "account_id",
                "as_of_date",
                "events_7d",
                "days_since_last_seen"
            ]
        );
        assert_eq!(
            shown(&step.apply(&first).expect("applies")),
            vec![vec!["a", "1970-01-12", "3", "1"]]
        );
        assert_eq!(
            shown(&step.apply(&second).expect("applies")),
            vec![
                // The sum carries over the batch boundary; the latest active day stays day 10.
                vec!["a", "1970-01-13", "2", "2"],
                // A new account starts from nothing: no active day yet.
                vec!["b", "1970-01-13", "0", ""],
                vec!["b", "1970-01-15", "5", "1"],
            ]
        );
    }

    #[test]
    fn rows_without_the_sweeps_columns_are_refused() {
        let schema = Schema::new(vec![Field::new("account_id", DataType::Utf8, true)]);
        let Err(err) = RunningSums::new(&schema) else {
            panic!("a schema without as_of_date is refused");
        };
        assert!(err.to_string().contains("no `as_of_date` column"), "{err}");
    }
}
