-- churnlake `build --as-of ${as_of}` in DuckDB SQL, for the build benchmark (run_build.py).
--
-- The same models as sql/marts/*.sql and the SQL that src/marts/health.rs and playbook.rs
-- generate from pipelines/default.toml, with the default pipeline's rules, health model,
-- playbook and [retention] defaults written in. Reads the staged Parquet under
-- ${warehouse}, writes the eight build tables under ${out}: the as_of_date=${as_of}
-- partition of customer_daily, health_scores and playbook_actions, and the five whole
-- tables. check_equal.py compares the result with churnlake's tables.
--
-- Where DuckDB differs from DataFusion the SQL says so: `/` on integers or decimals gives a
-- double here, a numeric literal with a point is a decimal, trim() also strips Unicode
-- spaces, round(x, n) rounds the exact binary value, descending sorts put nulls last, and
-- dates are compared as dates (DuckDB has no date-to-int cast).

-- ---------------------------------------------------------------------------------------
-- round(x, n) of a double as DataFusion computes it: round(x × 10ⁿ) / 10ⁿ, half away from
-- zero on the scaled double (2.65 → 2.7, since 2.65 × 10 is 26.5 in doubles). DuckDB's
-- round(x, n) rounds the exact binary value instead (2.65 is 2.6499… → 2.6).
create or replace temp macro datafusion_round(value, places) as
    round(value * power(cast(10 as double), places)) / power(cast(10 as double), places);

-- ---------------------------------------------------------------------------------------
-- Staged tables (contract §4), as churnlake registers them: event tables Hive-partitioned by
-- event_date.

create or replace temp view stg_handoffs as
select * from read_parquet('${warehouse}/stg_handoffs/**/*.parquet');

create or replace temp view stg_tickets as
select * from read_parquet('${warehouse}/stg_tickets/**/*.parquet');

create or replace temp view stg_nps as
select * from read_parquet('${warehouse}/stg_nps/**/*.parquet');

create or replace temp view stg_events as
select * from read_parquet(
    '${warehouse}/stg_events/**/*.parquet',
    hive_partitioning = true,
    hive_types = {'event_date': date}
);

create or replace temp view stg_pageviews as
select * from read_parquet(
    '${warehouse}/stg_pageviews/**/*.parquet',
    hive_partitioning = true,
    hive_types = {'event_date': date}
);

-- ---------------------------------------------------------------------------------------
-- month_boundaries: one row per month start, from the month of the first contract line
-- starting on or before the as-of date through the last month start on or before it
-- (src/marts/mod.rs `first_start` and `month_starts`).
create or replace temp table month_boundaries as
with first_line as (
    select coalesce(min(start_date), date '${as_of}') as first_start_date
    from stg_handoffs
    where start_date <= date '${as_of}'
),

final as (
    select cast(unnest(generate_series(
        cast(date_trunc('month', first_start_date) as date),
        date '${as_of}',
        interval 1 month
    )) as date) as boundary
    from first_line
)

select * from final;

-- as_of_dates: one row per date computed in this build: the as-of date D, D − 7 and D − 30
-- (health deltas), every month boundary and each boundary minus the surprise lead of 30
-- days (health_cohorts scores accounts there).
create or replace temp table as_of_dates as
with requested as (
    select date '${as_of}' as as_of_date
),

final as (
    select as_of_date from requested
    union
    select as_of_date - 7 from requested
    union
    select as_of_date - 30 from requested
    union
    select boundary from month_boundaries
    union
    select boundary - 30 from month_boundaries
)

select * from final;

-- ---------------------------------------------------------------------------------------
-- customer_daily: one row per account per as_of_date (sql/marts/customer_daily.sql), for
-- every computed date: accounts active on the date or on at least one of the 90 days before
-- it (lifecycle_stage 'churned'). Point in time: lines with start_date <= D, events and
-- views dated <= D, tickets created <= D (latest state), responses dated <= D.
create or replace temp table customer_daily_all as
with as_of as (
    select as_of_date from as_of_dates
),

known_lines as (
    select
        as_of.as_of_date,
        lines.*,
        (lines.end_date is null or as_of.as_of_date < lines.end_date) as in_force,
        -- In force on at least one of the 90 days before the date.
        (
            lines.start_date <= as_of.as_of_date - 1
            and (lines.end_date is null or lines.end_date > as_of.as_of_date - 90)
            and (lines.end_date is null or lines.start_date < lines.end_date)
        ) as recently_in_force
    from as_of
    join stg_handoffs as lines on lines.start_date <= as_of.as_of_date
),

contract as (
    select
        account_id,
        as_of_date,
        bool_or(in_force) as active,
        bool_or(recently_in_force) as recently_active,
        coalesce(sum(case when in_force then mrr_reporting end), cast(0 as decimal(38, 6))) as mrr,
        cast(sum(case when in_force then seats end) as bigint) as seats,
        min(start_date) as first_start_date,
        case
            when bool_or(in_force and end_date is null) then null
            else max(case when in_force then end_date end)
        end as term_end
    from known_lines
    group by account_id, as_of_date
),

latest_handoff as (
    select *
    from (
        select
            *,
            -- DataFusion sorts nulls first in descending order; DuckDB last unless told.
            row_number() over (
                partition by account_id, as_of_date
                order by start_date desc nulls first, closed_at desc nulls last, deal_id desc nulls first
            ) as handoff_rank
        from known_lines
    )
    where handoff_rank = 1
),

user_days as (
    select
        account_id,
        user_id,
        event_date,
        event,
        count(*) as events
    from stg_events
    where account_id is not null
    group by account_id, user_id, event_date, event
),

