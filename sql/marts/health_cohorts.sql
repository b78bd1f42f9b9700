-- health_cohorts: one row per observation date and band; band 'all' carries the date's AUC
-- and surprise-churn rate. An account active on observation date o (a month start with
-- o + ${horizon_days} days on or before the as-of date) churned within the horizon when it is
-- inactive on o + ${horizon_days}. AUC is the probability that a churner's score is lower
-- than a non-churner's (ties count half), computed from average ranks (Mann–Whitney U). A
-- churn at a month boundary E in (o, o + horizon] is a surprise when the account's band on
-- E − ${lead_days} days was green.
with lines as (
    select account_id, cast(start_date as int) as start_day, cast(end_date as int) as end_day
    from stg_handoffs
    where start_date <= date '${as_of}'
),

observations as (
    select boundary as observation_date, cast(boundary as int) as observation_day
    from month_boundaries
    where cast(boundary as int) + ${horizon_days} <= cast(date '${as_of}' as int)
      and (
        cast(date_part('year', boundary) as bigint) * 12 + cast(date_part('month', boundary) as bigint)
      ) % ${every_months} = 0
),

observed as (
    select distinct
        observations.observation_date,
        observations.observation_day,
        lines.account_id
    from observations
    join lines
        on lines.start_day <= observations.observation_day
        and (lines.end_day is null or observations.observation_day < lines.end_day)
),

at_horizon as (
    select
        observed.observation_date,
        observed.account_id,
        count(lines.account_id) = 0 as churned
    from observed
    left join lines
        on lines.account_id = observed.account_id
        and lines.start_day <= observed.observation_day + ${horizon_days}
        and (lines.end_day is null or observed.observation_day + ${horizon_days} < lines.end_day)
    group by observed.observation_date, observed.account_id
),

outcomes as (
    select
        observed.observation_date,
        observed.account_id,
        health.score,
        health.band,
        at_horizon.churned
    from observed
    join at_horizon
        on at_horizon.observation_date = observed.observation_date
        and at_horizon.account_id = observed.account_id
    join cohort_health as health
        on health.account_id = observed.account_id
        and health.as_of_date = observed.observation_date
    where health.score is not null
),

ranked as (
    select
        *,
        rank() over (partition by observation_date order by score)
            + (count(*) over (partition by observation_date, score) - 1) / 2.0 as average_rank
    from outcomes
),

churn_events as (
    select
        observations.observation_date,
        movements.account_id,
        movements.month_end
    from observations
    join (
        select account_id, cast(month + interval '1 month' as date) as month_end
        from mrr_monthly_all
        where movement = 'churn'
    ) as movements
        on cast(movements.month_end as int) > observations.observation_day
        and cast(movements.month_end as int) <= observations.observation_day + ${horizon_days}
),

surprises as (
    select
        churn_events.observation_date,
        count(*) as churns,
        count(*) filter (where lead.band = 'green') as surprise_churns
    from churn_events
    left join cohort_health as lead
        on lead.account_id = churn_events.account_id
        and cast(lead.as_of_date as int) = cast(churn_events.month_end as int) - ${lead_days}
    group by churn_events.observation_date
),

-- Each band and all bands (the grouping set without band) in one pass over the outcomes.
bands as (
    select
        observation_date,
        case when grouping(band) = 1 then 'all' else band end as band,
        count(*) as accounts,
        count(*) filter (where churned) as churned,
        case when grouping(band) = 1 then (
            sum(case when not churned then average_rank else 0 end)
            - count(*) filter (where not churned) * (count(*) filter (where not churned) + 1) / 2.0
        ) / nullif(
            cast(count(*) filter (where churned) as double) * count(*) filter (where not churned),
            0
        ) end as auc
    from ranked
    group by grouping sets ((observation_date, band), (observation_date))
),

final as (
    select
        bands.observation_date,
        bands.band,
        bands.accounts,
        bands.churned,
        cast(bands.churned as double) / nullif(bands.accounts, 0) as churn_rate,
        bands.auc,
        cast(surprises.surprise_churns as double) / nullif(surprises.churns, 0) as surprise_churn_rate
    from bands
    left join surprises
        on surprises.observation_date = bands.observation_date
        and bands.band = 'all'
)

select * from final
