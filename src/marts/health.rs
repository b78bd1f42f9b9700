//! The health model compiled into SQL: from `customer_daily` rows to `health_scores`.
//!
//! Each component becomes columns `<name>_raw` (the metric), `<name>` (normalized 0–100),
//! `<name>_weight` (after overrides and the missing-value policy) and `<name>_contribution`
//! (points it adds to the score); the score is their sum. `reasons` lists the largest
//! shortfalls, `(100 − normalized) × weight share`: the points a component costs. The
//! generated query is a CTE chain like the models in `sql/`; nothing else happens here.

use crate::config::{Component, HealthModel};

/// The query scoring every row of `customer_daily_all`: each component's raw, normalized,
/// weight and contribution columns, and the score. A build writes it once as
/// `health_scored`, which [`health_sql`] reads three ways (reasons, the scores 7 and 30 days
/// before, the row itself); as one query, each way planned the scoring again.
pub fn scored_sql(model: &HealthModel) -> String {
    if model.is_logistic() {
        return logistic_scored_sql(model);
    }
    let components = &model.components;
    let list = |f: &dyn Fn(&Component) -> String| column_list(components, f);
    let sum = |f: &dyn Fn(&Component) -> String| -> String {
        components.iter().map(f).collect::<Vec<_>>().join(" + ")
    };
    let head = scored_head(model);
    let normalized = list(&|c| format!("{} as {}", scale_sql(c), c.name));
    let weighted = list(&|c| format!("{} as {}_weight", weight_sql(model, c), c.name));
    let value = |c: &Component| missing_value(model, c);
    let total_weight = sum(&|c| format!("{}_weight", c.name));
    let contributions = list(&|c| {
        format!(
            "coalesce({v} * {n}_weight / nullif(total_weight, 0), 0.0) as {n}_contribution",
            v = value(c),
            n = c.name
        )
    });
    let score = sum(&|c| format!("{}_contribution", c.name));
    format!(
        "{head}normalized as (
    select
        *,
        {normalized}
    from measured
),

weighted as (
    select
        *,
        {weighted}
    from normalized
),

totalled as (
    select *, {total_weight} as total_weight
    from weighted
),

contributed as (
    select
        *,
        {contributions}
    from totalled
),

scored as (
    select
        *,
        case when total_weight > 0 then round({score}, 2) end as score,
        cast(null as double) as churn_probability
    from contributed
)

select * from scored
"
    )
}

/// The query producing `health_scores` for every date scored in `health_scored`
/// ([`scored_sql`]); the scores 7 and 30 days before come from those dates or from
/// `prior_health`, and `reasons` from `health_reasons` (src/marts/reasons.rs).
pub fn health_sql(model: &HealthModel) -> String {
    let components = &model.components;
    let value = |c: &Component| missing_value(model, c);
    let reasons = components
        .iter()
        .map(|c| {
            let shortfall = if model.is_logistic() {
                format!(
                    "greatest(0.0, {:?} * {}_push)",
                    points_per_log_odds(model),
                    c.name
                )
            } else {
                format!(
                    "(100.0 - {v}) * {n}_weight / nullif(total_weight, 0)",
                    v = value(c),
                    n = c.name
                )
            };
            format!("'{n}', {shortfall}, cast({n} as double)", n = c.name)
        })
        .collect::<Vec<_>>()
        .join(",\n            ");
    let outputs = components
        .iter()
        .map(|c| {
            format!(
                "scored.{n}, scored.{n}_raw, scored.{n}_weight, scored.{n}_contribution",
                n = c.name
            )
        })
        .collect::<Vec<_>>()
        .join(",\n        ");
    format!(
        "-- health_scores: one row per account per as_of_date, from the scored customer_daily rows.
-- Generated from [health] `{name}` v{version} of the pipeline file.
with scored as (
    select * from health_scored
),

-- Scores of earlier dates: computed here, or published by an earlier build whose inputs
-- are unchanged (`prior_health`, never a date computed here).
past as (
    select account_id, cast(as_of_date as int) as day, score from scored
    union all
    select account_id, cast(as_of_date as int) as day, score from prior_health
),

-- The scores 7 and 30 days before each row, found on the keys alone: the scored rows, wide
-- with every component, are joined once.
earlier as (
    select
        keys.account_id,
        keys.as_of_date,
        week_ago.score as score_7d_ago,
        month_ago.score as score_30d_ago
    from (select account_id, as_of_date, cast(as_of_date as int) as day from scored) as keys
    left join past as week_ago
        on week_ago.account_id = keys.account_id
        and week_ago.day = keys.day - 7
    left join past as month_ago
        on month_ago.account_id = keys.account_id
        and month_ago.day = keys.day - 30
),

history as (
    select scored.*, earlier.score_7d_ago, earlier.score_30d_ago
    from earlier
    join scored
        on scored.account_id = earlier.account_id
        and scored.as_of_date = earlier.as_of_date
),

final as (
    select
        scored.account_id,
        '{name}' as model_name,
        {version} as model_version,
        scored.score,
        case
            when scored.score is null then null
            when scored.score >= {green} then 'green'
            when scored.score >= {yellow} then 'yellow'
            else 'red'
        end as band,
        scored.churn_probability,
        {outputs},
        scored.score_7d_ago,
        scored.score_30d_ago,
        round(scored.score - scored.score_7d_ago, 2) as delta_7d,
        round(scored.score - scored.score_30d_ago, 2) as delta_30d,
        case
            when scored.score - scored.score_30d_ago >= {trend} then 'up'
            when scored.score - scored.score_30d_ago <= -{trend} then 'down'
            else 'flat'
        end as trend,
        -- The largest shortfalls, `(100 - normalized) x weight share`, of 0.5 points or more.
        health_reasons(
            {reason_count}, 0.5,
            {reasons}
        ) as reasons,
        scored.as_of_date
    from history as scored
)

select * from final
",
        name = model.name.replace('\'', "''"),
        version = model.version,
        reason_count = model.reasons,
        green = model.green_at,
        yellow = model.yellow_at,
        trend = model.trend_threshold,
    )
}