usage as (
    select
        user_days.account_id,
        as_of.as_of_date,
        cast(sum(case when user_days.event_date > as_of.as_of_date - 7 then user_days.events else 0 end) as bigint) as events_7d,
        cast(sum(user_days.events) as bigint) as events_30d,
        count(distinct case when user_days.event_date > as_of.as_of_date - 7 then user_days.user_id end) as active_users_7d,
        count(distinct user_days.user_id) as active_users_30d,
        count(distinct user_days.event_date) as active_days_30d,
        count(distinct user_days.event) as distinct_features_30d
    from as_of
    join user_days
        on user_days.event_date > as_of.as_of_date - 30
        and user_days.event_date <= as_of.as_of_date
    group by user_days.account_id, as_of.as_of_date
),

account_days as (
    select distinct account_id, event_date from user_days
),

last_seen as (
    select
        account_days.account_id,
        as_of.as_of_date,
        cast(as_of.as_of_date - max(account_days.event_date) as integer) as days_since_last_seen
    from as_of
    join account_days on account_days.event_date <= as_of.as_of_date
    group by account_days.account_id, as_of.as_of_date
),

tickets as (
    select
        *,
        -- DataFusion's date_part('epoch', …): seconds as a double, microseconds / 10⁶.
        (
            epoch_us(solved_at) / cast(1000000 as double)
            - epoch_us(created_at) / cast(1000000 as double)
        ) / cast(3600 as double) as resolution_hours
    from stg_tickets
    where account_id is not null
),

support as (
    select
        tickets.account_id,
        as_of.as_of_date,
        count(*) filter (where tickets.created_date > as_of.as_of_date - 30) as tickets_30d,
        count(*) filter (where tickets.created_date > as_of.as_of_date - 90) as tickets_90d,
        count(*) filter (
            where tickets.solved_date is null or tickets.solved_date > as_of.as_of_date
        ) as open_tickets,
        count(*) filter (
            where (tickets.solved_date is null or tickets.solved_date > as_of.as_of_date)
            and tickets.priority in ('high', 'urgent')
        ) as open_high_urgent,
        count(*) filter (
            where tickets.created_date > as_of.as_of_date - 90 and tickets.satisfaction = 'bad'
        ) as bad_csat_90d,
        median(tickets.resolution_hours) filter (
            where tickets.solved_date > as_of.as_of_date - 90
            and tickets.solved_date <= as_of.as_of_date
        ) as median_resolution_hours_90d
    from as_of
    join tickets on tickets.created_date <= as_of.as_of_date
    group by tickets.account_id, as_of.as_of_date
),

help_site as (
    select
        pageviews.account_id,
        as_of.as_of_date,
        count(*) as pageviews_30d,
        count(distinct coalesce(pageviews.user_id, pageviews.anonymous_id)) as help_readers_30d
    from as_of
    join stg_pageviews as pageviews
        on pageviews.event_date > as_of.as_of_date - 30
        and pageviews.event_date <= as_of.as_of_date
    where pageviews.account_id is not null
    group by pageviews.account_id, as_of.as_of_date
),

nps as (
    select account_id, as_of_date, score as last_nps
    from (
        select
            responses.account_id,
            as_of.as_of_date,
            responses.score,
            row_number() over (
                partition by responses.account_id, as_of.as_of_date
                order by responses.responded_at desc nulls first, responses.response_id desc nulls first
            ) as response_rank
        from as_of
        join stg_nps as responses on responses.responded_date <= as_of.as_of_date
        where responses.account_id is not null
    )
    where response_rank = 1
),

joined as (
    select
        contract.account_id,
        contract.as_of_date,
        latest_handoff.account_name,
        latest_handoff.plan,
        latest_handoff.segment,
        latest_handoff.industry,
        latest_handoff.region,
        latest_handoff.employees,
        latest_handoff.sales_owner,
        latest_handoff.csm_owner,
        contract.active,
        contract.mrr,
        contract.mrr * 12 as arr,
        case when contract.active then contract.seats end as seats,
        contract.first_start_date,
        case when contract.active then contract.term_end end as term_end,
        case when contract.active then cast(contract.term_end - contract.as_of_date as integer) end as days_to_renewal,
        cast(contract.as_of_date - contract.first_start_date as integer) as tenure_days,
        latest_handoff.goal,
        latest_handoff.kpi,
        latest_handoff.decision_maker,
        latest_handoff.champion,
        latest_handoff.risks,
        -- trim(x, ' '): DataFusion's trim strips spaces only, DuckDB's also U+3000 and kin.
        cast(
            case when nullif(trim(latest_handoff.goal, ' '), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.kpi, ' '), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.decision_maker, ' '), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.champion, ' '), '') is not null then 1 else 0 end
        as double) / 4 as handoff_completeness,
        coalesce(usage.active_users_7d, 0) as active_users_7d,
        coalesce(usage.active_users_30d, 0) as active_users_30d,
        coalesce(usage.events_7d, 0) as events_7d,
        coalesce(usage.events_30d, 0) as events_30d,
        coalesce(usage.active_days_30d, 0) as active_days_30d,
        coalesce(usage.distinct_features_30d, 0) as distinct_features_30d,
        last_seen.days_since_last_seen,
        coalesce(support.tickets_30d, 0) as tickets_30d,
        coalesce(support.tickets_90d, 0) as tickets_90d,
        coalesce(support.open_tickets, 0) as open_tickets,
        coalesce(support.open_high_urgent, 0) as open_high_urgent,
        coalesce(support.bad_csat_90d, 0) as bad_csat_90d,
        support.median_resolution_hours_90d,
        coalesce(help_site.pageviews_30d, 0) as pageviews_30d,
        coalesce(help_site.help_readers_30d, 0) as help_readers_30d,
        nps.last_nps
    from contract
    join latest_handoff
        on latest_handoff.account_id = contract.account_id
        and latest_handoff.as_of_date = contract.as_of_date
    left join usage on usage.account_id = contract.account_id and usage.as_of_date = contract.as_of_date
    left join last_seen on last_seen.account_id = contract.account_id and last_seen.as_of_date = contract.as_of_date
    left join support on support.account_id = contract.account_id and support.as_of_date = contract.as_of_date
    left join help_site on help_site.account_id = contract.account_id and help_site.as_of_date = contract.as_of_date
    left join nps on nps.account_id = contract.account_id and nps.as_of_date = contract.as_of_date
    where contract.active or contract.recently_active
),

