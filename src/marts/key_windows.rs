//! `key_window_changes(day, first_day, last_day[, window])`: the SQL aggregate behind the
//! distinct counts of `window_figures` (active users over 7 and 30 days, features and
//! help-site readers over 30, and the `distinct_users` metrics over their own windows). It
//! owns one rule and nothing else: how a key's active days become changes to the number of
//! keys inside a W-day window.
//!
//! A key active on day d is in the W-day windows of the dates d to d + W − 1, so a run of its
//! active days at most W apart counts once: +1 on the run's first day, −1 W days after its last.
//! Computing that in SQL took a sort of every (key, day) row by key and day for `lag`/`lead`
//! (at 100 million events, most of a build); this aggregate groups by key instead, keeping a
//! bitset of the key's days from `first_day` to `last_day` (days since 1970-01-01; days outside
//! are ignored), and emits each key's changes as a list of
//! `{day, in_7d, in_30d}` structs in day order — or, given a `window` (an integer literal),
//! of `{day, change}` structs for that window alone.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int8Array, Int32Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int32Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature,
    TypeSignature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use std::sync::Arc;

/// The windows a key's changes are given for, in days.
const WINDOWS: [i32; 2] = [7, 30];

/// The widest span of days one call may cover (a bitset word per 64 days per key).
const MAX_SPAN_DAYS: i64 = 100 * 366;

/// The aggregate, for registering with a session.
pub fn key_window_changes_udaf() -> AggregateUDF {
    AggregateUDF::from(KeyWindowChanges {
        signature: Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int32, DataType::Int64, DataType::Int64]),
                TypeSignature::Exact(vec![
                    DataType::Int32,
                    DataType::Int64,
                    DataType::Int64,
                    DataType::Int64,
                ]),
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyWindowChanges {
    signature: Signature,
}

fn change_fields() -> Fields {
    Fields::from(vec![
        Field::new("day", DataType::Int32, false),
        Field::new("in_7d", DataType::Int8, false),
        Field::new("in_30d", DataType::Int8, false),
    ])
}

fn change_item() -> FieldRef {
    Arc::new(Field::new_list_field(
        DataType::Struct(change_fields()),
        false,
    ))
}

/// The changes of one window: `{day, change}`.
fn single_fields() -> Fields {
    Fields::from(vec![
        Field::new("day", DataType::Int32, false),
        Field::new("change", DataType::Int8, false),
    ])
}

fn single_item() -> FieldRef {
    Arc::new(Field::new_list_field(
        DataType::Struct(single_fields()),
        false,
    ))
}

fn day_item() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Int32, false))
}

