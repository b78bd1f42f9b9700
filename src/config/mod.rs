//! The pipeline file: its shape ([`sections`]), its sources ([`sources`]) and its analytical
//! sections ([`analytics`]), validated into a ready-to-use [`Pipeline`].
//!
//! Reading collects every problem of the file (unknown keys, unknown kinds, missing
//! mappings, globs that match nothing) with its line and what to do, and goes on past each:
//! a [`Draft`] holds what validated and every problem, so that the checks a layer up (CSV
//! headers, SQL expressions) add theirs to the same list. Code downstream of [`Pipeline`]
//! never re-checks configuration. This module reads only the pipeline file and lists globs.

pub mod error;
pub use error::{Error, Result};
mod analytics;
mod locate;
pub mod metrics;
pub mod model;
mod sections;
mod sources;

use crate::contract::{SourceKind, is_currency_code};
use chrono_tz::Tz;
use sections::{PipelineSection, WarehouseSection, deserialize_all, suggest};
use std::path::{Path, PathBuf};

pub use locate::{line_of, line_of_text};
pub use metrics::{Calibration, Definition, EventMeasure, Measure, Metric, Per};
pub use model::{
    Component, HealthModel, Lifecycle, MaturityRule, Override, PlaybookRule, Retention, TouchRule,
};
pub use sources::Source;

/// Paths given on the command line, which win over the pipeline file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_root: Option<PathBuf>,
    pub warehouse: Option<PathBuf>,
    /// A size such as "3GiB".
    pub memory_limit: Option<String>,
    pub table_format: Option<TableFormat>,
    pub engine: Option<Engine>,
}

/// How the output tables are stored (contract §4, table formats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TableFormat {
    /// Folders of Hive-partitioned Parquet files.
    #[default]
    Parquet,
    /// Delta Lake tables: the same Parquet files, committed through a `_delta_log`.
    Delta,
}

impl TableFormat {
    pub fn parse(text: &str) -> Option<TableFormat> {
        match text {
            "parquet" => Some(TableFormat::Parquet),
            "delta" => Some(TableFormat::Delta),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Delta => "delta",
        }
    }
}

/// Where the SQL of staging and the marts runs (docs/scaling.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process.
    #[default]
    Local,
    /// On a Ballista cluster, through its scheduler at `host:port`.
    Ballista { host: String, port: u16 },
}

impl Engine {
    /// `local` or `ballista://HOST:PORT`.
    pub fn parse(text: &str) -> std::result::Result<Engine, String> {
        if text == "local" {
            return Ok(Engine::Local);
        }
        let Some(address) = text.strip_prefix("ballista://") else {
            return Err(format!(
                "engine `{text}` is not known; use \"local\" or \"ballista://HOST:PORT\""
            ));
        };
        let (host, port) = parse_host_port(address.trim_end_matches('/'))
            .map_err(|problem| format!("engine `{text}`: {problem}"))?;
        Ok(Engine::Ballista {
            host: host.to_string(),
            port,
        })
    }

    pub fn name(&self) -> String {
        match self {
            Engine::Local => "local".to_string(),
            Engine::Ballista { host, port } => format!("ballista://{host}:{port}"),
        }
    }
}

/// `HOST:PORT` as its host and port, or what is wrong with it.
pub fn parse_host_port(text: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .ok_or_else(|| format!("`{text}` has no port; write HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    Ok((host.to_string(), port))
}

/// A validated pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub name: String,
    pub timezone: Tz,
    pub reporting_currency: String,
    pub warehouse: PathBuf,
    pub table_format: TableFormat,
    /// Where staging's and the marts' SQL runs.
    pub engine: Engine,
    /// Days removed files stay for time travel (`[warehouse] keep_versions_days`).
    pub keep_versions_days: u32,
    pub data_root: PathBuf,
    pub batch_rows: usize,
    /// Bytes of memory SQL work may use before spilling.
    pub memory_limit: usize,
    /// In staging order (see [`SourceKind::staging_rank`]).
    pub sources: Vec<Source>,
    pub lifecycle: Lifecycle,
    /// Maturity rules in file order; the first that holds gives the level.
    pub maturity: Vec<MaturityRule>,
    /// Touch rules in file order; the first that holds gives the model.
    pub touch: Vec<TouchRule>,
    pub health: Option<HealthModel>,
    pub playbook: Vec<PlaybookRule>,
    pub retention: Retention,
    /// `[[metrics]]` in file order (a metric reads only those before it).
    pub metrics: Vec<Metric>,
    pub calibration: Calibration,
    /// The pipeline file's text, for locating problems found later (SQL expressions).
    pub text: String,
}

impl Pipeline {
    pub fn source(&self, kind: SourceKind) -> Option<&Source> {
        self.sources.iter().find(|s| s.kind == kind)
    }
}

/// Reads and validates a pipeline file, reporting every problem at once. The SQL
/// expressions are checked a layer up (they plan against the marts), through [`read`].
pub fn load(file: &Path, overrides: &Overrides) -> Result<Pipeline> {
    read(file, overrides)?.finish()
}

/// A pipeline file read as far as its problems allow: the pipeline (with placeholders where
/// a value was wrong, and without the sources that failed) and every problem found, so that
/// later checks (the expressions) add theirs to one list.
pub struct Draft {
    /// `None` only when the file is not TOML at all.
    pub pipeline: Option<Pipeline>,
    pub problems: Problems,
}

impl Draft {
    /// The pipeline when nothing was found wrong; every problem otherwise.
    pub fn finish(self) -> Result<Pipeline> {
        match self.pipeline {
            Some(p) if self.problems.list.is_empty() => Ok(p),
            _ => Err(self.problems.into_error()),
        }
    }
}

/// Reads a pipeline file and checks everything the file alone can tell; fails only when
/// the file cannot be read.
pub fn read(file: &Path, overrides: &Overrides) -> Result<Draft> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Unreadable {
        file: file.to_path_buf(),
        source,
    })?;
    let mut problems = Problems::new(file, &text);
    let pipeline = validate(&text, file, overrides, &mut problems);
    Ok(Draft { pipeline, problems })
}