-- [lifecycle] of pipelines/default.toml: renewal_window_days = 90, onboarding_days = 90.
staged as (
    select
        *,
        case
            when not active then 'churned'
            when days_to_renewal is not null and days_to_renewal <= 90 then 'renewal'
            when tenure_days < 90 then 'onboarding'
            else 'adoption'
        end as lifecycle_stage,
        cast(active_users_30d as double) / nullif(seats, 0) as seat_utilization
    from joined
),

final as (
    select
        account_id,
        account_name,
        plan,
        segment,
        industry,
        region,
        employees,
        sales_owner,
        csm_owner,
        mrr,
        arr,
        seats,
        first_start_date,
        term_end,
        days_to_renewal,
        tenure_days,
        lifecycle_stage,
        goal,
        kpi,
        decision_maker,
        champion,
        risks,
        handoff_completeness,
        active_users_7d,
        active_users_30d,
        events_7d,
        events_30d,
        active_days_30d,
        distinct_features_30d,
        seat_utilization,
        days_since_last_seen,
        tickets_30d,
        tickets_90d,
        open_tickets,
        open_high_urgent,
        bad_csat_90d,
        median_resolution_hours_90d,
        pageviews_30d,
        help_readers_30d,
        last_nps,
        -- [[maturity]]: the first rule that holds; none gives 0 (below Lv1).
        cast(case
            when (distinct_features_30d >= 9 and seat_utilization >= 0.7) then 4
            when (distinct_features_30d >= 6 and seat_utilization >= 0.5) then 3
            when (distinct_features_30d >= 3 and active_days_30d >= 8) then 2
            when (active_users_30d >= 1 and active_days_30d >= 4) then 1
            else 0
        end as bigint) as maturity_level,
        -- [[touch]]: the first rule that holds.
        case
            when (arr >= 60000 or segment = 'enterprise') then 'high'
            when (arr >= 12000) then 'low'
            when (true) then 'tech'
        end as touch_model,
        as_of_date
    from staged
)

select * from final;

-- ---------------------------------------------------------------------------------------
-- health_scores: one row per account per as_of_date, from customer_daily: [health]
-- `cs-health` v1 of pipelines/default.toml, missing = "reweight" (src/marts/health.rs).
-- Literals of the model are doubles, as DataFusion reads them: (0.8) − (0.2) is
-- 0.6000000000000001 there, where DuckDB's decimal arithmetic would give 0.6.
create or replace temp table health_scores_all as
with customer as (
    select * from customer_daily_all
),

measured as (
    select
        account_id,
        as_of_date,
        segment,
        lifecycle_stage,
        cast((cast(events_30d as double) / nullif(seats, 0)) as double) as usage_raw,
        cast((active_days_30d) as double) as activity_raw,
        cast((seat_utilization) as double) as seat_utilization_raw,
        cast((distinct_features_30d) as double) as feature_breadth_raw,
        cast((open_high_urgent) as double) as support_load_raw,
        cast((bad_csat_90d) as double) as csat_raw,
        cast((cast(help_readers_30d as double) / nullif(help_readers_30d + tickets_30d, 0)) as double) as self_service_raw,
        cast((handoff_completeness) as double) as handoff_raw,
        cast((last_nps) as double) as nps_raw,
        cast((events_30d) as double) as activity_rank_raw
    from customer
),

-- linear: bad → 0, good → 100, clamped; points: the points of the last threshold reached;
-- percentile: percent rank within segment on the date (a lone account scores 50).
normalized as (
    select
        *,
        case when usage_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (usage_raw - (2::double)) / ((16::double) - (2::double)) * 100.0::double)) end as usage,
        case when activity_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (activity_raw - (4::double)) / ((22::double) - (4::double)) * 100.0::double)) end as activity,
        case when seat_utilization_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (seat_utilization_raw - (0.2::double)) / ((0.8::double) - (0.2::double)) * 100.0::double)) end as seat_utilization,
        case when feature_breadth_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (feature_breadth_raw - (1::double)) / ((8::double) - (1::double)) * 100.0::double)) end as feature_breadth,
        cast(case when support_load_raw is null then null
            when support_load_raw >= 3 then 0
            when support_load_raw >= 2 then 20
            when support_load_raw >= 1 then 50
            when support_load_raw >= 0 then 100
            else 100 end as bigint) as support_load,
        cast(case when csat_raw is null then null
            when csat_raw >= 2 then 0
            when csat_raw >= 1 then 40
            when csat_raw >= 0 then 100
            else 100 end as bigint) as csat,
        case when self_service_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (self_service_raw - (0.3::double)) / ((0.9::double) - (0.3::double)) * 100.0::double)) end as self_service,
        case when handoff_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (handoff_raw - (0.25::double)) / ((1::double) - (0.25::double)) * 100.0::double)) end as handoff,
        case when nps_raw is null then null
            else greatest(0.0::double, least(100.0::double,
                (nps_raw - (5::double)) / ((9::double) - (5::double)) * 100.0::double)) end as nps,
        case when activity_rank_raw is null then null
            when count(activity_rank_raw) over (
                partition by as_of_date, segment, activity_rank_raw is null
            ) = 1 then 50.0::double
            else percent_rank() over (
                partition by as_of_date, segment, activity_rank_raw is null
                order by activity_rank_raw asc
            ) * 100.0::double end as activity_rank
    from measured
),

