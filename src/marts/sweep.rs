//! The running sums of `window_figures`: the last step of its sweep, taken in Rust over the
//! rows sql/marts/window_figures.sql gives in sweep order.
//!
//! The SQL turns every fact into changes per account and date, and returns them with one row
//! per date, each account's rows in day order with a date after the changes it takes in:
//! `account_id`, `as_of_date` (null on a change row), `day`, `is_date`, the change columns
//! (bigint), `active_day` (an active day on a change row) and any `<name>__last` columns (a
//! day of the `days_since` metric `<name>`). This step keeps each account's running sum of
//! every change column and its latest day of each day column, and gives one row per date:
//! `account_id`, `as_of_date`, the sums under the change columns' names, then for each day
//! column the date's day minus its latest day (null before any): `days_since_last_seen` for
//! `active_day`, `<name>__since` for `<name>__last`.
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

/// Columns of the sweep's rows that are neither changes nor days.
const KEYS: [&str; 4] = ["account_id", "as_of_date", "day", "is_date"];

/// The output column of a day column, or `None` for a change column.
fn since_column(name: &str) -> Option<String> {
    if name == "active_day" {
        return Some("days_since_last_seen".to_string());
    }
    name.strip_suffix("__last")
        .map(|metric| format!("{metric}__since"))
}

pub struct RunningSums {
    output: SchemaRef,
    account: usize,
    as_of_date: usize,
    day: usize,
    is_date: usize,
    /// Day columns, whose latest value is kept.
    day_columns: Vec<usize>,
    changes: Vec<usize>,
    /// The account whose rows are being summed, its sums and its latest day of each day
    /// column.
    current: Option<String>,
    sums: Vec<i64>,
    latest: Vec<Option<i64>>,
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
        let name = |i: &usize| input.field(*i).name().as_str();
        let day_columns: Vec<usize> = (0..input.fields().len())
            .filter(|i| since_column(name(i)).is_some())
            .collect();
        let changes: Vec<usize> = (0..input.fields().len())
            .filter(|i| !KEYS.contains(&name(i)) && since_column(name(i)).is_none())
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
        if !day_columns.iter().any(|i| name(i) == "active_day") {
            index("active_day")?;
        }
        fields.extend(day_columns.iter().map(|i| {
            let output = since_column(name(i)).expect("a day column");
            Field::new(output, DataType::Int32, true)
        }));
        Ok(RunningSums {
            output: Arc::new(Schema::new(fields)),
            account: index("account_id")?,
            as_of_date: index("as_of_date")?,
            day: index("day")?,
            is_date: index("is_date")?,
            sums: vec![0; changes.len()],
            latest: vec![None; day_columns.len()],
            day_columns,
            changes,
            current: None,
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
        let day_values = self
            .day_columns
            .iter()
            .map(|c| integers(batch, *c))
            .collect::<crate::engine::Result<Vec<_>>>()?;
        let changes = self
            .changes
            .iter()
            .map(|c| integers(batch, *c))
            .collect::<crate::engine::Result<Vec<_>>>()?;

        let mut dates = Vec::new();
        let mut sums: Vec<Int64Builder> = changes.iter().map(|_| Int64Builder::new()).collect();
        let mut since: Vec<Int32Builder> = day_values.iter().map(|_| Int32Builder::new()).collect();
        for row in 0..batch.num_rows() {
            let account = accounts.value(row);
            if self.current.as_deref() != Some(account) {
                self.current = Some(account.to_string());
                self.sums.iter_mut().for_each(|s| *s = 0);
                self.latest.iter_mut().for_each(|d| *d = None);
            }
            if is_date.value(row) == 0 {
                for (sum, change) in self.sums.iter_mut().zip(&changes) {
                    if change.is_valid(row) {
                        *sum += change.value(row);
                    }
                }
                for (latest, values) in self.latest.iter_mut().zip(&day_values) {
                    if values.is_valid(row) {
                        *latest = (*latest).max(Some(values.value(row)));
                    }
                }
                continue;
            }
            dates.push(row as u32);
            for (builder, sum) in sums.iter_mut().zip(&self.sums) {
                builder.append_value(*sum);
            }
            let day = days.value(row);
            for (builder, latest) in since.iter_mut().zip(&self.latest) {
                builder.append_option(latest.map(|last| (day - last) as i32));
            }
        }

        let dates = UInt32Array::from(dates);
        let mut columns: Vec<ArrayRef> = vec![
            take(batch.column(self.account), &dates, None).context("window_figures sweep")?,
            take(batch.column(self.as_of_date), &dates, None).context("window_figures sweep")?,
        ];
        columns.extend(sums.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.extend(since.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
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