impl AggregateUDFImpl for KeyWindowChanges {
    fn name(&self) -> &str {
        "key_window_changes"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(if arg_types.len() == 4 {
            DataType::List(single_item())
        } else {
            DataType::List(change_item())
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "days"),
            DataType::List(day_item()),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let mut groups = KeyDays::new(&args)?;
        groups.resize(1);
        Ok(Box::new(OneKey { groups }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(KeyDays::new(&args)?))
    }
}

/// The active days of every group's key, one bitset per group laid end to end.
#[derive(Debug)]
struct KeyDays {
    first_day: i32,
    last_day: i32,
    /// The one window of the four-argument form; `None`: 7 and 30 days.
    window: Option<i32>,
    words_per_group: usize,
    bits: Vec<u64>,
}

impl KeyDays {
    fn new(args: &AccumulatorArgs) -> Result<Self> {
        let first_day = literal_day(args, 1, "first_day")?;
        let last_day = literal_day(args, 2, "last_day")?;
        let window = match args.exprs.len() {
            4 => {
                let window = literal_day(args, 3, "window")?;
                if !(1..=MAX_SPAN_DAYS as i32).contains(&window) {
                    return Err(DataFusionError::Plan(format!(
                        "key_window_changes: window {window} must be at least 1 day"
                    )));
                }
                Some(window)
            }
            _ => None,
        };
        let span = i64::from(last_day) - i64::from(first_day) + 1;
        if span > MAX_SPAN_DAYS {
            return Err(DataFusionError::Plan(format!(
                "key_window_changes: {span} days from first_day to last_day; at most \
                 {MAX_SPAN_DAYS} are allowed"
            )));
        }
        Ok(KeyDays {
            first_day,
            last_day,
            window,
            words_per_group: (span.max(0) as usize).div_ceil(64),
            bits: Vec::new(),
        })
    }

    fn groups(&self) -> usize {
        self.bits
            .len()
            .checked_div(self.words_per_group)
            .unwrap_or(0)
    }

    fn resize(&mut self, groups: usize) {
        if groups > self.groups() {
            self.bits.resize(groups * self.words_per_group, 0);
        }
    }

    fn mark(&mut self, group: usize, day: i32) {
        if day < self.first_day || day > self.last_day {
            return;
        }
        let offset = (day - self.first_day) as usize;
        self.bits[group * self.words_per_group + offset / 64] |= 1 << (offset % 64);
    }

    /// The group's days, in order, into `days` (cleared first).
    fn days_of(&self, group: usize, days: &mut Vec<i32>) {
        days.clear();
        let start = group * self.words_per_group;
        for (index, &word) in self.bits[start..start + self.words_per_group]
            .iter()
            .enumerate()
        {
            let mut rest = word;
            while rest != 0 {
                let bit = rest.trailing_zeros() as i32;
                days.push(self.first_day + index as i32 * 64 + bit);
                rest &= rest - 1;
            }
        }
    }

    /// Each group's days as a list (the state carried between aggregation phases).
    fn days_array(&self, groups: std::ops::Range<usize>) -> ListArray {
        let mut days = Vec::new();
        let mut values: Vec<i32> = Vec::new();
        let mut offsets = vec![0i32];
        for group in groups {
            self.days_of(group, &mut days);
            values.extend_from_slice(&days);
            offsets.push(values.len() as i32);
        }
        ListArray::new(
            day_item(),
            OffsetBuffer::new(offsets.into()),
            Arc::new(Int32Array::from(values)),
            None,
        )
    }

    /// Each group's window changes.
    fn changes_array(&self, groups: std::ops::Range<usize>) -> ListArray {
        if let Some(window) = self.window {
            return self.single_changes_array(groups, window);
        }
        let mut days = Vec::new();
        let mut entries: Vec<Change> = Vec::new();
        let (mut day, mut in_7d, mut in_30d) = (Vec::new(), Vec::new(), Vec::new());
        let mut offsets = vec![0i32];
        for group in groups {
            self.days_of(group, &mut days);
            window_changes(&days, &mut entries);
            for &(d, a, b) in &entries {
                day.push(d);
                in_7d.push(a);
                in_30d.push(b);
            }
            offsets.push(day.len() as i32);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(day)),
            Arc::new(Int8Array::from(in_7d)),
            Arc::new(Int8Array::from(in_30d)),
        ];
        ListArray::new(
            change_item(),
            OffsetBuffer::new(offsets.into()),
            Arc::new(StructArray::new(change_fields(), columns, None)),
            None,
        )
    }

    /// Each group's changes for one window.
    fn single_changes_array(&self, groups: std::ops::Range<usize>, window: i32) -> ListArray {
        let mut days = Vec::new();
        let (mut day, mut change) = (Vec::new(), Vec::new());
        let mut offsets = vec![0i32];
        for group in groups {
            self.days_of(group, &mut days);
            runs(&days, window, |d, delta| {
                day.push(d);
                change.push(delta);
            });
            offsets.push(day.len() as i32);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(day)),
            Arc::new(Int8Array::from(change)),
        ];
        ListArray::new(
            single_item(),
            OffsetBuffer::new(offsets.into()),
            Arc::new(StructArray::new(single_fields(), columns, None)),
            None,
        )
    }

    /// Drops the emitted groups, renumbering the rest from 0, and gives their memory back:
    /// an aggregate that spills emits its state and must then report less memory in use.
    fn drop_emitted(&mut self, emit_to: EmitTo) {
        match emit_to {
            EmitTo::All => self.bits = Vec::new(),
            EmitTo::First(n) => {
                self.bits.drain(..n * self.words_per_group);
                self.bits.shrink_to_fit();
            }
        }
    }

    fn emitted(&self, emit_to: EmitTo) -> std::ops::Range<usize> {
        match emit_to {
            EmitTo::All => 0..self.groups(),
            EmitTo::First(n) => 0..n,
        }
    }

