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
    let components = &model.components;
    let list = |f: &dyn Fn(&Component) -> String| -> String {
        components
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .join(",\n        ")
    };
    let sum = |f: &dyn Fn(&Component) -> String| -> String {
        components.iter().map(f).collect::<Vec<_>>().join(" + ")
    };
    let measured = list(&|c| format!("cast(({}) as double) as {}_raw", c.metric, c.name));
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
        "-- health_scored: every customer_daily row with its components and score.
-- Generated from [health] `{name}` v{version} of the pipeline file.
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

normalized as (
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
        case when total_weight > 0 then round({score}, 2) end as score
    from contributed
)

select * from scored
",
        name = model.name.replace('\'', "''"),
        version = model.version,
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
            format!(
                "'{n}', (100.0 - {v}) * {n}_weight / nullif(total_weight, 0), cast({n} as double)",
                v = value(c),
                n = c.name
            )
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
        format!("{:?}", c.weight)
    } else {
        format!("case {} else {:?} end", arms.join(" "), c.weight)
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