/// One SQL select item per component, each on its own line of a CTE's select list.
fn column_list(components: &[Component], item: &dyn Fn(&Component) -> String) -> String {
    components
        .iter()
        .map(item)
        .collect::<Vec<_>>()
        .join(",\n        ")
}

/// The start of `health_scored`: its header and the raw value of every component.
fn scored_head(model: &HealthModel) -> String {
    let measured = column_list(&model.components, &|c| {
        format!("cast(({}) as double) as {}_raw", c.metric, c.name)
    });
    format!(
        "-- health_scored: every customer_daily row with its components and score.
-- Generated from [health] `{name}` v{version} (kind {kind}) of the pipeline file.
with customer as (
    select * from customer_daily_all
),

measured as (
    select
        account_id,
        as_of_date,
        segment,
        lifecycle_stage,
        {measured}
    from customer
),

",
        name = model.name.replace('\'', "''"),
        version = model.version,
        kind = model.kind,
    )
}

/// Score points per unit of log-odds of churn: `points_per_doubling` per ln 2.
fn points_per_log_odds(model: &HealthModel) -> f64 {
    model.points_per_doubling / std::f64::consts::LN_2
}

/// The scoring of a `logistic` model (written by `churnlake calibrate`, contract §6).
///
/// Each component's raw metric is prepared as in training (`learn::transform`): a missing
/// or non-finite value takes `fill`, `log` takes ln(1 + max(x, 0)), then z = (x − mean) / std.
/// Its push on the log-odds of churn is coefficient × z, and the log-odds are the intercept
/// plus the pushes: churn_probability = 1 / (1 + e^−log-odds). The score is
/// 50 − k (log-odds − logit(base_rate)), k = points_per_doubling / ln 2, clamped to 0–100:
/// 50 at the training churn rate, `points_per_doubling` fewer per doubling of the odds.
///
/// A component's weight is its share of Σ|coefficient| (×100); its normalized value is
/// 50 − k × push, clamped (what it alone would score); its contribution is its weight share
/// of the intercept's points plus −k × push, plus its weight share of what the clamp took
/// off, so that the contributions add up to the score. Its shortfall in `reasons` is the
/// points its push costs, k × push when positive.
fn logistic_scored_sql(model: &HealthModel) -> String {
    let components = &model.components;
    let k = points_per_log_odds(model);
    let base_rate = model.base_rate.unwrap_or(0.5);
    let base_logit = (base_rate / (1.0 - base_rate)).ln();
    let intercept = model.intercept.unwrap_or(0.0);
    let total: f64 = components
        .iter()
        .map(|c| c.coefficient.unwrap_or(0.0).abs())
        .sum();
    let share = |c: &Component| {
        if total > 0.0 {
            c.coefficient.unwrap_or(0.0).abs() / total
        } else {
            1.0 / components.len().max(1) as f64
        }
    };
    let list = |f: &dyn Fn(&Component) -> String| column_list(components, f);
    let head = scored_head(model);
    let standardised = list(&|c| {
        let raw = format!("{}_raw", c.name);
        let mean = c.mean.unwrap_or(0.0);
        let shaped = if c.transform.as_deref() == Some("log") {
            format!("ln(1.0 + greatest({raw}, 0.0))")
        } else {
            raw.clone()
        };
        format!(
            "(case when {raw} is null or not (abs({raw}) < 1e308) then {fill:?} else {shaped} end \
             - {mean:?}) / {std:?} as {n}_z",
            fill = c.fill.unwrap_or(mean),
            std = c.std.unwrap_or(1.0),
            n = c.name
        )
    });
    let pushes = list(&|c| {
        format!(
            "{:?} * {n}_z as {n}_push",
            c.coefficient.unwrap_or(0.0),
            n = c.name
        )
    });
    let log_odds = components
        .iter()
        .map(|c| format!("{}_push", c.name))
        .chain([format!("{intercept:?}")])
        .collect::<Vec<_>>()
        .join(" + ");
    let normalized = list(&|c| {
        format!(
            "greatest(0.0, least(100.0, 50.0 - {k:?} * {n}_push)) as {n},\n        \
             {w:?} as {n}_weight",
            w = share(c) * 100.0,
            n = c.name
        )
    });
    let base_points = 50.0 - k * (intercept - base_logit);
    let contributions = list(&|c| {
        format!(
            "{w:?} * {base_points:?} - {k:?} * {n}_push + {w:?} * (clamped - unclamped) \
             as {n}_contribution",
            w = share(c),
            n = c.name
        )
    });
    format!(
        "{head}standardised as (
    select
        *,
        {standardised}
    from measured
),

pushed as (
    select
        *,
        {pushes}
    from standardised
),

odds as (
    select
        *,
        {log_odds} as log_odds
    from pushed
),

points as (
    select
        *,
        50.0 - {k:?} * (log_odds - {base_logit:?}) as unclamped
    from odds
),

bounded as (
    select
        *,
        greatest(0.0, least(100.0, unclamped)) as clamped,
        1.0 / (1.0 + exp(-log_odds)) as churn_probability,
        100.0 as total_weight
    from points
),

scored as (
    select
        *,
        {normalized},
        {contributions},
        round(clamped, 2) as score
    from bounded
)

select * from scored
"
    )
}