-- [[health.overrides]], the last matching one winning: onboarding (usage 25, activity 15,
-- seat_utilization 10, feature_breadth 5, nps 0), then enterprise (handoff 10, nps 15).
-- reweight: a missing component weighs 0.
weighted as (
    select
        *,
        case when usage is null then 0.0::double
            else cast(case when lifecycle_stage = 'onboarding' then 25 else 20 end as double) end as usage_weight,
        case when activity is null then 0.0::double
            else cast(case when lifecycle_stage = 'onboarding' then 15 else 10 end as double) end as activity_weight,
        case when seat_utilization is null then 0.0::double
            else cast(case when lifecycle_stage = 'onboarding' then 10 else 15 end as double) end as seat_utilization_weight,
        case when feature_breadth is null then 0.0::double
            else cast(case when lifecycle_stage = 'onboarding' then 5 else 15 end as double) end as feature_breadth_weight,
        case when support_load is null then 0.0::double else cast(10 as double) end as support_load_weight,
        case when csat is null then 0.0::double else cast(5 as double) end as csat_weight,
        case when self_service is null then 0.0::double else cast(5 as double) end as self_service_weight,
        case when handoff is null then 0.0::double
            else cast(case when segment = 'enterprise' then 10 else 5 end as double) end as handoff_weight,
        case when nps is null then 0.0::double
            else cast(case
                when segment = 'enterprise' then 15
                when lifecycle_stage = 'onboarding' then 0
                else 10
            end as double) end as nps_weight,
        case when activity_rank is null then 0.0::double else cast(5 as double) end as activity_rank_weight
    from normalized
),

totalled as (
    select
        *,
        usage_weight + activity_weight + seat_utilization_weight + feature_breadth_weight
            + support_load_weight + csat_weight + self_service_weight + handoff_weight
            + nps_weight + activity_rank_weight as total_weight
    from weighted
),

contributed as (
    select
        *,
        coalesce(coalesce(usage, 0.0::double) * usage_weight / nullif(total_weight, 0), 0.0::double) as usage_contribution,
        coalesce(coalesce(activity, 0.0::double) * activity_weight / nullif(total_weight, 0), 0.0::double) as activity_contribution,
        coalesce(coalesce(seat_utilization, 0.0::double) * seat_utilization_weight / nullif(total_weight, 0), 0.0::double) as seat_utilization_contribution,
        coalesce(coalesce(feature_breadth, 0.0::double) * feature_breadth_weight / nullif(total_weight, 0), 0.0::double) as feature_breadth_contribution,
        coalesce(coalesce(support_load, 0.0::double) * support_load_weight / nullif(total_weight, 0), 0.0::double) as support_load_contribution,
        coalesce(coalesce(csat, 0.0::double) * csat_weight / nullif(total_weight, 0), 0.0::double) as csat_contribution,
        coalesce(coalesce(self_service, 0.0::double) * self_service_weight / nullif(total_weight, 0), 0.0::double) as self_service_contribution,
        coalesce(coalesce(handoff, 0.0::double) * handoff_weight / nullif(total_weight, 0), 0.0::double) as handoff_contribution,
        coalesce(coalesce(nps, 0.0::double) * nps_weight / nullif(total_weight, 0), 0.0::double) as nps_contribution,
        coalesce(coalesce(activity_rank, 0.0::double) * activity_rank_weight / nullif(total_weight, 0), 0.0::double) as activity_rank_contribution
    from totalled
),

scored as (
    select
        *,
        case when total_weight > 0 then datafusion_round(
            usage_contribution + activity_contribution + seat_utilization_contribution
            + feature_breadth_contribution + support_load_contribution + csat_contribution
            + self_service_contribution + handoff_contribution + nps_contribution
            + activity_rank_contribution, 2) end as score
    from contributed
),

-- The points each component costs the account: (100 − value) × its weight share.
shortfalls as (
    unpivot (
        select
            account_id,
            as_of_date,
            {'shortfall': (100.0::double - coalesce(usage, 0.0::double)) * usage_weight / nullif(total_weight, 0), 'normalized': usage} as usage,
            {'shortfall': (100.0::double - coalesce(activity, 0.0::double)) * activity_weight / nullif(total_weight, 0), 'normalized': activity} as activity,
            {'shortfall': (100.0::double - coalesce(seat_utilization, 0.0::double)) * seat_utilization_weight / nullif(total_weight, 0), 'normalized': seat_utilization} as seat_utilization,
            {'shortfall': (100.0::double - coalesce(feature_breadth, 0.0::double)) * feature_breadth_weight / nullif(total_weight, 0), 'normalized': feature_breadth} as feature_breadth,
            {'shortfall': (100.0::double - coalesce(support_load, 0.0::double)) * support_load_weight / nullif(total_weight, 0), 'normalized': cast(support_load as double)} as support_load,
            {'shortfall': (100.0::double - coalesce(csat, 0.0::double)) * csat_weight / nullif(total_weight, 0), 'normalized': cast(csat as double)} as csat,
            {'shortfall': (100.0::double - coalesce(self_service, 0.0::double)) * self_service_weight / nullif(total_weight, 0), 'normalized': self_service} as self_service,
            {'shortfall': (100.0::double - coalesce(handoff, 0.0::double)) * handoff_weight / nullif(total_weight, 0), 'normalized': handoff} as handoff,
            {'shortfall': (100.0::double - coalesce(nps, 0.0::double)) * nps_weight / nullif(total_weight, 0), 'normalized': nps} as nps,
            {'shortfall': (100.0::double - coalesce(activity_rank, 0.0::double)) * activity_rank_weight / nullif(total_weight, 0), 'normalized': activity_rank} as activity_rank
        from contributed
    )
    on usage, activity, seat_utilization, feature_breadth, support_load, csat, self_service,
        handoff, nps, activity_rank
    into name component value cost
),

