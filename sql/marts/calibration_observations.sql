-- calibration_observations: what `churnlake calibrate` learns from (contract §6) — grain: one
-- row per observation date and account. An account is observed on o (an `observation_dates`
-- day) when a contract line is in force on o and its first line started at least
-- ${min_tenure_days} days before; it churned when no line is in force on o + ${horizon_days}
-- (the rule of health_cohorts). A churner's churn day is the first month boundary after o, or
-- o + ${horizon_days}, on which it has no line in force; its lead day is ${lead_days} days
-- before, where a surprise is judged (green there).
with lines as (
    select account_id, cast(start_date as int) as start_day, cast(end_date as int) as end_day
    from stg_handoffs
),

observed as (
    select distinct observation_dates.observation_day, lines.account_id
    from observation_dates
    join lines
        on lines.start_day <= observation_dates.observation_day
        and (lines.end_day is null or observation_dates.observation_day < lines.end_day)
),

first_starts as (
    select account_id, min(start_day) as first_day
    from lines
    group by account_id
),

eligible as (
    select observed.observation_day, observed.account_id
    from observed
    join first_starts on first_starts.account_id = observed.account_id
    where observed.observation_day - first_starts.first_day >= ${min_tenure_days}
),

-- Whether a line is in force on a day after the observation: on o + horizon (the label) and
-- on each candidate churn day of a churner.
at_horizon as (
    select
        eligible.observation_day,
        eligible.account_id,
        count(lines.account_id) = 0 as churned
    from eligible
    left join lines
        on lines.account_id = eligible.account_id
        and lines.start_day <= eligible.observation_day + ${horizon_days}
        and (lines.end_day is null or eligible.observation_day + ${horizon_days} < lines.end_day)
    group by eligible.observation_day, eligible.account_id
),

candidates as (
    select at_horizon.observation_day, at_horizon.account_id, boundaries.boundary_day as day
    from at_horizon
    join (select cast(boundary as int) as boundary_day from month_boundaries) as boundaries
        on boundaries.boundary_day > at_horizon.observation_day
        and boundaries.boundary_day < at_horizon.observation_day + ${horizon_days}
    where at_horizon.churned
    union all
    select observation_day, account_id, observation_day + ${horizon_days}
    from at_horizon
    where churned
),

inactive_days as (
    select candidates.observation_day, candidates.account_id, candidates.day
    from candidates
    left join lines
        on lines.account_id = candidates.account_id
        and lines.start_day <= candidates.day
        and (lines.end_day is null or candidates.day < lines.end_day)
    group by candidates.observation_day, candidates.account_id, candidates.day
    having count(lines.account_id) = 0
),

churn_days as (
    select observation_day, account_id, min(day) as churn_day
    from inactive_days
    group by observation_day, account_id
),

final as (
    select
        at_horizon.account_id,
        at_horizon.observation_day,
        at_horizon.churned,
        churn_days.churn_day,
        churn_days.churn_day - ${lead_days} as lead_day
    from at_horizon
    left join churn_days
        on churn_days.observation_day = at_horizon.observation_day
        and churn_days.account_id = at_horizon.account_id
)

select * from final
order by observation_day, account_id