/// A component's normalized value with the missing-value policy applied.
fn missing_value(model: &HealthModel, c: &Component) -> String {
    match model.missing.as_str() {
        "neutral" => format!("coalesce({}, 50.0)", c.name),
        _ => format!("coalesce({}, 0.0)", c.name),
    }
}

/// The normalized 0–100 value of a component's `<name>_raw`.
fn scale_sql(c: &Component) -> String {
    let raw = format!("{}_raw", c.name);
    match c.scale.as_str() {
        "linear" => {
            let (bad, good) = (c.bad.unwrap_or(0.0), c.good.unwrap_or(1.0));
            // greatest/least skip nulls, so a missing value must stay null explicitly.
            format!(
                "case when {raw} is null then null \
                 else greatest(0.0, least(100.0, ({raw} - ({bad})) / (({good}) - ({bad})) * 100.0)) end"
            )
        }
        "points" => {
            let points = c.points.clone().unwrap_or_default();
            let mut arms: Vec<String> = points
                .iter()
                .rev()
                .map(|[threshold, score]| format!("when {raw} >= {threshold} then {score}"))
                .collect();
            let lowest = points.first().map_or(0.0, |p| p[1]);
            arms.push(format!("else {lowest}"));
            format!("case when {raw} is null then null {} end", arms.join(" "))
        }
        _ => {
            let order = if c.lower_is_better { "desc" } else { "asc" };
            let window = format!("partition by as_of_date, segment, {raw} is null");
            format!(
                "case when {raw} is null then null \
                 when count({raw}) over ({window}) = 1 then 50.0 \
                 else percent_rank() over ({window} order by {raw} {order}) * 100.0 end"
            )
        }
    }
}