    fn merge_days(&mut self, lists: &ListArray, group_of: impl Fn(usize) -> usize) {
        for row in 0..lists.len() {
            if lists.is_null(row) {
                continue;
            }
            let days = lists.value(row);
            let group = group_of(row);
            for day in days.as_primitive::<Int32Type>().iter().flatten() {
                self.mark(group, day);
            }
        }
    }
}

/// One day's change to a key's window counts: (day, change in the 7-day count, change in the
/// 30-day count), each change in −2..=2. Narrow types keep the aggregate's output small: a
/// final aggregate materializes all of it at once, in its share of the memory pool.
type Change = (i32, i8, i8);

/// The changes of a key with active `days` (ascending) to the count of one `window`, in day
/// order: +1 on the first day of each run of days at most `window` apart, −1 `window` days
/// after its last (always before the next run starts).
fn runs(days: &[i32], window: i32, mut change: impl FnMut(i32, i8)) {
    let mut previous: Option<i32> = None;
    for &day in days {
        match previous {
            Some(last) if day - last <= window => {}
            _ => {
                if let Some(last) = previous {
                    change(last + window, -1);
                }
                change(day, 1);
            }
        }
        previous = Some(day);
    }
    if let Some(last) = previous {
        change(last + window, -1);
    }
}

/// The changes of a key with active `days` (ascending), per window, merged by day into
/// `entries`.
fn window_changes(days: &[i32], entries: &mut Vec<Change>) {
    entries.clear();
    for window in WINDOWS {
        runs(days, window, |day, delta| match window {
            7 => entries.push((day, delta, 0)),
            _ => entries.push((day, 0, delta)),
        });
    }
    entries.sort_unstable_by_key(|entry| entry.0);
    entries.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            earlier.2 += later.2;
            true
        } else {
            false
        }
    });
}

fn literal_day(args: &AccumulatorArgs, index: usize, name: &str) -> Result<i32> {
    let value = args
        .exprs
        .get(index)
        .and_then(|expr| expr.downcast_ref::<Literal>())
        .map(|literal| literal.value().clone());
    match value {
        Some(ScalarValue::Int64(Some(day))) => i32::try_from(day).map_err(|_| {
            DataFusionError::Plan(format!("key_window_changes: {name} {day} is out of range"))
        }),
        Some(ScalarValue::Int32(Some(day))) => Ok(day),
        _ => Err(DataFusionError::Plan(format!(
            "key_window_changes: {name} must be an integer literal (days since 1970-01-01)"
        ))),
    }
}

