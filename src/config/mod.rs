//! The pipeline file: its serde shape, and its validation into a ready-to-use [`Pipeline`].
//!
//! Loading collects every problem of the file (unknown keys, unknown kinds, missing
//! mappings, globs that match nothing, headers lacking a mapped column) and reports them all
//! at once, each with its line and what to do. Code downstream of [`Pipeline`] never
//! re-checks configuration. This module reads only the pipeline file and the first line of
//! CSV sources; it never ingests data.

mod locate;
pub mod model;

use crate::contract::{NOTE_FIELDS, SourceKind};
use crate::error::{Error, Result};
use crate::ingest::reader::{Format, SourceFile, repeated_column};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use locate::{line_of, line_of_text};
pub use model::{
    Component, HealthModel, Lifecycle, MaturityRule, Override, PlaybookRule, Retention, TouchRule,
};

/// `[pipeline]`: settings shared by every source and table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineSection {
    /// Name shown in run logs.
    name: String,
    /// IANA time zone for dates and for timestamps given without an offset.
    #[serde(default = "default_timezone")]
    timezone: String,
    /// ISO 4217 code all money is reported in.
    #[serde(default = "default_currency")]
    reporting_currency: String,
    /// Root directory of the output tables.
    #[serde(default = "default_warehouse")]
    warehouse: String,
    /// Directory that relative source paths are resolved against.
    #[serde(default = "default_data_root")]
    data_root: String,
    /// Rows per Arrow batch while reading sources; bounds ingest memory.
    #[serde(default = "default_batch_rows")]
    batch_rows: usize,
    /// Memory for SQL work (dedupe, joins) before it spills to disk, e.g. "2GiB".
    #[serde(default = "default_memory_limit")]
    memory_limit: String,
}

/// `[sources.NAME]`: one input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSection {
    /// handoffs, tickets, pageviews, events, nps or fx_rates.
    kind: String,
    /// Glob of files, relative to `data_root` unless absolute.
    path: String,
    /// csv, ndjson or parquet; detected from the extension when absent.
    format: Option<String>,
    /// Contract field = source column (a dotted path into nested JSON); "" = not present.
    #[serde(default)]
    columns: BTreeMap<String, String>,
    /// Quarantined rows tolerated whatever the ratio (SPEC §2).
    #[serde(default = "default_max_bad_rows")]
    max_bad_rows: u64,
    /// Share of data rows that may be quarantined before the run fails.
    #[serde(default = "default_max_bad_ratio")]
    max_bad_ratio: f64,
    /// Handoffs only: extra `Key:` spellings for note fields, per field.
    #[serde(default)]
    note_aliases: BTreeMap<String, Vec<String>>,
}

impl PipelineSection {
    /// The section's defaults, standing in for a missing or broken one.
    fn placeholder() -> Self {
        PipelineSection {
            name: String::new(),
            timezone: default_timezone(),
            reporting_currency: default_currency(),
            warehouse: default_warehouse(),
            data_root: default_data_root(),
            batch_rows: default_batch_rows(),
            memory_limit: default_memory_limit(),
        }
    }
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

/// Paths given on the command line, which win over the pipeline file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_root: Option<PathBuf>,
    pub warehouse: Option<PathBuf>,
    /// A size such as "3GiB".
    pub memory_limit: Option<String>,
}

/// A validated pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub name: String,
    pub timezone: Tz,
    pub reporting_currency: String,
    pub warehouse: PathBuf,
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
    /// The pipeline file's text, for locating problems found later (SQL expressions).
    pub text: String,
}

impl Pipeline {
    pub fn source(&self, kind: SourceKind) -> Option<&Source> {
        self.sources.iter().find(|s| s.kind == kind)
    }
}

/// A validated source.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// The glob as given, for messages.
    pub path: String,
    /// The format the pipeline file gives, if any (else detected per file).
    pub format: Option<Format>,
    /// Matching files in path order (empty for an object-store URL: listed at ingest).
    pub files: Vec<SourceFile>,
    pub max_bad_rows: u64,
    pub max_bad_ratio: f64,
    /// Field → column overrides; `None` means the source has no such column.
    columns: BTreeMap<String, Option<String>>,
    /// Field → accepted note keys, lower case.
    pub note_aliases: BTreeMap<String, Vec<String>>,
}

