//! The analytical sections — `[lifecycle]`, `[[maturity]]`, `[[touch]]`, `[health]`,
//! `[[playbook]]`, `[retention]` — checked for shape and values. Their SQL expressions are
//! checked against the marts' columns a layer up (`marts::expression_problems`).

use super::Problems;
use super::model::{HealthModel, Lifecycle, MaturityRule, PlaybookRule, Retention, TouchRule};
use super::sections::{deserialize_all, deserialize_list};

/// The analytical sections, checked for shape; their SQL is checked by `marts::expressions`.
pub(super) struct Analytics {
    pub(super) lifecycle: Lifecycle,
    pub(super) maturity: Vec<MaturityRule>,
    pub(super) touch: Vec<TouchRule>,
    pub(super) health: Option<HealthModel>,
    pub(super) playbook: Vec<PlaybookRule>,
    pub(super) retention: Retention,
}

pub(super) fn validate_analytics(table: &toml::Table, problems: &mut Problems) -> Analytics {
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
    match model.kind.as_str() {
        "weighted" => {}
        "logistic" => check_logistic(model, problems),
        other => problems.at(
            &["health", "kind"],
            format!("kind `{other}` is not one of weighted, logistic"),
        ),
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
        if model.is_logistic() {
            check_logistic_component(component, problems);
            continue;
        }
        match component.weight {
            None => problems.at_text(where_, format!("component `{name}` has no `weight`")),
            Some(weight) if weight < 0.0 => {
                problems.at_text(where_, format!("component `{name}` has a negative weight"))
            }
            Some(_) => {}
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
            "" => problems.at_text(
                where_,
                format!("component `{name}` has no `scale` (linear, points or percentile)"),
            ),
            other => problems.at_text(
                where_,
                format!("component `{name}`: scale `{other}` is not one of linear, points, percentile"),
            ),
        }
        let logistic_keys = [
            ("transform", component.transform.is_some()),
            ("mean", component.mean.is_some()),
            ("std", component.std.is_some()),
            ("fill", component.fill.is_some()),
            ("coefficient", component.coefficient.is_some()),
        ];
        if let Some((key, _)) = logistic_keys.iter().find(|(_, given)| *given) {
            problems.at_text(
                where_,
                format!("component `{name}`: `{key}` belongs to a logistic model; this one is weighted (add kind = \"logistic\" to [health])"),
            );
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

/// A logistic model's own keys: what `churnlake calibrate` writes.
fn check_logistic(model: &HealthModel, problems: &mut Problems) {
    if !model.intercept.is_some_and(f64::is_finite) {
        problems.at(
            &["health", "kind"],
            "a logistic model needs `intercept` (the log-odds of churn at the mean)",
        );
    }
    if !model.base_rate.is_some_and(|p| p > 0.0 && p < 1.0) {
        problems.at(
            &["health", "kind"],
            "a logistic model needs `base_rate` between 0 and 1 (the churn rate scoring 50)",
        );
    }
    if !(model.points_per_doubling > 0.0 && model.points_per_doubling.is_finite()) {
        problems.at(
            &["health", "points_per_doubling"],
            "points_per_doubling must be above 0",
        );
    }
    if !model.overrides.is_empty() {
        problems.at(
            &["health", "overrides"],
            "a logistic model takes no [[health.overrides]]: its coefficients are fitted",
        );
    }
}

fn check_logistic_component(component: &crate::config::Component, problems: &mut Problems) {
    let (name, where_) = (&component.name, &component.metric);
    match component.transform.as_deref() {
        None | Some("none") | Some("log") => {}
        Some(other) => problems.at_text(
            where_,
            format!("component `{name}`: transform `{other}` is not one of none, log"),
        ),
    }
    let finite = |value: Option<f64>| value.is_some_and(f64::is_finite);
    if !finite(component.mean) || !finite(component.coefficient) {
        problems.at_text(
            where_,
            format!("component `{name}` of a logistic model needs `mean` and `coefficient`"),
        );
    }
    if !component.std.is_some_and(|s| s > 0.0 && s.is_finite()) {
        problems.at_text(
            where_,
            format!("component `{name}` of a logistic model needs `std` above 0"),
        );
    }
    if component.fill.is_some_and(|f| !f.is_finite()) {
        problems.at_text(
            where_,
            format!("component `{name}`: `fill` is not a number"),
        );
    }
    if !component.scale.is_empty() || component.weight.is_some() {
        problems.at_text(
            where_,
            format!("component `{name}`: a logistic model's components take no `scale` or `weight` (the coefficient weighs them)"),
        );
    }
}

pub(super) fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
