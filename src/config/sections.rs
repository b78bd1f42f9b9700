//! The pipeline file's shape: its sections as serde structs that refuse unknown keys, with
//! their defaults, and deserialization that reports every unknown key of a section (with a
//! suggestion) rather than stopping at the first.

use super::Problems;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// `[pipeline]`: settings shared by every source and table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PipelineSection {
    /// Name shown in run logs.
    pub(super) name: String,
    /// IANA time zone for dates and for timestamps given without an offset.
    #[serde(default = "default_timezone")]
    pub(super) timezone: String,
    /// ISO 4217 code all money is reported in.
    #[serde(default = "default_currency")]
    pub(super) reporting_currency: String,
    /// Root directory of the output tables.
    #[serde(default = "default_warehouse")]
    pub(super) warehouse: String,
    /// Directory that relative source paths are resolved against.
    #[serde(default = "default_data_root")]
    pub(super) data_root: String,
    /// Rows per Arrow batch while reading sources; bounds ingest memory.
    #[serde(default = "default_batch_rows")]
    pub(super) batch_rows: usize,
    /// Memory for SQL work (dedupe, joins) before it spills to disk, e.g. "2GiB".
    #[serde(default = "default_memory_limit")]
    pub(super) memory_limit: String,
    /// How output tables are stored: "parquet" (folders of Parquet files) or "delta".
    #[serde(default = "default_table_format")]
    pub(super) table_format: String,
    /// Where the SQL runs: "local" or "ballista://HOST:PORT" (a cluster's scheduler).
    #[serde(default = "default_engine")]
    pub(super) engine: String,
}

/// `[warehouse]`: how long a Delta warehouse keeps what old versions read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WarehouseSection {
    /// Days a removed file stays for time travel before `compact --vacuum` deletes it.
    #[serde(default = "default_keep_versions_days")]
    pub(super) keep_versions_days: u32,
}

impl Default for WarehouseSection {
    fn default() -> Self {
        WarehouseSection {
            keep_versions_days: default_keep_versions_days(),
        }
    }
}

/// `[sources.NAME]`: one input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceSection {
    /// handoffs, tickets, pageviews, events, nps or fx_rates.
    pub(super) kind: String,
    /// Glob of files, relative to `data_root` unless absolute.
    pub(super) path: String,
    /// csv, ndjson or parquet; detected from the extension when absent.
    pub(super) format: Option<String>,
    /// Contract field = source column (a dotted path into nested JSON); "" = not present.
    #[serde(default)]
    pub(super) columns: BTreeMap<String, String>,
    /// Quarantined rows tolerated whatever the ratio (contract §2).
    #[serde(default = "default_max_bad_rows")]
    pub(super) max_bad_rows: u64,
    /// Share of data rows that may be quarantined before the run fails.
    #[serde(default = "default_max_bad_ratio")]
    pub(super) max_bad_ratio: f64,
    /// Handoffs only: extra `Key:` spellings for note fields, per field.
    #[serde(default)]
    pub(super) note_aliases: BTreeMap<String, Vec<String>>,
}

impl PipelineSection {
    /// The section's defaults, standing in for a missing or broken one.
    pub(super) fn placeholder() -> Self {
        PipelineSection {
            name: String::new(),
            timezone: default_timezone(),
            reporting_currency: default_currency(),
            warehouse: default_warehouse(),
            data_root: default_data_root(),
            batch_rows: default_batch_rows(),
            memory_limit: default_memory_limit(),
            table_format: default_table_format(),
            engine: default_engine(),
        }
    }
}

fn default_engine() -> String {
    "local".into()
}
fn default_table_format() -> String {
    "parquet".into()
}
fn default_keep_versions_days() -> u32 {
    7
}
fn default_timezone() -> String {
    "UTC".into()
}
fn default_currency() -> String {
    "USD".into()
}
fn default_warehouse() -> String {
    "warehouse".into()
}
fn default_data_root() -> String {
    ".".into()
}
fn default_batch_rows() -> usize {
    65_536
}
fn default_memory_limit() -> String {
    "2GiB".into()
}
fn default_max_bad_rows() -> u64 {
    10
}
fn default_max_bad_ratio() -> f64 {
    0.01
}

/// Deserializes a section, collecting every unknown key rather than stopping at the first.
pub(super) fn deserialize_all<T: DeserializeOwned>(
    value: &toml::Value,
    at: &[&str],
    problems: &mut Problems,
) -> Option<T> {
    let Some(table) = value.as_table() else {
        problems.at(at, format!("[{}] must be a table", at.join(".")));
        return None;
    };
    let mut table = table.clone();
    loop {
        match T::deserialize(toml::Value::Table(table.clone())) {
            // Unknown keys are already reported; the rest of the section is still checked.
            Ok(parsed) => return Some(parsed),
            Err(e) => {
                let message = e.message().to_string();
                if let Some((key, expected)) = unknown_field(&message) {
                    let mut path = at.to_vec();
                    path.push(&key);
                    let known: Vec<&str> = expected.iter().map(String::as_str).collect();
                    problems.at(
                        &path,
                        format!(
                            "unknown key `{key}` in [{}]{}; known keys are {}",
                            at.join("."),
                            suggest(&key, &known),
                            known.join(", ")
                        ),
                    );
                    // A key of a nested table is reported; stop there.
                    table.remove(&key)?;
                    continue;
                }
                problems.at(at, format!("in [{}]: {message}", at.join(".")));
                return None;
            }
        }
    }
}

/// An array of tables (`[[key]]`), each element deserialized on its own.
pub(super) fn deserialize_list<T: DeserializeOwned>(
    table: &toml::Table,
    key: &str,
    problems: &mut Problems,
) -> Vec<T> {
    match table.get(key) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .filter_map(|item| deserialize_all(item, &[key], problems))
            .collect(),
        Some(_) => {
            problems.at(
                &[key],
                format!("`{key}` must be a list of tables: write [[{key}]]"),
            );
            Vec::new()
        }
    }
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" message.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((key.to_string(), expected))
}

/// "; did you mean `x`?" for a near miss, or nothing.
pub(super) fn suggest(given: &str, known: &[&str]) -> String {
    use datafusion::common::utils::datafusion_strsim::levenshtein;
    known
        .iter()
        .map(|k| (levenshtein(given, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_message_is_parsed() {
        let (key, expected) =
            unknown_field("unknown field `colums`, expected one of `kind`, `path`").unwrap();
        assert_eq!(key, "colums");
        assert_eq!(expected, vec!["kind", "path"]);
    }

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(
            suggest("colums", &["columns", "kind"]),
            " (did you mean `columns`?)"
        );
        assert_eq!(suggest("zzz", &["columns", "kind"]), "");
    }
}