/// Problems of one pipeline file, each prefixed with `file:line`.
pub struct Problems {
    file: PathBuf,
    text: String,
    /// (line, message), reported in line order.
    list: Vec<(usize, String)>,
}

impl Problems {
    fn new(file: &Path, text: &str) -> Self {
        Problems {
            file: file.to_path_buf(),
            text: text.to_string(),
            list: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, key_path: &[&str], message: impl Into<String>) {
        let line = line_of(&self.text, key_path);
        self.push(line, message);
    }

    /// A problem with a source's files, located at its `columns` (or its section).
    pub fn at_source(&mut self, source: &str, message: impl Into<String>) {
        self.at(&["sources", source, "columns"], message);
    }

    /// A problem about a value, located by the line where the value's text first appears.
    pub fn at_text(&mut self, value: &str, message: impl Into<String>) {
        let line = locate::line_of_text(&self.text, value);
        self.push(line, message);
    }

    fn push(&mut self, line: usize, message: impl Into<String>) {
        self.list.push((
            line,
            format!("{}:{line}: {}", self.file.display(), message.into()),
        ));
    }

    fn into_error(mut self) -> Error {
        self.list.sort_by_key(|(line, _)| *line);
        Error::Problems {
            file: self.file,
            problems: self.list.into_iter().map(|(_, message)| message).collect(),
        }
    }
}

fn validate(
    text: &str,
    file: &Path,
    overrides: &Overrides,
    problems: &mut Problems,
) -> Option<Pipeline> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(1);
            problems.push(line, format!("not valid TOML: {}", e.message()));
            return None;
        }
    };
    for key in table.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            let hint = suggest(key, &TOP_LEVEL_KEYS);
            problems.at(&[key], format!("unknown top-level key `{key}`{hint}"));
        }
    }
    let section: Option<PipelineSection> = match table.get("pipeline") {
        Some(value) => deserialize_all(value, &["pipeline"], problems),
        None => {
            problems.at(
                &[],
                "missing [pipeline] section; add `[pipeline]` with `name = \"...\"`",
            );
            None
        }
    };
    // Past a broken [pipeline], the rest of the file is still checked against the defaults.
    let section = section.unwrap_or_else(PipelineSection::placeholder);
    let timezone = match section.timezone.parse::<Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            problems.at(
                &["pipeline", "timezone"],
                format!(
                    "unknown timezone `{}`; use an IANA name such as `UTC` or `Asia/Tokyo`",
                    section.timezone
                ),
            );
            Tz::UTC
        }
    };
    if !is_currency_code(&section.reporting_currency) {
        problems.at(
            &["pipeline", "reporting_currency"],
            format!(
                "`{}` is not an ISO 4217 code; use three upper-case letters such as `USD`",
                section.reporting_currency
            ),
        );
    }
    if section.batch_rows == 0 {
        problems.at(&["pipeline", "batch_rows"], "batch_rows must be at least 1");
    }
    let memory_text = overrides
        .memory_limit
        .clone()
        .unwrap_or_else(|| section.memory_limit.clone());
    let memory_limit = parse_size(&memory_text).unwrap_or_else(|| {
        problems.at(
            &["pipeline", "memory_limit"],
            format!(
                "memory_limit `{memory_text}` is not a size; write it like \"512MiB\" or \"3GiB\""
            ),
        );
        0
    });
    let data_root = overrides
        .data_root
        .clone()
        .unwrap_or_else(|| PathBuf::from(&section.data_root));
    // The manifest names local files by their full path: `data` and `./data` from two working
    // directories must name the same files, or a re-run would see every file as new.
    let data_root = match data_root.to_str() {
        Some(root) if root.contains("://") => data_root,
        _ => std::path::absolute(&data_root).unwrap_or(data_root),
    };
    let warehouse = overrides
        .warehouse
        .clone()
        .unwrap_or_else(|| PathBuf::from(&section.warehouse));
    let table_format = overrides.table_format.unwrap_or_else(|| {
        TableFormat::parse(&section.table_format).unwrap_or_else(|| {
            problems.at(
                &["pipeline", "table_format"],
                format!(
                    "table_format `{}` is not known; use \"parquet\" or \"delta\"",
                    section.table_format
                ),
            );
            TableFormat::Parquet
        })
    });
    let engine = overrides.engine.clone().unwrap_or_else(|| {
        Engine::parse(&section.engine).unwrap_or_else(|problem| {
            problems.at(&["pipeline", "engine"], problem);
            Engine::Local
        })
    });
    if let Engine::Ballista { .. } = engine {
        if table_format == TableFormat::Delta {
            problems.at(
                &["pipeline", "engine"],
                "a Ballista cluster reads Parquet warehouses; table_format = \"delta\" runs on \
                 engine = \"local\""
                    .to_string(),
            );
        }
        if crate::base::is_url(&warehouse.to_string_lossy()) {
            problems.at(
                &["pipeline", "engine"],
                format!(
                    "a Ballista cluster reads a warehouse in a directory every node mounts; `{}` \
                     is an object store, which runs on engine = \"local\"",
                    warehouse.display()
                ),
            );
        }
    }
    let warehouse_section: WarehouseSection = match table.get("warehouse") {
        Some(value) => deserialize_all(value, &["warehouse"], problems).unwrap_or_default(),
        None => WarehouseSection::default(),
    };

    let mut sources = Vec::new();
    match table.get("sources").and_then(|v| v.as_table()) {
        Some(sources_table) => {
            for (name, value) in sources_table {
                if let Some(source) = sources::validate_source(name, value, &data_root, problems) {
                    sources.push(source);
                }
            }
        }
        None => problems.at(
            &[],
            "no [sources.*] sections; declare at least a handoffs source",
        ),
    }
    sources::check_source_set(&sources, problems);
    sources.sort_by_key(|s| (s.kind.staging_rank(), s.name.clone()));
    let analytics = analytics::validate_analytics(&table, problems);
    Some(Pipeline {
        file: file.to_path_buf(),
        name: section.name,
        timezone,
        reporting_currency: section.reporting_currency,
        warehouse,
        table_format,
        engine,
        keep_versions_days: warehouse_section.keep_versions_days,
        data_root,
        batch_rows: section.batch_rows,
        memory_limit,
        sources,
        lifecycle: analytics.lifecycle,
        maturity: analytics.maturity,
        touch: analytics.touch,
        health: analytics.health,
        playbook: analytics.playbook,
        retention: analytics.retention,
        metrics: metrics::validate_metrics(&table, problems),
        calibration: metrics::validate_calibration(&table, problems),
        text: text.to_string(),
    })
}

