//! `[[metrics]]`: behaviour metrics over the product events, and `[calibration]`: how
//! `churnlake calibrate` fits a health model to churn history. Shapes and value checks here;
//! a metric's `where` is checked against the event row a layer up (`marts::expressions`).
//!
//! Every metric is a `customer_daily` column `m_<name>`, point in time for each as-of date
//! (contract §4). Kinds:
//! - over the events of a window of `window_days` ending on the date, of every event or of
//!   those whose `event` is in `events` and/or for which `where` holds: `count` (events),
//!   `distinct_users`, `active_days` (days with at least one), `sum` (of the numeric
//!   `property`), `days_since` (since the latest, within the window; null when none);
//! - from other metrics, declared before: `ratio` (`numerator` / `denominator`), `per_user`
//!   (`metric` per distinct user of any event over its window), `per_seat`, `per_mrr` (per
//!   unit of MRR in the reporting currency) and `change` (`metric`'s daily rate over its
//!   window divided by its daily rate over the `earlier_days` before it).
//!
//! A denominator of 0 gives null. `scale_to_tenure` scales a `count`, `sum` or `active_days`
//! of an account younger than the window to the whole window: × window / days of tenure.

use super::Problems;
use super::sections::{deserialize_all, deserialize_list};
use serde::Deserialize;

/// One `[[metrics]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSection {
    name: String,
    kind: String,
    window_days: Option<u32>,
    events: Option<Vec<String>>,
    #[serde(rename = "where")]
    condition: Option<String>,
    property: Option<String>,
    numerator: Option<String>,
    denominator: Option<String>,
    metric: Option<String>,
    earlier_days: Option<u32>,
    #[serde(default)]
    scale_to_tenure: bool,
}

/// A validated behaviour metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Lower case, digits and `_`; the column is `m_<name>`.
    pub name: String,
    pub definition: Definition,
}

impl Metric {
    /// The customer_daily column.
    pub fn column(&self) -> String {
        format!("m_{}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// A measure of the account's events over the window ending on the date.
    Events(EventMeasure),
    Ratio {
        numerator: String,
        denominator: String,
    },
    /// A metric divided by something of the account's row.
    Per { metric: String, per: Per },
    /// A metric's daily rate over its window against its daily rate over the
    /// `earlier_days` before the window.
    Change { metric: String, earlier_days: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Distinct users of any event over the metric's window.
    ActiveUser,
    Seat,
    Mrr,
}

/// The events a measure reads and what it measures.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeasure {
    pub measure: Measure,
    pub window_days: u32,
    /// Only events with one of these `event` names (empty: every event).
    pub events: Vec<String>,
    /// Only events for which this SQL boolean holds (over the event's columns).
    pub condition: Option<String>,
    pub scale_to_tenure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    Count,
    DistinctUsers,
    ActiveDays,
    /// Sum of a numeric `properties` field (a dotted path).
    Sum {
        property: String,
    },
    DaysSince,
}

impl Measure {
    /// Whether the measure over two adjoining windows is the sum of the measures over each.
    pub fn is_additive(&self) -> bool {
        matches!(
            self,
            Measure::Count | Measure::ActiveDays | Measure::Sum { .. }
        )
    }
}

pub const METRIC_KINDS: [&str; 10] = [
    "count",
    "distinct_users",
    "active_days",
    "sum",
    "days_since",
    "ratio",
    "per_user",
    "per_seat",
    "per_mrr",
    "change",
];

/// The longest window a metric may take, in days.
pub const MAX_WINDOW_DAYS: u32 = 366;

/// Reads and checks `[[metrics]]`: each problem is reported, and the metrics that validate
/// are kept (a later metric naming a broken one is reported too).
pub(super) fn validate_metrics(table: &toml::Table, problems: &mut Problems) -> Vec<Metric> {
    let sections: Vec<MetricSection> = deserialize_list(table, "metrics", problems);
    let mut metrics: Vec<Metric> = Vec::new();
    for section in sections {
        let name = section.name.clone();
        let mut problem = |message: String| problems.at_text(&format!("\"{name}\""), message);
        if !super::analytics::is_identifier(&name) {
            problem(format!(
                "metric name `{name}` must be lower case letters, digits and `_`"
            ));
            continue;
        }
        if metrics.iter().any(|m| m.name == name) {
            problem(format!("metric `{name}` is defined twice"));
            continue;
        }
        match definition(&section, &metrics) {
            Ok(definition) => metrics.push(Metric { name, definition }),
            Err(why) => problem(format!("metric `{name}`: {why}")),
        }
    }
    metrics
}

/// The keys each kind takes besides `name` and `kind`.
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "count" | "active_days" => &["window_days", "events", "where", "scale_to_tenure"],
        "sum" => &[
            "window_days",
            "events",
            "where",
            "property",
            "scale_to_tenure",
        ],
        "distinct_users" | "days_since" => &["window_days", "events", "where"],
        "ratio" => &["numerator", "denominator"],
        "change" => &["metric", "earlier_days"],
        _ => &["metric"],
    }
}