ranked_shortfalls as (
    select
        account_id,
        as_of_date,
        component,
        cost.shortfall as shortfall,
        cost.normalized as normalized,
        row_number() over (
            partition by account_id, as_of_date
            order by cost.shortfall desc, component
        ) as shortfall_rank
    from shortfalls
    where cost.shortfall >= 0.5
),

reasons as (
    select
        account_id,
        as_of_date,
        string_agg(
            concat(component, ' ', coalesce(cast(cast(datafusion_round(normalized, 0) as bigint) as varchar), 'missing'),
                   '/100 (-', cast(datafusion_round(shortfall, 1) as varchar), ' pts)'),
            '; ' order by shortfall_rank
        ) as reasons
    from ranked_shortfalls
    where shortfall_rank <= 3
    group by account_id, as_of_date
),

history as (
    select
        scored.*,
        week_ago.score as score_7d_ago,
        month_ago.score as score_30d_ago
    from scored
    left join scored as week_ago
        on week_ago.account_id = scored.account_id
        and week_ago.as_of_date = scored.as_of_date - 7
    left join scored as month_ago
        on month_ago.account_id = scored.account_id
        and month_ago.as_of_date = scored.as_of_date - 30
),

final as (
    select
        scored.account_id,
        'cs-health' as model_name,
        cast(1 as bigint) as model_version,
        scored.score,
        case
            when scored.score is null then null
            when scored.score >= 70 then 'green'
            when scored.score >= 50 then 'yellow'
            else 'red'
        end as band,
        scored.usage, scored.usage_raw, scored.usage_weight, scored.usage_contribution,
        scored.activity, scored.activity_raw, scored.activity_weight, scored.activity_contribution,
        scored.seat_utilization, scored.seat_utilization_raw, scored.seat_utilization_weight, scored.seat_utilization_contribution,
        scored.feature_breadth, scored.feature_breadth_raw, scored.feature_breadth_weight, scored.feature_breadth_contribution,
        scored.support_load, scored.support_load_raw, scored.support_load_weight, scored.support_load_contribution,
        scored.csat, scored.csat_raw, scored.csat_weight, scored.csat_contribution,
        scored.self_service, scored.self_service_raw, scored.self_service_weight, scored.self_service_contribution,
        scored.handoff, scored.handoff_raw, scored.handoff_weight, scored.handoff_contribution,
        scored.nps, scored.nps_raw, scored.nps_weight, scored.nps_contribution,
        scored.activity_rank, scored.activity_rank_raw, scored.activity_rank_weight, scored.activity_rank_contribution,
        scored.score_7d_ago,
        scored.score_30d_ago,
        datafusion_round(scored.score - scored.score_7d_ago, 2) as delta_7d,
        datafusion_round(scored.score - scored.score_30d_ago, 2) as delta_30d,
        case
            when scored.score - scored.score_30d_ago >= 5 then 'up'
            when scored.score - scored.score_30d_ago <= -5 then 'down'
            else 'flat'
        end as trend,
        coalesce(reasons.reasons, '') as reasons,
        scored.as_of_date
    from history as scored
    left join reasons
        on reasons.account_id = scored.account_id
        and reasons.as_of_date = scored.as_of_date
)

select * from final;

-- ---------------------------------------------------------------------------------------
-- playbook_actions: one row per account, as_of_date and rule that fired, for the requested
-- date (src/marts/playbook.rs over the [[playbook]] rules). A rule sees the customer row
-- joined to its health row; the message fills the template's placeholders (null → 'n/a')
-- and the evidence lists the columns its condition names, in name order.
create or replace temp table playbook_actions_all as
with subject as (
    select
        customer.*,
        -- A health column named like a customer column (seat_utilization) is left out:
        -- rules see the customer's, as in src/marts/mod.rs `subject_schema`.
        health.* exclude (account_id, as_of_date, seat_utilization)
    from customer_daily_all as customer
    join health_scores_all as health
        on health.account_id = customer.account_id
        and health.as_of_date = customer.as_of_date
    where customer.as_of_date = date '${as_of}'
),

