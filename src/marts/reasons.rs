//! `health_reasons(k, min_shortfall, name, shortfall, normalized, …)`: the `reasons` text of
//! `health_scores`, computed per row.
//!
//! Each component comes as three arguments: its name (a text literal), its shortfall (the
//! points it costs the score) and its normalized value (null when missing). The reasons are
//! the components whose shortfall is at least `min_shortfall`, the largest `k` first (ties in
//! name order), each as `usage 50/100 (-30.0 pts)`, joined by `; `; no reason gives ''.
//!
//! In SQL this took one row per account, date and component, sorted per account and date and
//! aggregated back (at 50,000 accounts, most of a health_scores build); a row holds all of its
//! components, so picking the largest few needs no sort across rows. The text is `LargeUtf8`,
//! the type that SQL's `string_agg` gave the column, so partitions published before and after
//! read as one table.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, LargeStringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::cmp::Ordering;
use std::sync::Arc;

/// The function, for registering with a session.
pub fn health_reasons_udf() -> ScalarUDF {
    ScalarUDF::from(HealthReasons {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct HealthReasons {
    signature: Signature,
}

/// One component's arguments, evaluated for a batch.
struct Component {
    name: String,
    shortfall: Float64Array,
    /// The shortfall rounded to 0.1 and cast to text, as SQL's `cast(… as varchar)` writes it.
    shortfall_text: ArrayRef,
    normalized: Float64Array,
}

impl ScalarUDFImpl for HealthReasons {
    fn name(&self) -> &str {
        "health_reasons"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (head, components) = arg_types.split_at(arg_types.len().min(2));
        if head.len() < 2 || components.is_empty() || components.len() % 3 != 0 {
            return plan_err!(
                "health_reasons takes k, min_shortfall and (name, shortfall, normalized) per \
                 component; got {} arguments",
                arg_types.len()
            );
        }
        for (i, kind) in arg_types.iter().enumerate() {
            let expected = match i {
                0 => kind.is_integer(),
                1 => *kind == DataType::Float64,
                _ if (i - 2) % 3 == 0 => matches!(kind, DataType::Utf8 | DataType::Utf8View),
                _ => *kind == DataType::Float64,
            };
            if !expected {
                return plan_err!("health_reasons: argument {} has type {kind}", i + 1);
            }
        }
        Ok(DataType::LargeUtf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let k = match &args.args[0] {
            ColumnarValue::Scalar(value) => match value.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(k)) if k >= 0 => k as usize,
                other => return exec_err!("health_reasons: k must be a count, not {other}"),
            },
            ColumnarValue::Array(_) => return exec_err!("health_reasons: k must be a literal"),
        };
        let min_shortfall = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Float64(Some(min))) => *min,
            _ => return exec_err!("health_reasons: min_shortfall must be a number literal"),
        };
        let mut components = args.args[2..]
            .chunks(3)
            .map(|triple| component(triple, rows))
            .collect::<Result<Vec<_>>>()?;
        components.sort_by(|a, b| a.name.cmp(&b.name));

        let mut out = LargeStringBuilder::with_capacity(rows, rows * 32 * k.max(1));
        let mut picked: Vec<(f64, usize)> = Vec::with_capacity(components.len());
        let mut text = String::new();
        for row in 0..rows {
            picked.clear();
            picked.extend(components.iter().enumerate().filter_map(|(i, c)| {
                let shortfall = c.shortfall.is_valid(row).then(|| c.shortfall.value(row))?;
                (shortfall.total_cmp(&min_shortfall) != Ordering::Less).then_some((shortfall, i))
            }));
            // Largest first; the components are in name order, so a stable sort breaks ties
            // by name.
            picked.sort_by(|a, b| b.0.total_cmp(&a.0));
            text.clear();
            for (n, (_, i)) in picked.iter().take(k).enumerate() {
                let c = &components[*i];
                if n > 0 {
                    text.push_str("; ");
                }
                text.push_str(&c.name);
                text.push(' ');
                match normalized_text(&c.normalized, row) {
                    Some(value) => text.push_str(&value.to_string()),
                    None => text.push_str("missing"),
                }
                text.push_str("/100 (-");
                text.push_str(c.shortfall_text.as_string::<i32>().value(row));
                text.push_str(" pts)");
            }
            out.append_value(&text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn component(triple: &[ColumnarValue], rows: usize) -> Result<Component> {
    let name = match &triple[0] {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(name)) | ScalarValue::Utf8View(Some(name)),
        ) => name.clone(),
        _ => return exec_err!("health_reasons: a component's name must be a text literal"),
    };
    let numbers = |value: &ColumnarValue| -> Result<Float64Array> {
        Ok(value.to_array(rows)?.as_primitive::<Float64Type>().clone())
    };
    let shortfall = numbers(&triple[1])?;
    let rounded: Float64Array = shortfall.unary(|v| (v * 10.0).round() / 10.0);
    Ok(Component {
        name,
        shortfall_text: cast(&rounded, &DataType::Utf8)?,
        shortfall,
        normalized: numbers(&triple[2])?,
    })
}

/// A normalized value rounded to a whole number, as `cast(round(v, 0) as bigint)`; none when
/// missing (or not a finite number, which that cast makes null too).
fn normalized_text(normalized: &Float64Array, row: usize) -> Option<i64> {
    let value = normalized.is_valid(row).then(|| normalized.value(row))?;
    let rounded = value.round();
    (rounded.is_finite() && rounded.abs() < 9.2e18).then_some(rounded as i64)
}

#[cfg(test)]
mod tests {
    use crate::engine;

    async fn reasons(sql: &str) -> Vec<String> {
        let ctx = engine::session();
        crate::marts::register_functions(&ctx);
        let batches = engine::query(&ctx, sql).await.expect("query runs");
        assert_eq!(
            batches[0].schema().field(0).data_type(),
            &datafusion::arrow::datatypes::DataType::LargeUtf8
        );
        engine::string_rows(&batches)
            .into_iter()
            .map(|row| row[0].clone())
            .collect()
    }

    #[tokio::test]
    async fn the_largest_shortfalls_come_first_with_ties_in_name_order() {
        let got = reasons(
            "select health_reasons(2, 0.5, \
                'usage', cast(30.04 as double), cast(49.6 as double), \
                'nps', cast(12.0 as double), cast(null as double), \
                'csat', cast(12.0 as double), cast(80.0 as double), \
                'support', cast(0.49 as double), cast(99.0 as double))",
        )
        .await;
        assert_eq!(
            got,
            vec!["usage 50/100 (-30.0 pts); csat 80/100 (-12.0 pts)".to_string()]
        );
    }

    #[tokio::test]
    async fn no_shortfall_past_the_minimum_gives_empty_text() {
        let got = reasons(
            "select health_reasons(3, 0.5, 'usage', cast(0.2 as double), cast(99.8 as double), \
                'nps', cast(null as double), cast(null as double))",
        )
        .await;
        assert_eq!(got, vec![String::new()]);
    }

    #[tokio::test]
    async fn a_call_without_whole_components_is_refused_when_planned() {
        let ctx = engine::session();
        crate::marts::register_functions(&ctx);
        let err = engine::query(&ctx, "select health_reasons(3, 0.5, 'usage', 1.0)")
            .await
            .expect_err("three arguments per component");
        assert!(
            err.to_string().contains("(name, shortfall, normalized)"),
            "{err}"
        );
    }
}
