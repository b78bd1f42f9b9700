//! Converting the raw text of a field into its typed value, with the reason when it fails.
//!
//! The rules are contract §1–§2: RFC 3339 timestamps (a `T` or a space, either case, offsets
//! optional and then read in the pipeline timezone, `Z` or `±HH:MM` when given), `YYYY-MM-DD`
//! dates, decimals with 6 fractional digits rounded half away from zero, enum values and
//! currency codes exactly as the contract spells them, ranges enforced. Pure functions only:
//! no I/O, no Arrow.

use crate::base::days::date_to_days;
use crate::base::decimal::{MONEY_SCALE, RATE_SCALE, parse_decimal};
use crate::base::table_file::Value;
use crate::contract::{Field, FieldType, is_currency_code};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Converts one field; `Err` carries the reason, naming the field and the value.
pub fn convert(field: &Field, raw: Option<&str>, tz: Tz) -> Result<Value, String> {
    let text = raw.map(str::trim).filter(|t| !t.is_empty());
    let Some(text) = text else {
        return if field.required {
            Err(format!("missing required field `{}`", field.name))
        } else {
            Ok(Value::Null)
        };
    };
    let name = field.name;
    match field.ty {
        FieldType::Text | FieldType::Json => Ok(Value::Text(text.to_string())),
        FieldType::Count => parse_count(text)
            .map(Value::Int)
            .map_err(|why| format!("`{name}` {why}")),
        FieldType::Score { min, max } => match text.parse::<i64>() {
            Ok(n) if (min as i64..=max as i64).contains(&n) => Ok(Value::Int(n as i32)),
            Ok(n) => Err(format!("`{name}` {n} is outside {min}–{max}")),
            Err(_) => Err(format!("`{name}` `{text}` is not an integer")),
        },
        FieldType::Money => parse_decimal(text, MONEY_SCALE)
            .and_then(|v| non_negative(v, text))
            .map(Value::Decimal)
            .map_err(|why| format!("`{name}` {why}")),
        FieldType::Rate => match parse_decimal(text, RATE_SCALE) {
            Ok(v) if v > 0 => Ok(Value::Decimal(v)),
            Ok(_) => Err(format!("`{name}` {text} must be above 0")),
            Err(why) => Err(format!("`{name}` {why}")),
        },
        FieldType::Date => parse_date(text)
            .map(Value::Date)
            .ok_or_else(|| format!("`{name}` `{text}` is not a date (YYYY-MM-DD)")),
        FieldType::Timestamp => parse_timestamp(text, tz)
            .map(Value::Timestamp)
            .map_err(|why| format!("`{name}` `{text}` {why}")),
        FieldType::Currency => {
            if is_currency_code(text) {
                Ok(Value::Text(text.to_string()))
            } else {
                Err(format!(
                    "`{name}` `{text}` is not an ISO 4217 currency code (three upper-case \
                     letters, such as USD)"
                ))
            }
        }
        // Values in another case are rejected, not folded: the contract lists them as the
        // exporters write them, and a `Solved` says the row did not come from one.
        FieldType::Enum(allowed) => match allowed.iter().find(|a| **a == text) {
            Some(a) => Ok(Value::Text(a.to_string())),
            None => Err(format!(
                "`{name}` `{text}` is not one of {} (lower case, as listed)",
                allowed.join(", ")
            )),
        },
        FieldType::Tags => Ok(Value::List(parse_tags(text))),
    }
}

fn parse_count(text: &str) -> Result<i32, String> {
    use std::num::IntErrorKind::*;
    match text.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("{n} is negative")),
        Ok(n) => i32::try_from(n).map_err(|_| format!("{n} is too large (maximum {})", i32::MAX)),
        Err(e) if matches!(e.kind(), PosOverflow) => {
            Err(format!("{text} is too large (maximum {})", i32::MAX))
        }
        Err(e) if matches!(e.kind(), NegOverflow) => Err(format!("{text} is negative")),
        Err(_) => Err(format!("`{text}` is not an integer")),
    }
}

fn non_negative(value: i128, text: &str) -> Result<i128, String> {
    if value < 0 {
        Err(format!("{text} is negative"))
    } else {
        Ok(value)
    }
}