const TOP_LEVEL_KEYS: [&str; 11] = [
    "pipeline",
    "warehouse",
    "metrics",
    "calibration",
    "sources",
    "lifecycle",
    "maturity",
    "touch",
    "health",
    "playbook",
    "retention",
];

/// "512MiB", "3GiB", "1.5GB", "2048" (bytes) → bytes.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes >= 1.0).then_some(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("3GiB"), Some(3 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("3TB"), None);
    }

    #[test]
    fn engines_parse_as_local_or_a_scheduler_address() {
        assert_eq!(Engine::parse("local"), Ok(Engine::Local));
        assert_eq!(
            Engine::parse("ballista://sched-1:50050"),
            Ok(Engine::Ballista {
                host: "sched-1".to_string(),
                port: 50050
            })
        );
        assert_eq!(
            Engine::parse("ballista://sched-1:50050").map(|e| e.name()),
            Ok("ballista://sched-1:50050".to_string())
        );
        let no_port = Engine::parse("ballista://sched-1").expect_err("needs a port");
        assert!(no_port.contains("has no port"), "{no_port}");
        let bad_port = Engine::parse("ballista://sched-1:99999").expect_err("a u16 port");
        assert!(bad_port.contains("not a port number"), "{bad_port}");
        let unknown = Engine::parse("spark://x:1").expect_err("unknown engine");
        assert!(unknown.contains("is not known"), "{unknown}");
    }
}