fn given_keys(section: &MetricSection) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut given = |present: bool, key: &'static str| {
        if present {
            keys.push(key);
        }
    };
    given(section.window_days.is_some(), "window_days");
    given(section.events.is_some(), "events");
    given(section.condition.is_some(), "where");
    given(section.property.is_some(), "property");
    given(section.numerator.is_some(), "numerator");
    given(section.denominator.is_some(), "denominator");
    given(section.metric.is_some(), "metric");
    given(section.earlier_days.is_some(), "earlier_days");
    given(section.scale_to_tenure, "scale_to_tenure");
    keys
}

fn definition(section: &MetricSection, earlier: &[Metric]) -> Result<Definition, String> {
    let kind = section.kind.as_str();
    if !METRIC_KINDS.contains(&kind) {
        return Err(format!(
            "kind `{kind}` is not one of {}",
            METRIC_KINDS.join(", ")
        ));
    }
    let allowed = allowed_keys(kind);
    if let Some(extra) = given_keys(section)
        .into_iter()
        .find(|k| !allowed.contains(k))
    {
        return Err(format!(
            "a `{kind}` metric takes no `{extra}`; it takes {}",
            allowed.join(", ")
        ));
    }
    let declared = |name: &Option<String>, key: &str| -> Result<&Metric, String> {
        let Some(name) = name else {
            return Err(format!("a `{kind}` metric needs `{key}`"));
        };
        earlier.iter().find(|m| &m.name == name).ok_or_else(|| {
            format!("`{key}` names `{name}`, which is not a metric declared before this one")
        })
    };
    let measure = match kind {
        "count" => Measure::Count,
        "distinct_users" => Measure::DistinctUsers,
        "active_days" => Measure::ActiveDays,
        "days_since" => Measure::DaysSince,
        "sum" => {
            let property = section
                .property
                .clone()
                .ok_or("a `sum` metric needs `property`, the numeric properties field")?;
            if property.is_empty() || property.split('.').any(str::is_empty) {
                return Err(format!("property `{property}` is not a dotted field path"));
            }
            Measure::Sum { property }
        }
        "ratio" => {
            let numerator = declared(&section.numerator, "numerator")?.name.clone();
            let denominator = declared(&section.denominator, "denominator")?.name.clone();
            return Ok(Definition::Ratio {
                numerator,
                denominator,
            });
        }
        "change" => {
            let of = declared(&section.metric, "metric")?;
            let Definition::Events(base) = &of.definition else {
                return Err(format!(
                    "`change` needs a metric over events; `{}` is not one",
                    of.name
                ));
            };
            if !base.measure.is_additive() {
                return Err(format!(
                    "`change` needs a count, active_days or sum metric; `{}` is not one",
                    of.name
                ));
            }
            let earlier_days = section.earlier_days.unwrap_or(base.window_days);
            if earlier_days == 0 || base.window_days + earlier_days > MAX_WINDOW_DAYS {
                return Err(format!(
                    "earlier_days {earlier_days} must be at least 1, and with the window at \
                     most {MAX_WINDOW_DAYS} days"
                ));
            }
            return Ok(Definition::Change {
                metric: of.name.clone(),
                earlier_days,
            });
        }
        _ => {
            let of = declared(&section.metric, "metric")?;
            let per = match kind {
                "per_user" => Per::ActiveUser,
                "per_seat" => Per::Seat,
                _ => Per::Mrr,
            };
            if per == Per::ActiveUser && !matches!(of.definition, Definition::Events(_)) {
                return Err(format!(
                    "`per_user` needs a metric over events (its window gives the users); `{}` is not one",
                    of.name
                ));
            }
            return Ok(Definition::Per {
                metric: of.name.clone(),
                per,
            });
        }
    };
    let default_window = if measure == Measure::DaysSince {
        90
    } else {
        30
    };
    let window_days = section.window_days.unwrap_or(default_window);
    if !(1..=MAX_WINDOW_DAYS).contains(&window_days) {
        return Err(format!(
            "window_days {window_days} is outside 1–{MAX_WINDOW_DAYS}"
        ));
    }
    let events = section.events.clone().unwrap_or_default();
    if section.events.is_some() && events.is_empty() {
        return Err("`events` is empty; leave it out to count every event".into());
    }
    Ok(Definition::Events(EventMeasure {
        measure,
        window_days,
        events,
        condition: section.condition.clone(),
        scale_to_tenure: section.scale_to_tenure,
    }))
}