/// A component's weight after overrides (the last matching override wins) and the
/// missing-value policy (`reweight` drops a missing component's weight).
fn weight_sql(model: &HealthModel, c: &Component) -> String {
    let mut arms = Vec::new();
    for rule in model.overrides.iter().rev() {
        let Some(weight) = rule.weights.get(&c.name) else {
            continue;
        };
        let mut conditions = Vec::new();
        if let Some(stage) = &rule.lifecycle_stage {
            conditions.push(format!("lifecycle_stage = '{}'", stage.replace('\'', "''")));
        }
        if let Some(segment) = &rule.segment {
            conditions.push(format!("segment = '{}'", segment.replace('\'', "''")));
        }
        if conditions.is_empty() {
            conditions.push("true".into());
        }
        arms.push(format!("when {} then {weight}", conditions.join(" and ")));
    }
    let base = if arms.is_empty() {
        format!("{:?}", c.weight())
    } else {
        format!("case {} else {:?} end", arms.join(" "), c.weight())
    };
    if model.missing == "reweight" {
        format!(
            "case when {} is null then 0.0 else cast({base} as double) end",
            c.name
        )
    } else {
        format!("cast({base} as double)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::{score_of, transform::Transform};

    /// A logistic model's scores from its SQL, against the same model computed in Rust the
    /// way calibrate scores it: probability, score and contributions adding up to the score.
    #[tokio::test]
    async fn a_logistic_score_is_its_churn_odds_and_its_contributions_add_up() {
        let model: HealthModel = toml::from_str(
            r#"
name = "fitted"
version = 2
kind = "logistic"
intercept = -2.0
base_rate = 0.1
points_per_doubling = 10

[[components]]
name = "usage"
metric = "events_30d"
transform = "log"
mean = 2.0
std = 1.5
coefficient = -0.8

[[components]]
name = "tickets"
metric = "tickets_30d"
transform = "none"
mean = 1.0
std = 2.0
fill = 3.0
coefficient = 0.5
"#,
        )
        .expect("a model");
        let ctx = crate::engine::session();
        crate::marts::register_functions(&ctx);
        let rows = "select * from (values \
            ('a', date '2026-01-01', 'smb', 'adoption', 0.0, 0.0), \
            ('b', date '2026-01-01', 'smb', 'adoption', 200.0, 1.0), \
            ('c', date '2026-01-01', 'smb', 'adoption', cast(null as double), cast(null as double)), \
            ('d', date '2026-01-01', 'smb', 'adoption', 0.0, 40.0)) \
            as t(account_id, as_of_date, segment, lifecycle_stage, events_30d, tickets_30d)";
        let customer = ctx.sql(rows).await.unwrap();
        ctx.register_table("customer_daily_all", customer.into_view())
            .unwrap();
        let sql = format!(
            "select account_id, churn_probability, score, \
             usage_contribution + tickets_contribution from ({})",
            scored_sql(&model)
        );
        let batches = crate::engine::query(&ctx, &sql).await.unwrap();
        let rows = crate::engine::string_rows(&batches);
        let usage = Transform {
            log: true,
            mean: 2.0,
            std: 1.5,
            fill: 2.0,
            missing: 0,
            skew: 0.0,
        };
        let tickets = Transform {
            log: false,
            mean: 1.0,
            std: 2.0,
            fill: 3.0,
            missing: 0,
            skew: 0.0,
        };
        let inputs = [
            (Some(0.0), Some(0.0)),
            (Some(200.0), Some(1.0)),
            (None, None),
            (Some(0.0), Some(40.0)),
        ];
        for (row, (events, open)) in rows.iter().zip(inputs) {
            let log_odds = -2.0 - 0.8 * usage.apply(events) + 0.5 * tickets.apply(open);
            let probability = 1.0 / (1.0 + (-log_odds).exp());
            let score = score_of(log_odds, 0.1, 10.0);
            let sql_probability: f64 = row[1].parse().unwrap();
            let sql_score: f64 = row[2].parse().unwrap();
            let contributions: f64 = row[3].parse().unwrap();
            assert!((sql_probability - probability).abs() < 1e-12, "{row:?}");
            assert!(
                (sql_score - (score * 100.0).round() / 100.0).abs() < 1e-9,
                "{row:?}"
            );
            assert!((contributions - score).abs() < 1e-9, "{row:?}");
        }
        // d's 40 tickets push it past the clamp: score 0, contributions still add up to it.
        assert_eq!(rows[3][2], "0.0");
    }
}
