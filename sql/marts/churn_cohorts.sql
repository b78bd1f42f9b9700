-- churn_cohorts: one row per signup cohort (the month of an account's first start_date) and
-- months since it. Period 0 counts every account of the cohort; period k >= 1 counts those
-- active on the first day of cohort_month + k. mrr_retention divides the cohort's MRR on that
-- day by the sum of each account's MRR on its own first start_date (so period 0 is 1).
-- Only periods whose first day is on or before the as-of date (`month_boundaries`) appear.
with boundaries as (
    select
        boundary,
        cast(date_part('year', boundary) as bigint) * 12 + cast(date_part('month', boundary) as bigint) as month_index
    from month_boundaries
),

lines as (
    select
        account_id,
        mrr_reporting,
        start_date,
        cast(start_date as int) as start_day,
        cast(end_date as int) as end_day
    from stg_handoffs
    where start_date <= date '${as_of}'
),

cohorts as (
    select
        account_id,
        min(start_day) as first_start_day,
        cast(date_trunc('month', min(start_date)) as date) as cohort_month
    from lines
    group by account_id
),

initial as (
    select
        cohorts.account_id,
        cohorts.cohort_month,
        coalesce(sum(lines.mrr_reporting), cast(0 as decimal(38, 6))) as initial_mrr
    from cohorts
    left join lines
        on lines.account_id = cohorts.account_id
        and lines.start_day <= cohorts.first_start_day
        and (lines.end_day is null or cohorts.first_start_day < lines.end_day)
    group by cohorts.account_id, cohorts.cohort_month
),

sizes as (
    select cohort_month, count(*) as cohort_size, sum(initial_mrr) as initial_mrr
    from initial
    group by cohort_month
),

snapshots as (
    select * from boundary_snapshots
),

periods as (
    select
        sizes.cohort_month,
        boundaries.boundary,
        boundaries.month_index
            - (cast(date_part('year', sizes.cohort_month) as bigint) * 12
               + cast(date_part('month', sizes.cohort_month) as bigint)) as months_since_start
    from sizes
    join boundaries on boundaries.boundary >= sizes.cohort_month
),

active as (
    select
        periods.cohort_month,
        periods.months_since_start,
        count(snapshots.account_id) as active_accounts,
        coalesce(sum(snapshots.mrr), cast(0 as decimal(38, 6))) as mrr
    from periods
    join initial on initial.cohort_month = periods.cohort_month
    left join snapshots
        on snapshots.account_id = initial.account_id
        and snapshots.boundary = periods.boundary
    group by periods.cohort_month, periods.months_since_start
),

final as (
    select
        active.cohort_month,
        active.months_since_start,
        sizes.cohort_size,
        case when active.months_since_start = 0 then sizes.cohort_size else active.active_accounts end as active_accounts,
        cast(case when active.months_since_start = 0 then sizes.cohort_size else active.active_accounts end as double)
            / sizes.cohort_size as logo_retention,
        case when active.months_since_start = 0 then sizes.initial_mrr else active.mrr end as mrr,
        sizes.initial_mrr,
        cast(case when active.months_since_start = 0 then sizes.initial_mrr else active.mrr end as double)
            / nullif(cast(sizes.initial_mrr as double), 0) as mrr_retention
    from active
    join sizes on sizes.cohort_month = active.cohort_month
)

select * from final