/// `[calibration]`: what `churnlake calibrate` observes and fits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Only accounts at least this many days past their first start are observed.
    #[serde(default = "default_min_tenure_days")]
    pub min_tenure_days: u32,
    /// Metric names (`m_<name>` or `<name>`), health component names or numeric
    /// customer_daily columns; empty: every component of the current model.
    #[serde(default)]
    pub features: Vec<String>,
    /// Observe every Nth month start in the range (1: every month).
    #[serde(default = "default_observation_months")]
    pub observation_months: u32,
    /// The share of observation dates, the latest, held out to test the model.
    #[serde(default = "default_test_share")]
    pub test_share: f64,
    /// The L2 penalties tried (λ of ½λ‖β‖², over standardised features); the one with the
    /// lowest log loss on the later training dates is kept.
    #[serde(default = "default_penalties")]
    pub penalties: Vec<f64>,
    /// A feature of non-negative values whose skewness exceeds this is log-scaled.
    #[serde(default = "default_skew_threshold")]
    pub skew_threshold: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            min_tenure_days: default_min_tenure_days(),
            features: Vec::new(),
            observation_months: default_observation_months(),
            test_share: default_test_share(),
            penalties: default_penalties(),
            skew_threshold: default_skew_threshold(),
        }
    }
}

fn default_min_tenure_days() -> u32 {
    30
}
fn default_observation_months() -> u32 {
    1
}
fn default_test_share() -> f64 {
    0.3
}
fn default_penalties() -> Vec<f64> {
    vec![0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
}
fn default_skew_threshold() -> f64 {
    4.0
}

pub(super) fn validate_calibration(table: &toml::Table, problems: &mut Problems) -> Calibration {
    let Some(value) = table.get("calibration") else {
        return Calibration::default();
    };
    let calibration: Calibration =
        deserialize_all(value, &["calibration"], problems).unwrap_or_default();
    if calibration.observation_months == 0 {
        problems.at(
            &["calibration", "observation_months"],
            "observation_months must be at least 1",
        );
    }
    if !(calibration.test_share > 0.0 && calibration.test_share < 1.0) {
        problems.at(
            &["calibration", "test_share"],
            format!(
                "test_share {} must be between 0 and 1 (exclusive)",
                calibration.test_share
            ),
        );
    }
    if calibration.penalties.is_empty()
        || calibration
            .penalties
            .iter()
            .any(|p| !p.is_finite() || *p < 0.0)
    {
        problems.at(
            &["calibration", "penalties"],
            "penalties must list at least one non-negative number",
        );
    }
    calibration
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(text: &str) -> (Vec<Metric>, Vec<String>) {
        let table: toml::Table = text.parse().expect("TOML");
        let mut problems = Problems::new(Path::new("p.toml"), text);
        let metrics = validate_metrics(&table, &mut problems);
        (metrics, problems.list.into_iter().map(|(_, m)| m).collect())
    }

    #[test]
    fn metrics_are_read_with_their_defaults() {
        let (metrics, problems) = read(
            r#"
[[metrics]]
name = "posts"
kind = "count"
events = ["post"]
scale_to_tenure = true

[[metrics]]
name = "last_login"
kind = "days_since"
events = ["login"]

[[metrics]]
name = "posts_per_user"
kind = "per_user"
metric = "posts"

[[metrics]]
name = "posts_change"
kind = "change"
metric = "posts"
"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let Definition::Events(posts) = &metrics[0].definition else {
            panic!("an event metric")
        };
        assert_eq!(
            (
                posts.window_days,
                posts.events.clone(),
                posts.scale_to_tenure
            ),
            (30, vec!["post".to_string()], true)
        );
        let Definition::Events(login) = &metrics[1].definition else {
            panic!("an event metric")
        };
        assert_eq!(
            (login.measure.clone(), login.window_days),
            (Measure::DaysSince, 90)
        );
        assert_eq!(
            metrics[3].definition,
            Definition::Change {
                metric: "posts".into(),
                earlier_days: 30
            }
        );
        assert_eq!(metrics[2].column(), "m_posts_per_user");
    }

    #[test]
    fn each_wrong_metric_is_reported_at_its_name() {
        let (metrics, problems) = read(
            r#"
[[metrics]]
name = "users"
kind = "distinct_users"

[[metrics]]
name = "Bad"
kind = "count"

[[metrics]]
name = "odd"
kind = "average"

[[metrics]]
name = "users_change"
kind = "change"
metric = "users"

[[metrics]]
name = "later"
kind = "ratio"
numerator = "users"
denominator = "future"

[[metrics]]
name = "wide"
kind = "count"
window_days = 400

[[metrics]]
name = "money"
kind = "sum"

[[metrics]]
name = "users"
kind = "count"

[[metrics]]
name = "scaled"
kind = "days_since"
scale_to_tenure = true
"#,
        );
        assert_eq!(metrics.len(), 1);
        let expected = [
            ":7: metric name `Bad` must be lower case",
            ":11: metric `odd`: kind `average` is not one of count,",
            ":15: metric `users_change`: `change` needs a count, active_days or sum metric",
            ":20: metric `later`: `denominator` names `future`, which is not a metric declared before",
            ":26: metric `wide`: window_days 400 is outside 1–366",
            ":31: metric `money`: a `sum` metric needs `property`",
            ":3: metric `users` is defined twice",
            ":39: metric `scaled`: a `days_since` metric takes no `scale_to_tenure`",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for text in expected {
            assert!(
                problems.iter().any(|p| p.contains(text)),
                "{text} in {problems:#?}"
            );
        }
    }
}
