-- retention_forecast: one row per projected month after the last complete one.
-- From the trailing ${trailing_months} complete months (all accounts): the mean new MRR per
-- month (new + reactivation), and the mean expansion, contraction and churn rates (amount /
-- mrr_start). MRR then follows mrr_t = mrr_{t-1} × g + new with g = 1 + expansion −
-- contraction − churn, in closed form. `churn_exceeds_new` marks months whose projected
-- churned MRR is above the new MRR; `growth_ceiling_month` the first of them: the month from
-- which a fixed churn rate caps growth.
with history as (
    select *
    from retention_monthly_all
    where segment = 'all'
    order by month desc
    limit ${trailing_months}
),

trailing as (
    select
        max(month) as last_month,
        avg(cast(new_mrr + reactivation_mrr as double)) as new_mrr,
        avg(cast(expansion_mrr as double) / nullif(cast(mrr_start as double), 0)) as expansion_rate,
        avg(cast(contraction_mrr as double) / nullif(cast(mrr_start as double), 0)) as contraction_rate,
        avg(cast(churned_mrr as double) / nullif(cast(mrr_start as double), 0)) as churn_rate,
        count(*) as months_used
    from history
),

start as (
    select
        trailing.*,
        cast(last.mrr_end as double) as mrr_0,
        -- Months since year 0, so that adding steps never needs interval arithmetic.
        cast(date_part('year', trailing.last_month) as bigint) * 12
            + cast(date_part('month', trailing.last_month) as bigint) - 1 as month_index,
        1.0 + coalesce(expansion_rate, 0) - coalesce(contraction_rate, 0) - coalesce(churn_rate, 0) as growth
    from trailing
    join history as last on last.month = trailing.last_month
),

steps as (
    select unnest(generate_series(1, ${forecast_months})) as step
),

projected as (
    select
        steps.step,
        make_date(
            cast((start.month_index + steps.step) / 12 as int),
            cast((start.month_index + steps.step) % 12 + 1 as int),
            1
        ) as month,
        start.new_mrr,
        start.expansion_rate,
        start.contraction_rate,
        start.churn_rate,
        start.months_used,
        case
            when start.growth = 1.0 then start.mrr_0 + start.new_mrr * (steps.step - 1)
            else start.mrr_0 * power(start.growth, steps.step - 1)
                + start.new_mrr * (1.0 - power(start.growth, steps.step - 1)) / (1.0 - start.growth)
        end as mrr_start
    from start
    cross join steps
),

flows as (
    select
        *,
        mrr_start * coalesce(expansion_rate, 0) as expansion_mrr,
        mrr_start * coalesce(contraction_rate, 0) as contraction_mrr,
        mrr_start * coalesce(churn_rate, 0) as churned_mrr
    from projected
),

final as (
    select
        cast(mrr_start as decimal(38, 6)) as mrr_start,
        cast(new_mrr as decimal(38, 6)) as new_mrr,
        cast(expansion_mrr as decimal(38, 6)) as expansion_mrr,
        cast(contraction_mrr as decimal(38, 6)) as contraction_mrr,
        cast(churned_mrr as decimal(38, 6)) as churned_mrr,
        cast(mrr_start + new_mrr + expansion_mrr - contraction_mrr - churned_mrr as decimal(38, 6)) as mrr_end,
        expansion_rate,
        contraction_rate,
        churn_rate,
        months_used as trailing_months,
        churned_mrr > new_mrr as churn_exceeds_new,
        coalesce(
            step = min(case when churned_mrr > new_mrr then step end) over (),
            false
        ) as growth_ceiling_month,
        month
    from flows
)

select * from final order by month