impl GroupsAccumulator for KeyDays {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let days = values[0].as_primitive::<Int32Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if kept && days.is_valid(row) {
                self.mark(group, days.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let array = self.changes_array(self.emitted(emit_to));
        self.drop_emitted(emit_to);
        Ok(Arc::new(array))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let array = self.days_array(self.emitted(emit_to));
        self.drop_emitted(emit_to);
        Ok(vec![Arc::new(array)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.merge_days(values[0].as_list::<i32>(), |row| group_indices[row]);
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let days = values[0].as_primitive::<Int32Type>();
        let mut kept: Vec<i32> = Vec::with_capacity(days.len());
        let mut offsets = Vec::with_capacity(days.len() + 1);
        offsets.push(0i32);
        for row in 0..days.len() {
            let passes = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if passes && days.is_valid(row) {
                kept.push(days.value(row));
            }
            offsets.push(kept.len() as i32);
        }
        Ok(vec![Arc::new(ListArray::new(
            day_item(),
            OffsetBuffer::new(offsets.into()),
            Arc::new(Int32Array::from(kept)),
            None,
        ))])
    }

    fn size(&self) -> usize {
        self.bits.capacity() * std::mem::size_of::<u64>()
    }
}

/// The same aggregate without a GROUP BY: one key.
#[derive(Debug)]
struct OneKey {
    groups: KeyDays,
}

impl Accumulator for OneKey {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let days = values[0].as_primitive::<Int32Type>();
        for day in days.iter().flatten() {
            self.groups.mark(0, day);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&self.groups.changes_array(0..1), 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::try_from_array(
            &self.groups.days_array(0..1),
            0,
        )?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.groups.merge_days(states[0].as_list::<i32>(), |_| 0);
        Ok(())
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.groups.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(days: &[i32]) -> Vec<Change> {
        let mut entries = Vec::new();
        window_changes(days, &mut entries);
        entries
    }

    #[test]
    fn days_within_a_window_of_each_other_count_once() {
        // Days 10 and 15 are one 7-day run (10..=21); 40 starts a new 7-day run but is within
        // 30 days of 15, so the 30-day count holds from 10 to 69.
        assert_eq!(
            changes(&[10, 15, 40]),
            vec![
                (10, 1, 1),
                (22, -1, 0),
                (40, 1, 0),
                (47, -1, 0),
                (70, 0, -1)
            ]
        );
    }

    #[test]
    fn a_gap_of_exactly_the_window_keeps_the_run() {
        // Active on 0 and 7: in the 7-day windows of dates 0..=6 and 7..=13, so one run.
        assert_eq!(changes(&[0, 7]), vec![(0, 1, 1), (14, -1, 0), (37, 0, -1)]);
        assert_eq!(
            changes(&[0, 8]),
            vec![(0, 1, 1), (7, -1, 0), (8, 1, 0), (15, -1, 0), (38, 0, -1)]
        );
    }

    #[tokio::test]
    async fn a_window_argument_gives_that_windows_changes_alone() {
        let ctx = crate::engine::session();
        crate::marts::register_functions(&ctx);
        let rows = crate::engine::string_rows(
            &crate::engine::query(
                &ctx,
                "select key_window_changes(cast(day as int), 0, 100, 14) \
                 filter (where keep) as changes \
                 from (values (10, true), (24, true), (39, true), (30, false)) as t(day, keep)",
            )
            .await
            .unwrap(),
        );
        // 10 and 24 are 14 apart: one run, out of the windows after 24 + 13; 39 starts anew
        // (the filtered-out 30 would have joined them).
        assert_eq!(
            rows,
            vec![vec![
                "[{day: 10, change: 1}, {day: 38, change: -1}, {day: 39, change: 1}, \
                 {day: 53, change: -1}]"
            ]]
        );
    }

    #[test]
    fn a_key_without_days_changes_nothing() {
        assert!(changes(&[]).is_empty());
    }

    /// At 100 million events the aggregate spilled and then failed: "Decreasing allocation
    /// after spilling should succeed" (its emptied bitsets kept their capacity).
    #[tokio::test]
    async fn groups_past_the_memory_limit_spill_and_give_every_key_its_changes() {
        let spill = tempfile::tempdir().unwrap();
        let ctx = crate::engine::bounded_session(8 << 20, spill.path()).unwrap();
        crate::marts::register_functions(&ctx);
        let rows = crate::engine::string_rows(
            &crate::engine::query(
                &ctx,
                "select count(*), sum(cardinality(changes)) \
                 from (select key, key_window_changes(cast(value % 700 as int), 0, 729) \
                 as changes from (select value, value % 300000 as key \
                 from generate_series(0, 599999)) group by key)",
            )
            .await
            .unwrap(),
        );
        // Each key is active on two days 300 or 400 apart (300000 % 700 = 400): two runs in
        // either window, so +1 and -1 twice over for 7 and for 30 days, merged on the start
        // days: 6 changes per key.
        assert_eq!(rows, vec![vec!["300000", "1800000"]]);
    }

    #[tokio::test]
    async fn grouped_sql_counts_days_outside_the_range_as_absent() {
        let ctx = crate::engine::session();
        crate::marts::register_functions(&ctx);
        let rows = crate::engine::string_rows(
            &crate::engine::query(
                &ctx,
                "select key, key_window_changes(cast(day as int), 5, 100) as changes \
                 from (values ('a', 10), ('a', 15), ('b', 3), ('b', 200), ('b', 50), \
                 ('c', cast(null as int))) as t(key, day) \
                 group by key order by key",
            )
            .await
            .unwrap(),
        );
        assert_eq!(
            rows,
            vec![
                vec![
                    "a",
                    "[{day: 10, in_7d: 1, in_30d: 1}, {day: 22, in_7d: -1, in_30d: 0}, \
                     {day: 45, in_7d: 0, in_30d: -1}]"
                ],
                vec![
                    "b",
                    "[{day: 50, in_7d: 1, in_30d: 1}, {day: 57, in_7d: -1, in_30d: 0}, \
                     {day: 80, in_7d: 0, in_30d: -1}]"
                ],
                vec!["c", "[]"],
            ]
        );
    }
}