health_drop as (
    select
        account_id, as_of_date, 'health_drop' as rule_id, 'high' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ': health fell ',
            coalesce(cast(delta_30d as varchar), 'n/a'), ' points in 30 days to ',
            coalesce(cast(score as varchar), 'n/a'), ' (', coalesce(cast(band as varchar), 'n/a'),
            '); check ', coalesce(cast(reasons as varchar), 'n/a'), '') as message,
        concat_ws(', ',
            concat('delta_30d=', coalesce(cast(delta_30d as varchar), 'n/a')),
            concat('lifecycle_stage=', coalesce(cast(lifecycle_stage as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((lifecycle_stage <> 'churned' and delta_30d <= -15), false)
),

red_before_renewal as (
    select
        account_id, as_of_date, 'red_before_renewal' as rule_id, 'critical' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ' is red (',
            coalesce(cast(score as varchar), 'n/a'), ') with renewal in ',
            coalesce(cast(days_to_renewal as varchar), 'n/a'), ' days; plan a save call') as message,
        concat_ws(', ',
            concat('band=', coalesce(cast(band as varchar), 'n/a')),
            concat('days_to_renewal=', coalesce(cast(days_to_renewal as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((band = 'red' and days_to_renewal <= 90), false)
),

no_activity_14d as (
    select
        account_id, as_of_date, 'no_activity_14d' as rule_id, 'medium' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ': no product activity for ',
            coalesce(cast(days_since_last_seen as varchar), 'n/a'), ' days') as message,
        concat_ws(', ',
            concat('days_since_last_seen=', coalesce(cast(days_since_last_seen as varchar), 'n/a')),
            concat('lifecycle_stage=', coalesce(cast(lifecycle_stage as varchar), 'n/a')),
            concat('tenure_days=', coalesce(cast(tenure_days as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((lifecycle_stage <> 'churned' and coalesce(days_since_last_seen, tenure_days) >= 14), false)
),

onboarding_stalled as (
    select
        account_id, as_of_date, 'onboarding_stalled' as rule_id, 'high' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ' is ',
            coalesce(cast(tenure_days as varchar), 'n/a'),
            ' days in and below Lv1; schedule an onboarding session') as message,
        concat_ws(', ',
            concat('lifecycle_stage=', coalesce(cast(lifecycle_stage as varchar), 'n/a')),
            concat('maturity_level=', coalesce(cast(maturity_level as varchar), 'n/a')),
            concat('tenure_days=', coalesce(cast(tenure_days as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((lifecycle_stage = 'onboarding' and tenure_days >= 30 and maturity_level < 1), false)
),

bad_csat as (
    select
        account_id, as_of_date, 'bad_csat' as rule_id, 'medium' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ' rated ',
            coalesce(cast(bad_csat_90d as varchar), 'n/a'),
            ' ticket(s) bad in 90 days; follow up with the requester') as message,
        concat_ws(', ',
            concat('bad_csat_90d=', coalesce(cast(bad_csat_90d as varchar), 'n/a')),
            concat('lifecycle_stage=', coalesce(cast(lifecycle_stage as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((lifecycle_stage <> 'churned' and bad_csat_90d >= 1), false)
),

low_seat_utilization as (
    select
        account_id, as_of_date, 'low_seat_utilization' as rule_id, 'low' as severity,
        touch_model as touch, csm_owner as owner,
        concat(coalesce(cast(account_name as varchar), 'n/a'), ' uses ',
            coalesce(cast(active_users_30d as varchar), 'n/a'), ' of ',
            coalesce(cast(seats as varchar), 'n/a'), ' seats; run an adoption campaign') as message,
        concat_ws(', ',
            concat('lifecycle_stage=', coalesce(cast(lifecycle_stage as varchar), 'n/a')),
            concat('seat_utilization=', coalesce(cast(seat_utilization as varchar), 'n/a'))) as evidence
    from subject
    where coalesce((lifecycle_stage <> 'churned' and seat_utilization < 0.3), false)
),

final as (
    select * from health_drop
    union all
    select * from red_before_renewal
    union all
    select * from no_activity_14d
    union all
    select * from onboarding_stalled
    union all
    select * from bad_csat
    union all
    select * from low_seat_utilization
)

select * from final;

-- ---------------------------------------------------------------------------------------
-- boundary_snapshots: one row per account per month start on which at least one of its
-- lines is in force, with MRR(a, d) of contract §5 (sql/marts/boundary_snapshots.sql).
create or replace temp table boundary_snapshots as
with final as (
    select
        lines.account_id,
        boundaries.boundary,
        sum(lines.mrr_reporting) as mrr
    from month_boundaries as boundaries
    join stg_handoffs as lines
        on lines.start_date <= boundaries.boundary
        and (lines.end_date is null or boundaries.boundary < lines.end_date)
    group by lines.account_id, boundaries.boundary
)

select * from final;

-- mrr_monthly: one row per account per month in which the account is active at the month's
-- start S or at its end E (contract §5, sql/marts/mrr_monthly.sql); exact decimals.
create or replace temp table mrr_monthly_all as
with snapshots as (
    select * from boundary_snapshots
),

first_active as (
    select account_id, min(boundary) as first_boundary
    from snapshots
    group by account_id
),

months as (
    select
        starts.boundary as month,
        ends.boundary as month_end
    from month_boundaries as starts
    join month_boundaries as ends
        on ends.boundary = cast(starts.boundary + interval 1 month as date)
),

account_months as (
    select distinct months.month, months.month_end, snapshots.account_id
    from months
    join snapshots
        on snapshots.boundary = months.month or snapshots.boundary = months.month_end
),

movements as (
    select
        account_months.account_id,
        account_months.month,
        account_months.month_end,
        at_start.mrr is not null as active_start,
        at_end.mrr is not null as active_end,
        coalesce(at_start.mrr, cast(0 as decimal(38, 6))) as mrr_start,
        coalesce(at_end.mrr, cast(0 as decimal(38, 6))) as mrr_end,
        first_active.first_boundary
    from account_months
    join first_active on first_active.account_id = account_months.account_id
    left join snapshots as at_start
        on at_start.account_id = account_months.account_id
        and at_start.boundary = account_months.month
    left join snapshots as at_end
        on at_end.account_id = account_months.account_id
        and at_end.boundary = account_months.month_end
),

classified as (
    select
        *,
        case
            when not active_start and first_boundary = month_end then 'new'
            when not active_start then 'reactivation'
            when not active_end then 'churn'
            when mrr_end > mrr_start then 'expansion'
            when mrr_end < mrr_start then 'contraction'
            else 'flat'
        end as movement
    from movements
),

-- contract §5: the most recent handoff with start_date before E; an account whose only line
-- starts on E itself takes that line's segment.
segments as (
    select account_id, month, segment
    from (
        select
            classified.account_id,
            classified.month,
            lines.segment,
            row_number() over (
                partition by classified.account_id, classified.month
                order by
                    lines.start_date < classified.month_end desc nulls first,
                    lines.start_date desc nulls first,
                    lines.closed_at desc nulls last,
                    lines.deal_id desc nulls first
            ) as handoff_rank
        from classified
        join stg_handoffs as lines
            on lines.account_id = classified.account_id
            and lines.start_date <= classified.month_end
    )
    where handoff_rank = 1
),

final as (
    select
        classified.account_id,
        coalesce(segments.segment, 'unknown') as segment,
        classified.mrr_start,
        classified.mrr_end,
        classified.movement,
        case when movement = 'new' then mrr_end else cast(0 as decimal(38, 6)) end as new,
        case when movement = 'expansion' then mrr_end - mrr_start else cast(0 as decimal(38, 6)) end as expansion,
        case when movement = 'contraction' then mrr_start - mrr_end else cast(0 as decimal(38, 6)) end as contraction,
        case when movement = 'churn' then mrr_start else cast(0 as decimal(38, 6)) end as churn,
        case when movement = 'reactivation' then mrr_end else cast(0 as decimal(38, 6)) end as reactivation,
        classified.month
    from classified
    left join segments
        on segments.account_id = classified.account_id
        and segments.month = classified.month
)

select * from final;

-- retention_monthly: one row per month and segment (segment 'all' = every account): the
-- retention equation in exact decimals and the rates of contract §5, null when their
-- denominator is 0 (sql/marts/retention_monthly.sql); [retention] gross_margin = 1.0.
create or replace temp table retention_monthly_all as
with movements as (
    select
        *,
        movement in ('churn', 'expansion', 'contraction', 'flat') as active_start,
        movement in ('new', 'reactivation', 'expansion', 'contraction', 'flat') as active_end
    from mrr_monthly_all
),

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

-- arpa is a decimal quotient in DataFusion, rounded half away from zero to 6 places; in
-- DuckDB decimal / integer is a double, so it is computed on the scaled integers instead.
scaled as (
    select
        *,
        cast(mrr_end * 1000000 as hugeint) as mrr_end_micros
    from totals
),

rates as (
    select
        * exclude (mrr_end_micros),
        cast(churned_logos as double) / nullif(logos_start, 0) as logo_churn_rate,
        cast(churned_mrr + contraction_mrr as double) / nullif(cast(mrr_start as double), 0) as gross_mrr_churn_rate,
        1.0::double - cast(churned_mrr + contraction_mrr as double) / nullif(cast(mrr_start as double), 0) as grr,
        cast(mrr_start - churned_mrr - contraction_mrr + expansion_mrr as double)
            / nullif(cast(mrr_start as double), 0) as nrr,
        cast(new_mrr + reactivation_mrr + expansion_mrr as double)
            / nullif(cast(churned_mrr + contraction_mrr as double), 0) as quick_ratio,
        case when logos_end <> 0 then
            cast(
                sign(mrr_end_micros) * ((abs(mrr_end_micros) * 2 + logos_end) // (2 * logos_end))
            as decimal(38, 0)) * 0.000001
        end as arpa
    from scaled
),

trailing_churn as (
    select
        current_month.month,
        current_month.segment,
        avg(window_month.logo_churn_rate) as mean_logo_churn_rate
    from rates as current_month
    join rates as window_month
        on window_month.segment = current_month.segment
        and window_month.month >= cast(current_month.month - interval 2 months as date)
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
        cast(rates.arpa as decimal(38, 6)) as arpa,
        cast(cast(rates.arpa as double) * 1.0::double
            / nullif(trailing_churn.mean_logo_churn_rate, 0) as decimal(38, 6)) as ltv,
        rates.month
    from rates
    join trailing_churn
        on trailing_churn.month = rates.month
        and trailing_churn.segment = rates.segment
)

select * from final;

-- retention_forecast: one row per projected month after the last complete one
-- (sql/marts/retention_forecast.sql), from the trailing 3 complete months of `all`, for 36
-- months: mrr_t = mrr_{t-1} × g + new with g = 1 + expansion − contraction − churn, in
-- closed form, in doubles; churn_exceeds_new and the first such month.
create or replace temp table retention_forecast_all as
with history as (
    select *
    from retention_monthly_all
    where segment = 'all'
    order by month desc
    limit 3
),

trailing_rates as (
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
        trailing_rates.*,
        cast(last.mrr_end as double) as mrr_0,
        cast(date_part('year', trailing_rates.last_month) as bigint) * 12
            + cast(date_part('month', trailing_rates.last_month) as bigint) - 1 as month_index,
        1.0::double + coalesce(expansion_rate, 0) - coalesce(contraction_rate, 0)
            - coalesce(churn_rate, 0) as growth
    from trailing_rates
    join history as last on last.month = trailing_rates.last_month
),

steps as (
    select range as step from range(1, 36 + 1)
),

projected as (
    select
        steps.step,
        make_date(
            cast((start.month_index + steps.step) // 12 as int),
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
                + start.new_mrr * (1.0::double - power(start.growth, steps.step - 1)) / (1.0::double - start.growth)
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

select * from final order by month;

-- churn_cohorts: one row per signup cohort (the month of an account's first start_date) and
-- months since it; periods whose first day is on or before the as-of date
-- (sql/marts/churn_cohorts.sql).
create or replace temp table churn_cohorts_all as
with boundaries as (
    select
        boundary,
        cast(date_part('year', boundary) as bigint) * 12 + cast(date_part('month', boundary) as bigint) as month_index
    from month_boundaries
),

lines as (
    select account_id, mrr_reporting, start_date, end_date
    from stg_handoffs
    where start_date <= date '${as_of}'
),

cohorts as (
    select
        account_id,
        min(start_date) as first_start_date,
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
        and lines.start_date <= cohorts.first_start_date
        and (lines.end_date is null or cohorts.first_start_date < lines.end_date)
    group by cohorts.account_id, cohorts.cohort_month
),

sizes as (
    select cohort_month, count(*) as cohort_size, sum(initial_mrr) as initial_mrr
    from initial
    group by cohort_month
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
    left join boundary_snapshots as snapshots
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

select * from final;

-- health_cohorts: one row per observation date and band; band 'all' carries the date's AUC
-- and surprise-churn rate (sql/marts/health_cohorts.sql). Observations are every month
-- start o with o + 90 days on or before the as-of date; an account active and scored on o
-- churned when inactive on o + 90; a churn at boundary E in (o, o + 90] is a surprise when
-- the account's band on E − 30 days was green.
create or replace temp table health_cohorts_all as
with lines as (
    select account_id, start_date, end_date
    from stg_handoffs
    where start_date <= date '${as_of}'
),

observations as (
    select boundary as observation_date
    from month_boundaries
    where boundary + 90 <= date '${as_of}'
      and (
        cast(date_part('year', boundary) as bigint) * 12 + cast(date_part('month', boundary) as bigint)
      ) % 1 = 0
),

observed as (
    select distinct
        observations.observation_date,
        lines.account_id
    from observations
    join lines
        on lines.start_date <= observations.observation_date
        and (lines.end_date is null or observations.observation_date < lines.end_date)
),

at_horizon as (
    select
        observed.observation_date,
        observed.account_id,
        count(lines.account_id) = 0 as churned
    from observed
    left join lines
        on lines.account_id = observed.account_id
        and lines.start_date <= observed.observation_date + 90
        and (lines.end_date is null or observed.observation_date + 90 < lines.end_date)
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
    join health_scores_all as health
        on health.account_id = observed.account_id
        and health.as_of_date = observed.observation_date
    where health.score is not null
),

ranked as (
    select
        *,
        rank() over (partition by observation_date order by score)
            + (count(*) over (partition by observation_date, score) - 1) / 2.0::double as average_rank
    from outcomes
),

-- Mann–Whitney U from average ranks: P(a churner's score < a non-churner's), ties ½.
auc as (
    select
        observation_date,
        (
            sum(case when not churned then average_rank else 0 end)
            - count(*) filter (where not churned) * (count(*) filter (where not churned) + 1) / 2.0::double
        ) / nullif(
            cast(count(*) filter (where churned) as double) * count(*) filter (where not churned),
            0
        ) as auc
    from ranked
    group by observation_date
),

churn_events as (
    select
        observations.observation_date,
        movements.account_id,
        movements.month_end
    from observations
    join (
        select account_id, cast(month + interval 1 month as date) as month_end
        from mrr_monthly_all
        where movement = 'churn'
    ) as movements
        on movements.month_end > observations.observation_date
        and movements.month_end <= observations.observation_date + 90
),

surprises as (
    select
        churn_events.observation_date,
        count(*) as churns,
        count(*) filter (where lead.band = 'green') as surprise_churns
    from churn_events
    left join health_scores_all as lead
        on lead.account_id = churn_events.account_id
        and lead.as_of_date = churn_events.month_end - 30
    group by churn_events.observation_date
),

per_band as (
    select
        observation_date,
        band,
        count(*) as accounts,
        count(*) filter (where churned) as churned,
        cast(null as double) as auc,
        cast(null as double) as surprise_churn_rate
    from outcomes
    group by observation_date, band
),

all_bands as (
    select
        outcomes.observation_date,
        'all' as band,
        count(*) as accounts,
        count(*) filter (where outcomes.churned) as churned,
        max(auc.auc) as auc,
        max(cast(surprises.surprise_churns as double) / nullif(surprises.churns, 0)) as surprise_churn_rate
    from outcomes
    join auc on auc.observation_date = outcomes.observation_date
    left join surprises on surprises.observation_date = outcomes.observation_date
    group by outcomes.observation_date
),

final as (
    select
        observation_date,
        band,
        accounts,
        churned,
        cast(churned as double) / nullif(accounts, 0) as churn_rate,
        auc,
        surprise_churn_rate
    from (
        select * from per_band
        union all
        select * from all_bands
    )
)

select * from final;

-- ---------------------------------------------------------------------------------------
-- Output, laid out like the warehouse: the requested date's partition of the dated tables,
-- the whole tables as one file each (run_build.py creates their directories).

copy (select * from customer_daily_all where as_of_date = date '${as_of}')
to '${out}/customer_daily'
(format parquet, compression zstd, partition_by (as_of_date), overwrite_or_ignore true, filename_pattern 'part-{i}');

copy (select * from health_scores_all where as_of_date = date '${as_of}')
to '${out}/health_scores'
(format parquet, compression zstd, partition_by (as_of_date), overwrite_or_ignore true, filename_pattern 'part-{i}');

copy (select * from playbook_actions_all)
to '${out}/playbook_actions'
(format parquet, compression zstd, partition_by (as_of_date), overwrite_or_ignore true, filename_pattern 'part-{i}');

copy mrr_monthly_all to '${out}/mrr_monthly/part-0.parquet' (format parquet, compression zstd);

copy retention_monthly_all to '${out}/retention_monthly/part-0.parquet' (format parquet, compression zstd);

copy retention_forecast_all to '${out}/retention_forecast/part-0.parquet' (format parquet, compression zstd);

copy churn_cohorts_all to '${out}/churn_cohorts/part-0.parquet' (format parquet, compression zstd);

copy health_cohorts_all to '${out}/health_cohorts/part-0.parquet' (format parquet, compression zstd);