impl Source {
    /// Everything in the source's definition that shapes its rows, as text (for the
    /// incremental-ingest fingerprint).
    pub fn definition(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}",
            self.columns, self.note_aliases, self.format
        )
    }

    /// The column (or dotted path) a contract field is read from in a file of this format.
    pub fn column_for(&self, field: &str, format: Format) -> Option<&str> {
        match self.columns.get(field) {
            Some(column) => column.as_deref(),
            None => self
                .kind
                .field(field)
                .map(|f| f.default_column(format.is_nested())),
        }
    }
}

/// English and Japanese spellings of the note keys (SPEC §1).
fn default_note_aliases() -> BTreeMap<String, Vec<String>> {
    let pairs: [(&str, &[&str]); 5] = [
        ("goal", &["goal", "目標", "ゴール"]),
        ("kpi", &["kpi"]),
        (
            "decision_maker",
            &["decision maker", "決裁者", "意思決定者"],
        ),
        ("champion", &["champion", "推進者"]),
        ("risks", &["risks", "risk", "リスク", "懸念"]),
    ];
    pairs
        .into_iter()
        .map(|(field, keys)| {
            (
                field.to_string(),
                keys.iter().map(|k| k.to_string()).collect(),
            )
        })
        .collect()
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
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::Usage(format!(
            "cannot read pipeline file {}: {e}; pass an existing file with --pipeline",
            file.display()
        ))
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

    fn at(&mut self, key_path: &[&str], message: impl Into<String>) {
        let line = line_of(&self.text, key_path);
        self.push(line, message);
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
        Error::Config {
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

    let mut sources = Vec::new();
    match table.get("sources").and_then(|v| v.as_table()) {
        Some(sources_table) => {
            for (name, value) in sources_table {
                if let Some(source) = validate_source(name, value, &data_root, problems) {
                    sources.push(source);
                }
            }
        }
        None => problems.at(
            &[],
            "no [sources.*] sections; declare at least a handoffs source",
        ),
    }
    check_source_set(&sources, problems);
    sources.sort_by_key(|s| (s.kind.staging_rank(), s.name.clone()));
    let analytics = validate_analytics(&table, problems);
    Some(Pipeline {
        file: file.to_path_buf(),
        name: section.name,
        timezone,
        reporting_currency: section.reporting_currency,
        warehouse,
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
        text: text.to_string(),
    })
}

const TOP_LEVEL_KEYS: [&str; 8] = [
    "pipeline",
    "sources",
    "lifecycle",
    "maturity",
    "touch",
    "health",
    "playbook",
    "retention",
];

/// The analytical sections, checked for shape; their SQL is checked by `marts::expressions`.
struct Analytics {
    lifecycle: Lifecycle,
    maturity: Vec<MaturityRule>,
    touch: Vec<TouchRule>,
    health: Option<HealthModel>,
    playbook: Vec<PlaybookRule>,
    retention: Retention,
}

fn validate_analytics(table: &toml::Table, problems: &mut Problems) -> Analytics {
    let lifecycle = match table.get("lifecycle") {
        Some(value) => deserialize_all(value, &["lifecycle"], problems).unwrap_or_default(),
        None => Lifecycle::default(),
    };
    let maturity: Vec<MaturityRule> = deserialize_list(table, "maturity", problems);
    for rule in &maturity {
        if !(1..=4).contains(&rule.level) {
            problems.at_text(
                &rule.when,
                format!("maturity level {} is outside 1–4", rule.level),
            );
        }
    }
    let touch: Vec<TouchRule> = deserialize_list(table, "touch", problems);
    for rule in &touch {
        if !TOUCH_MODELS.contains(&rule.model.as_str()) {
            problems.at_text(
                &rule.when,
                format!(
                    "touch model `{}` is not one of {}",
                    rule.model,
                    TOUCH_MODELS.join(", ")
                ),
            );
        }
    }
    let health: Option<HealthModel> = table
        .get("health")
        .and_then(|value| deserialize_all(value, &["health"], problems));
    if let Some(model) = &health {
        check_health(model, problems);
    }
    let playbook: Vec<PlaybookRule> = deserialize_list(table, "playbook", problems);
    let mut ids = std::collections::BTreeSet::new();
    for rule in &playbook {
        if !ids.insert(rule.id.as_str()) {
            problems.at_text(
                &rule.when,
                format!("playbook rule id `{}` is used twice", rule.id),
            );
        }
        if !SEVERITIES.contains(&rule.severity.as_str()) {
            problems.at_text(
                &rule.when,
                format!(
                    "severity `{}` of rule `{}` is not one of {}",
                    rule.severity,
                    rule.id,
                    SEVERITIES.join(", ")
                ),
            );
        }
        if let Some(touch) = &rule.touch
            && !TOUCH_MODELS.contains(&touch.as_str())
        {
            problems.at_text(
                &rule.when,
                format!(
                    "touch `{touch}` of rule `{}` is not one of {}",
                    rule.id,
                    TOUCH_MODELS.join(", ")
                ),
            );
        }
    }
    let retention = match table.get("retention") {
        Some(value) => deserialize_all(value, &["retention"], problems).unwrap_or_default(),
        None => Retention::default(),
    };
    if retention.forecast_trailing_months == 0
        || retention.forecast_months == 0
        || retention.health_horizon_days == 0
        || retention.health_observation_months == 0
    {
        problems.at(
            &["retention"],
            "forecast_trailing_months, forecast_months, health_horizon_days and \
             health_observation_months must be at least 1",
        );
    }
    if !(0.0..=1.0).contains(&retention.gross_margin) {
        problems.at(
            &["retention", "gross_margin"],
            format!("gross_margin {} is outside 0–1", retention.gross_margin),
        );
    }
    Analytics {
        lifecycle,
        maturity,
        touch,
        health,
        playbook,
        retention,
    }
}

pub const TOUCH_MODELS: [&str; 3] = ["high", "low", "tech"];
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
pub const LIFECYCLE_STAGES: [&str; 4] = ["onboarding", "adoption", "renewal", "churned"];
pub const MISSING_POLICIES: [&str; 3] = ["reweight", "neutral", "zero"];

fn check_health(model: &HealthModel, problems: &mut Problems) {
    let at = ["health"];
    if !MISSING_POLICIES.contains(&model.missing.as_str()) {
        problems.at(
            &["health", "missing"],
            format!(
                "missing = `{}` is not one of {}",
                model.missing,
                MISSING_POLICIES.join(", ")
            ),
        );
    }
    if !(0.0..=100.0).contains(&model.yellow_at)
        || model.yellow_at > model.green_at
        || model.green_at > 100.0
    {
        problems.at(
            &["health", "green_at"],
            format!(
                "bands need 0 <= yellow_at ({}) <= green_at ({}) <= 100",
                model.yellow_at, model.green_at
            ),
        );
    }
    if model.components.is_empty() {
        problems.at(&at, "the health model has no [[health.components]]");
    }
    let mut names = std::collections::BTreeSet::new();
    for component in &model.components {
        let name = &component.name;
        let where_ = &component.metric;
        if !is_identifier(name) {
            problems.at_text(
                where_,
                format!("component name `{name}` must be lower case letters, digits and `_`"),
            );
        }
        if !names.insert(name.as_str()) {
            problems.at_text(where_, format!("component `{name}` is defined twice"));
        }
        if component.weight < 0.0 {
            problems.at_text(where_, format!("component `{name}` has a negative weight"));
        }
        match component.scale.as_str() {
            "linear" => match (component.bad, component.good) {
                (Some(bad), Some(good)) if bad != good => {}
                _ => problems.at_text(
                    where_,
                    format!("component `{name}`: a linear scale needs `bad` and `good`, different from each other"),
                ),
            },
            "points" => {
                let ok = component.points.as_ref().is_some_and(|points| {
                    !points.is_empty()
                        && points.windows(2).all(|w| w[0][0] < w[1][0])
                        && points.iter().all(|p| (0.0..=100.0).contains(&p[1]))
                });
                if !ok {
                    problems.at_text(
                        where_,
                        format!("component `{name}`: `points` must list [threshold, points 0–100] pairs in increasing threshold"),
                    );
                }
            }
            "percentile" => {}
            other => problems.at_text(
                where_,
                format!("component `{name}`: scale `{other}` is not one of linear, points, percentile"),
            ),
        }
    }
    for rule in &model.overrides {
        if let Some(stage) = &rule.lifecycle_stage
            && !LIFECYCLE_STAGES.contains(&stage.as_str())
        {
            problems.at(
                &["health", "overrides"],
                format!(
                    "override lifecycle_stage `{stage}` is not one of {}",
                    LIFECYCLE_STAGES.join(", ")
                ),
            );
        }
        for (component, weight) in &rule.weights {
            if !names.contains(component.as_str()) {
                problems.at(
                    &["health", "overrides"],
                    format!("override names unknown component `{component}`"),
                );
            }
            if *weight < 0.0 {
                problems.at(
                    &["health", "overrides"],
                    format!("override weight of `{component}` is negative"),
                );
            }
        }
    }
}

fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An array of tables (`[[key]]`), each element deserialized on its own.
fn deserialize_list<T: DeserializeOwned>(
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

fn check_source_set(sources: &[Source], problems: &mut Problems) {
    for kind in SourceKind::ALL {
        let of_kind: Vec<&Source> = sources.iter().filter(|s| s.kind == kind).collect();
        if of_kind.len() > 1 {
            let names: Vec<&str> = of_kind.iter().map(|s| s.name.as_str()).collect();
            problems.at(
                &["sources", &of_kind[1].name],
                format!(
                    "sources {} are all of kind `{kind}`; one source per kind is supported, \
                     widen one glob to cover every file instead",
                    names.join(", ")
                ),
            );
        }
    }
    if !sources.is_empty() && !sources.iter().any(|s| s.kind == SourceKind::Handoffs) {
        problems.at(
            &["sources"],
            "no source of kind `handoffs`: contracts come from the handoffs; add one",
        );
    }
}

fn validate_source(
    name: &str,
    value: &toml::Value,
    data_root: &Path,
    problems: &mut Problems,
) -> Option<Source> {
    let at = ["sources", name];
    let section: SourceSection = deserialize_all(value, &at, problems)?;
    let kind_names: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
    let Some(kind) = SourceKind::parse(&section.kind) else {
        problems.at(
            &["sources", name, "kind"],
            format!(
                "unknown kind `{}` for source `{name}`{}; kinds are {}",
                section.kind,
                suggest(&section.kind, &kind_names),
                kind_names.join(", ")
            ),
        );
        // What does not depend on the kind is still checked: the format and the glob.
        let format = source_format(name, &section, problems).ok()?;
        if let Err(message) = resolve_files(&location(&section, data_root), data_root, format) {
            problems.at(&["sources", name, "path"], message);
        }
        return None;
    };
    let mut ok = true;
    let mut columns = BTreeMap::new();
    let field_names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
    for (field, column) in &section.columns {
        match kind.field(field) {
            None => {
                ok = false;
                problems.at(
                    &["sources", name, "columns", field],
                    format!(
                        "`{field}` is not a field of {kind}{}; fields are {}",
                        suggest(field, &field_names),
                        field_names.join(", ")
                    ),
                );
            }
            Some(f) if f.required && column.trim().is_empty() => {
                ok = false;
                problems.at(
                    &["sources", name, "columns", field],
                    format!(
                        "required field `{field}` of {kind} is mapped to nothing; \
                         set it to the column that holds it"
                    ),
                );
            }
            Some(_) => {
                let column = Some(column.trim().to_string()).filter(|c| !c.is_empty());
                columns.insert(field.clone(), column);
            }
        }
    }
    if kind == SourceKind::Handoffs
        && ["mrr", "arr"]
            .iter()
            .all(|f| columns.get(*f).is_some_and(|c| c.is_none()))
    {
        ok = false;
        problems.at(
            &["sources", name, "columns"],
            "handoffs need `mrr` or `arr`; map at least one of them to a column",
        );
    }
    if !(0.0..=1.0).contains(&section.max_bad_ratio) {
        ok = false;
        problems.at(
            &["sources", name, "max_bad_ratio"],
            format!(
                "max_bad_ratio {} is outside 0–1; use a share such as 0.01",
                section.max_bad_ratio
            ),
        );
    }
    let mut note_aliases = default_note_aliases();
    if !section.note_aliases.is_empty() && kind != SourceKind::Handoffs {
        ok = false;
        problems.at(
            &["sources", name, "note_aliases"],
            "note_aliases apply to handoffs sources only; remove it",
        );
    }
    for (field, keys) in &section.note_aliases {
        if NOTE_FIELDS.contains(&field.as_str()) {
            let aliases = note_aliases.entry(field.clone()).or_default();
            aliases.extend(keys.iter().map(|k| k.trim().to_lowercase()));
        } else {
            ok = false;
            problems.at(
                &["sources", name, "note_aliases", field],
                format!(
                    "`{field}` cannot come from notes{}; note fields are {}",
                    suggest(field, &NOTE_FIELDS),
                    NOTE_FIELDS.join(", ")
                ),
            );
        }
    }
    let Ok(format) = source_format(name, &section, problems) else {
        return None;
    };
    let location = location(&section, data_root);
    let files = match resolve_files(&location, data_root, format) {
        Ok(files) => files,
        Err(message) => {
            problems.at(&["sources", name, "path"], message);
            return None;
        }
    };
    let source = Source {
        name: name.to_string(),
        kind,
        path: location,
        format,
        files,
        max_bad_rows: section.max_bad_rows,
        max_bad_ratio: section.max_bad_ratio,
        columns,
        note_aliases,
    };
    for problem in check_csv_headers(&source) {
        ok = false;
        problems.at(&["sources", name, "columns"], problem);
    }
    ok.then_some(source)
}

/// The format a source's `format` names, if any; `Err` when it names none we read.
fn source_format(
    name: &str,
    section: &SourceSection,
    problems: &mut Problems,
) -> std::result::Result<Option<Format>, ()> {
    match section.format.as_deref().map(Format::parse) {
        Some(None) => {
            problems.at(
                &["sources", name, "format"],
                format!(
                    "unknown format `{}`; use csv, ndjson or parquet, or leave it out to \
                     detect it from the extension",
                    section.format.as_deref().unwrap_or_default()
                ),
            );
            Err(())
        }
        Some(Some(f)) => Ok(Some(f)),
        None => Ok(None),
    }
}

/// A source's glob, under `data_root` when that is an object-store URL and the glob is
/// relative.
fn location(section: &SourceSection, data_root: &Path) -> String {
    match data_root.to_str() {
        Some(root)
            if crate::warehouse::is_url(root)
                && !crate::warehouse::is_url(&section.path)
                && !Path::new(&section.path).is_absolute() =>
        {
            format!("{}/{}", root.trim_end_matches('/'), section.path)
        }
        _ => section.path.clone(),
    }
}

/// Expands a source glob into files in path order, each with its format.
fn resolve_files(
    pattern: &str,
    data_root: &Path,
    format: Option<Format>,
) -> std::result::Result<Vec<SourceFile>, String> {
    if crate::warehouse::is_url(pattern) {
        // Objects are listed when ingest runs (see `ingest::remote`).
        return url::Url::parse(pattern)
            .map(|_| Vec::new())
            .map_err(|e| format!("`{pattern}` is not a valid URL: {e}"));
    }
    let local = pattern.strip_prefix("file://").unwrap_or(pattern);
    let full = if Path::new(local).is_absolute() {
        PathBuf::from(local)
    } else {
        data_root.join(local)
    };
    let full_text = full.to_string_lossy().to_string();
    let paths =
        glob::glob(&full_text).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| format!("cannot list `{pattern}`: {e}"))?;
        if !path.is_file() {
            continue;
        }
        let file = SourceFile::new(path, format).map_err(|e| e.to_string())?;
        files.push(file);
    }
    if files.is_empty() {
        return Err(format!(
            "no file matches `{pattern}` (looked for `{full_text}`); check `path` (relative \
             paths start at data_root `{}`, which --data-root overrides)",
            data_root.display()
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A CSV header that lacks the column of a required field fails the file at ingest; say so
/// now, for every file.
fn check_csv_headers(source: &Source) -> Vec<String> {
    let mut problems = Vec::new();
    for file in source.files.iter().filter(|f| f.format == Format::Csv) {
        let header = match file.csv_header() {
            Ok(Some(header)) => header,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let fields: Vec<&str> = source.kind.fields().iter().map(|f| f.name).collect();
        let columns: Vec<Option<String>> = fields
            .iter()
            .map(|f| source.column_for(f, Format::Csv).map(str::to_string))
            .collect();
        let names = header.iter().map(String::as_str);
        if let Some(problem) = repeated_column(&fields, &columns, names, "header") {
            problems.push(format!("{}: {problem}", file.path.display()));
        }
        for field in source.kind.fields().iter().filter(|f| f.required) {
            if let Some(column) = source.column_for(field.name, Format::Csv)
                && !header.iter().any(|h| h == column)
            {
                problems.push(format!(
                    "{}: header has no column `{column}`, which required field `{}` maps to; \
                     set `{} = \"<column>\"` under [sources.{}.columns]",
                    file.path.display(),
                    field.name,
                    field.name,
                    source.name
                ));
            }
        }
    }
    problems
}

/// Deserializes a section, collecting every unknown key rather than stopping at the first.
fn deserialize_all<T: DeserializeOwned>(
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
fn suggest(given: &str, known: &[&str]) -> String {
    use datafusion::common::utils::datafusion_strsim::levenshtein;
    known
        .iter()
        .map(|k| (levenshtein(given, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

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

pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
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
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("3GiB"), Some(3 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("3TB"), None);
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