pub fn parse_date(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(date_to_days)
}

/// The form [`parse_timestamp`] accepts, for messages.
const TIMESTAMP_FORM: &str =
    "RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction] then `Z`, `±HH:MM` or no offset";

/// RFC 3339 with `T` or a space, either case; without an offset the time is local to `tz`.
/// An ISO 8601 basic offset (`+0900`) is not RFC 3339 and is refused, naming the form.
pub fn parse_timestamp(text: &str, tz: Tz) -> Result<i64, String> {
    let mut normalized = text.to_string();
    if normalized.len() > 10 && matches!(normalized.as_bytes()[10], b' ' | b't') {
        normalized.replace_range(10..11, "T");
    }
    if normalized.ends_with('z') {
        normalized.pop();
        normalized.push('Z');
    }
    let refused = || format!("is not an RFC 3339 timestamp (expected {TIMESTAMP_FORM})");
    // chrono's RFC 3339 parser takes a colon-less offset too; the contract does not.
    if let Some(offset) = numeric_offset(&normalized) {
        let b = offset.as_bytes();
        if offset.len() != 6 || b[3] != b':' {
            return Err(format!(
                "has the offset `{offset}`, which is not RFC 3339 (expected {TIMESTAMP_FORM})"
            ));
        }
    }
    if let Ok(aware) = DateTime::parse_from_rfc3339(&normalized) {
        return Ok(aware.timestamp_micros());
    }
    let naive = NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| refused())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_micros())
        .ok_or_else(|| format!("does not exist in timezone {tz} (a daylight-saving gap)"))
}

/// The `+…` / `-…` offset after a timestamp's time of day, if it has one.
fn numeric_offset(text: &str) -> Option<&str> {
    // Past `YYYY-MM-DDTHH:MM`, a sign can only start an offset.
    let time = text.get(16..)?;
    time.find(['+', '-']).map(|at| &time[at..])
}

/// A JSON array of strings, or one string split on commas and whitespace.
fn parse_tags(text: &str) -> Vec<String> {
    if text.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<serde_json::Value>>(text)
    {
        return list
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.is_empty())
            .collect();
    }
    text.trim_matches(|c| c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::days::{days_to_date, local_date};

    #[test]
    fn timestamps_accept_spec_variants() {
        let utc = Tz::UTC;
        let expected = parse_timestamp("2026-01-05T10:11:12Z", utc).unwrap();
        for text in [
            "2026-01-05 10:11:12Z",
            "2026-01-05t10:11:12z",
            "2026-01-05T10:11:12+00:00",
            "2026-01-05 10:11:12",
            "2026-01-05T11:11:12+01:00",
            "2026-01-05T10:11:12.000Z",
        ] {
            assert_eq!(parse_timestamp(text, utc), Ok(expected), "{text}");
        }
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(
            parse_timestamp("2026-01-05 19:11:12", tokyo),
            Ok(expected),
            "naive times are read in the pipeline timezone"
        );
        assert!(parse_timestamp("yesterday", utc).is_err());
        for basic in ["2024-03-10T21:00:00+0900", "2024-03-10 21:00:00-0500"] {
            let refused = parse_timestamp(basic, utc).unwrap_err();
            assert!(refused.contains("±HH:MM"), "{basic}: {refused}");
        }
        assert!(parse_timestamp("2026-13-45T00:00:00Z", utc).is_err());
    }

    #[test]
    fn local_dates_follow_the_pipeline_timezone() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let micros = parse_timestamp("2026-01-05T20:00:00Z", Tz::UTC).unwrap();
        assert_eq!(
            days_to_date(local_date(micros, tokyo)).to_string(),
            "2026-01-06"
        );
        assert_eq!(
            days_to_date(local_date(micros, Tz::UTC)).to_string(),
            "2026-01-05"
        );
    }

    #[test]
    fn tags_split_lists_and_strings() {
        assert_eq!(parse_tags(r#"["sso","billing"]"#), vec!["sso", "billing"]);
        assert_eq!(
            parse_tags("sso, billing urgent"),
            vec!["sso", "billing", "urgent"]
        );
    }
}
