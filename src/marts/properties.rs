//! `property(properties, 'path')` and `property_number(properties, 'path')`: a field of an
//! event's `properties` (its JSON text, contract §1), for the `where` and `sum` of
//! `[[metrics]]`.
//!
//! The path is dotted (`plan.tier`). `property` gives a string field as it is, a number or
//! boolean as its JSON text, an object or array as its JSON text; `property_number` gives a
//! number, or a string that parses as one. A missing field, a JSON null, properties that are
//! not JSON, or (for `property_number`) anything else give null.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;
use std::sync::Arc;

/// The two functions, for registering with a session.
pub fn property_udfs() -> [ScalarUDF; 2] {
    [
        ScalarUDF::from(Property::new("property", DataType::Utf8)),
        ScalarUDF::from(Property::new("property_number", DataType::Float64)),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Property {
    name: &'static str,
    output: DataType,
    signature: Signature,
}

impl Property {
    fn new(name: &'static str, output: DataType) -> Self {
        Property {
            name,
            output,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The value at a dotted `path` of a JSON text.
fn lookup(json: &str, path: &[&str]) -> Option<Value> {
    let mut value: Value = serde_json::from_str(json).ok()?;
    for key in path {
        value = match value {
            Value::Object(mut fields) => fields.remove(*key)?,
            _ => return None,
        };
    }
    (!value.is_null()).then_some(value)
}

fn as_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn as_number(value: Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

impl ScalarUDFImpl for Property {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let text = |t: &DataType| {
            matches!(
                t,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
            )
        };
        if arg_types.len() != 2 || !arg_types.iter().all(text) {
            return plan_err!(
                "{}(properties, 'path') takes the properties text and a path",
                self.name
            );
        }
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let path = match &args.args[1] {
            ColumnarValue::Scalar(scalar) => match scalar {
                ScalarValue::Utf8(Some(p))
                | ScalarValue::LargeUtf8(Some(p))
                | ScalarValue::Utf8View(Some(p)) => p.clone(),
                _ => return exec_err!("{}: the path must be a text literal", self.name),
            },
            ColumnarValue::Array(_) => {
                return exec_err!("{}: the path must be a text literal", self.name);
            }
        };
        let path: Vec<&str> = path.split('.').collect();
        let json = args.args[0].to_array(args.number_rows)?;
        let json = cast(&json, &DataType::Utf8)?;
        let json = json.as_string::<i32>();
        let values = (0..json.len()).map(|row| {
            if json.is_null(row) {
                None
            } else {
                lookup(json.value(row), &path)
            }
        });
        let array: ArrayRef = if self.output == DataType::Utf8 {
            let mut builder = StringBuilder::new();
            for value in values {
                builder.append_option(value.map(as_text));
            }
            Arc::new(builder.finish())
        } else {
            let mut builder = Float64Builder::new();
            for value in values {
                builder.append_option(value.and_then(as_number));
            }
            Arc::new(builder.finish())
        };
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn fields_are_read_by_path_and_anything_else_is_null() {
        let ctx = crate::engine::session();
        crate::marts::register_functions(&ctx);
        let rows = crate::engine::string_rows(
            &crate::engine::query(
                &ctx,
                "select property(p, 'plan.tier'), property_number(p, 'amount'), \
                 property(p, 'amount') \
                 from (values ('{\"plan\": {\"tier\": \"pro\"}, \"amount\": 12.5}'), \
                 ('{\"plan\": \"flat\", \"amount\": \"7\"}'), ('{\"amount\": [1]}'), \
                 ('not json'), (null)) as t(p)",
            )
            .await
            .unwrap(),
        );
        assert_eq!(
            rows,
            vec![
                vec!["pro", "12.5", "12.5"],
                // A path through a string finds nothing; a numeric string is a number.
                vec!["", "7.0", "7"],
                vec!["", "", "[1]"],
                vec!["", "", ""],
                vec!["", "", ""],
            ]
        );
    }
}
