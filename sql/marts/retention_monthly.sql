-- retention_monthly: one row per month and segment (segment 'all' = every account): the
-- retention equation mrr_end = mrr_start + new + reactivation + expansion − contraction −
-- churned (exact decimals) and the rates of contract §5, null when their denominator is 0.
with movements as (
    select
        *,
        movement in ('churn', 'expansion', 'contraction', 'flat') as active_start,
        movement in ('new', 'reactivation', 'expansion', 'contraction', 'flat') as active_end
    from mrr_monthly_all
),

-- One pass for both: the (month, segment) groups and the (month) group, labelled `all`.
totals as (
    select
        month,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        count(*) filter (where active_start) as logos_start,
        count(*) filter (where active_end) as logos_end,
        count(*) filter (where movement = 'new') as new_logos,
        count(*) filter (where movement = 'reactivation') as reactivated_logos,
        count(*) filter (where movement = 'churn') as churned_logos,
        sum(mrr_start) as mrr_start,
        sum(new) as new_mrr,
        sum(reactivation) as reactivation_mrr,
        sum(expansion) as expansion_mrr,
        sum(contraction) as contraction_mrr,
        sum(churn) as churned_mrr,
        sum(mrr_end) as mrr_end
    from movements
    group by grouping sets ((month, segment), (month))
),

rates as (
    select
        *,
        cast(churned_logos as double) / nullif(logos_start, 0) as logo_churn_rate,
        cast(churned_mrr + contraction_mrr as double) / nullif(cast(mrr_start as double), 0) as gross_mrr_churn_rate,
        1.0 - cast(churned_mrr + contraction_mrr as double) / nullif(cast(mrr_start as double), 0) as grr,
        cast(mrr_start - churned_mrr - contraction_mrr + expansion_mrr as double)
            / nullif(cast(mrr_start as double), 0) as nrr,
        cast(new_mrr + reactivation_mrr + expansion_mrr as double)
            / nullif(cast(churned_mrr + contraction_mrr as double), 0) as quick_ratio,
        cast(mrr_end / nullif(logos_end, 0) as decimal(38, 6)) as arpa
    from totals
),

trailing_churn as (
    select
        current_month.month,
        current_month.segment,
        avg(window_month.logo_churn_rate) as mean_logo_churn_rate
    from rates as current_month
    join rates as window_month
        on window_month.segment = current_month.segment
        and window_month.month >= cast(current_month.month - interval '2 months' as date)
        and window_month.month <= current_month.month
    group by current_month.month, current_month.segment
),

final as (
    select
        rates.segment,
        rates.logos_start,
        rates.logos_end,
        rates.new_logos,
        rates.reactivated_logos,
        rates.churned_logos,
        rates.mrr_start,
        rates.new_mrr,
        rates.reactivation_mrr,
        rates.expansion_mrr,
        rates.contraction_mrr,
        rates.churned_mrr,
        rates.mrr_end,
        rates.logo_churn_rate,
        rates.gross_mrr_churn_rate,
        rates.grr,
        rates.nrr,
        rates.quick_ratio,
        rates.arpa,
        cast(cast(rates.arpa as double) * ${gross_margin}
            / nullif(trailing_churn.mean_logo_churn_rate, 0) as decimal(38, 6)) as ltv,
        rates.month
    from rates
    join trailing_churn
        on trailing_churn.month = rates.month
        and trailing_churn.segment = rates.segment
)

select * from final
