//! The SQL functions the staging models call: `fx_convert` (exact money conversion) and
//! `id_hash` (the raw files' message-id hash). Registered with every session that plans or
//! runs staging SQL.

use crate::base::decimal::{MONEY_SCALE, RATE_SCALE, divide_rounded};
use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers the staging functions with a session.
pub fn register_functions(ctx: &SessionContext) {
    ctx.register_udf(fx_convert_udf());
    ctx.register_udf(id_hash_udf());
}

/// `fx_convert(amount decimal(38,6), rate decimal(38,10))`: the amount in reporting currency,
/// rounded half away from zero to 6 digits (contract §2), computed exactly in 128-bit integers.
fn fx_convert_udf() -> datafusion::logical_expr::ScalarUDF {
    let money = DataType::Decimal128(38, MONEY_SCALE as i8);
    let rate = DataType::Decimal128(38, RATE_SCALE as i8);
    create_udf(
        "fx_convert",
        vec![money.clone(), rate],
        money.clone(),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let amounts = arrays[0].as_primitive::<Decimal128Type>();
            let rates = arrays[1].as_primitive::<Decimal128Type>();
            let divisor = 10i128.pow(RATE_SCALE);
            let converted: Decimal128Array = amounts
                .iter()
                .zip(rates.iter())
                .map(|pair| match pair {
                    (Some(amount), Some(rate)) => amount
                        .checked_mul(rate)
                        .map(|product| Some(divide_rounded(product, divisor)))
                        .ok_or_else(|| {
                            DataFusionError::Execution(format!(
                                "fx_convert: {amount} × {rate} overflows a decimal"
                            ))
                        }),
                    _ => Ok(None),
                })
                .collect::<Result<_, DataFusionError>>()?;
            let converted = converted.with_data_type(DataType::Decimal128(38, MONEY_SCALE as i8));
            Ok(ColumnarValue::Array(Arc::new(converted) as ArrayRef))
        }),
    )
}

/// `id_hash(id text)`: the id's 64-bit hash, as the raw files' `_id_hash` holds it (see
/// `ingest::shape::ID_HASH`).
fn id_hash_udf() -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "id_hash",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let ids = arrays[0].as_string::<i32>();
            let hashes: Int64Array = ids
                .iter()
                .map(|id| id.map(crate::base::ids::hash_id))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(hashes) as ArrayRef))
        }),
    )
}
