-- customer_daily: one row per account per as_of_date, for every date in `as_of_dates`.
-- An account has a row when it is active on the date, or was active on at least one of the
-- 90 days before it (lifecycle_stage 'churned', mrr 0). Strictly point in time: a row for D
-- reads only lines with start_date <= D, events and views with event_date <= D, tickets
-- created on or before D (with their latest state) and responses on or before D.
-- Day numbers (days since 1970-01-01) keep every window a plain integer comparison.
with as_of as (
    select as_of_date, cast(as_of_date as int) as as_of_day
    from as_of_dates
),

-- The 30 days of each date's window, so windows are equi-joins on the day rather than range
-- joins (which DataFusion runs as nested loops over every fact row).
as_of_window as (
    select as_of.as_of_date, as_of.as_of_day, cast(as_of.as_of_day - days_back.value as int) as day
    from as_of
    cross join generate_series(0, 29) as days_back
),

lines as (
    select
        *,
        cast(start_date as int) as start_day,
        cast(end_date as int) as end_day
    from stg_handoffs
),

known_lines as (
    select
        as_of.as_of_date,
        as_of.as_of_day,
        lines.*,
        (lines.end_day is null or as_of.as_of_day < lines.end_day) as in_force,
        -- In force on at least one of the 90 days before the date.
        (
            lines.start_day <= as_of.as_of_day - 1
            and (lines.end_day is null or lines.end_day > as_of.as_of_day - 90)
            and (lines.end_day is null or lines.start_day < lines.end_day)
        ) as recently_in_force
    from as_of
    join lines on lines.start_day <= as_of.as_of_day
),

contract as (
    select
        account_id,
        as_of_date,
        as_of_day,
        bool_or(in_force) as active,
        bool_or(recently_in_force) as recently_active,
        coalesce(sum(case when in_force then mrr_reporting end), cast(0 as decimal(38, 6))) as mrr,
        sum(case when in_force then seats end) as seats,
        min(start_date) as first_start_date,
        min(start_day) as first_start_day,
        case
            when bool_or(in_force and end_date is null) then null
            else max(case when in_force then end_date end)
        end as term_end
    from known_lines
    group by account_id, as_of_date, as_of_day
),

latest_handoff as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by account_id, as_of_date
                order by start_date desc, closed_at desc nulls last, deal_id desc
            ) as handoff_rank
        from known_lines
    )
    where handoff_rank = 1
),

user_days as (
    select
        account_id,
        user_id,
        cast(event_date as int) as event_day,
        event,
        count(*) as events
    from stg_events
    where account_id is not null
    group by account_id, user_id, cast(event_date as int), event
),

-- The (account, user, day, event) rows of every date's 30-day window.
windowed as (
    select
        user_days.account_id,
        as_of_window.as_of_date,
        as_of_window.as_of_day,
        user_days.user_id,
        user_days.event_day,
        user_days.event,
        user_days.events
    from as_of_window
    join user_days on user_days.event_day = as_of_window.day
),

-- One aggregation gives each window's users, days and features (a row per distinct value,
-- marked by which set it belongs to): counting rows then counts distinct values, without
-- count(distinct), whose per-group hash sets are slow and escape the memory pool.
window_sets as (
    select
        account_id,
        as_of_date,
        as_of_day,
        event_day,
        sum(events) as events,
        max(event_day) as last_day,
        grouping(user_id) as no_user,
        grouping(event_day) as no_day
    from windowed
    group by grouping sets (
        (account_id, as_of_date, as_of_day, user_id),
        (account_id, as_of_date, as_of_day, event_day),
        (account_id, as_of_date, as_of_day, event)
    )
),

usage as (
    select
        account_id,
        as_of_date,
        sum(events) filter (where no_day = 0 and event_day > as_of_day - 7) as events_7d,
        sum(events) filter (where no_day = 0) as events_30d,
        count(*) filter (where no_user = 0 and last_day > as_of_day - 7) as active_users_7d,
        count(*) filter (where no_user = 0) as active_users_30d,
        count(*) filter (where no_day = 0) as active_days_30d,
        count(*) filter (where no_user = 1 and no_day = 1) as distinct_features_30d
    from window_sets
    group by account_id, as_of_date
),

account_days as (
    select distinct account_id, event_day from user_days
),

-- The latest active day on or before each date: the account's dates placed among its active
-- days (a date after an active day of the same day number), with a running max.
last_seen as (
    select account_id, as_of_date, day - last_active_day as days_since_last_seen
    from (
        select
            account_id,
            as_of_date,
            day,
            max(active_day) over (
                partition by account_id
                order by day, is_date
                rows between unbounded preceding and current row
            ) as last_active_day
        from (
            select account_id, cast(null as date) as as_of_date, event_day as day, event_day as active_day, 0 as is_date
            from account_days
            union all
            select account_id, as_of_date, as_of_day, cast(null as int), 1
            from contract
        )
    )
    where as_of_date is not null and last_active_day is not null
),

tickets as (
    select
        *,
        cast(created_date as int) as created_day,
        cast(solved_date as int) as solved_day,
        (date_part('epoch', solved_at) - date_part('epoch', created_at)) / 3600.0 as resolution_hours
    from stg_tickets
    where account_id is not null
),

support as (
    select
        tickets.account_id,
        as_of.as_of_date,
        count(*) filter (where tickets.created_day > as_of.as_of_day - 30) as tickets_30d,
        count(*) filter (where tickets.created_day > as_of.as_of_day - 90) as tickets_90d,
        count(*) filter (
            where tickets.solved_day is null or tickets.solved_day > as_of.as_of_day
        ) as open_tickets,
        count(*) filter (
            where (tickets.solved_day is null or tickets.solved_day > as_of.as_of_day)
            and tickets.priority in ('high', 'urgent')
        ) as open_high_urgent,
        count(*) filter (
            where tickets.created_day > as_of.as_of_day - 90 and tickets.satisfaction = 'bad'
        ) as bad_csat_90d,
        median(tickets.resolution_hours) filter (
            where tickets.solved_day > as_of.as_of_day - 90
            and tickets.solved_day <= as_of.as_of_day
        ) as median_resolution_hours_90d
    from as_of
    -- Only the tickets a figure can count: created in the 90 days, open at the date, or
    -- solved in the 90 days.
    join tickets
        on tickets.created_day <= as_of.as_of_day
        and (
            tickets.created_day > as_of.as_of_day - 90
            or tickets.solved_day is null
            or tickets.solved_day > as_of.as_of_day - 90
        )
    group by tickets.account_id, as_of.as_of_date
),

help_site as (
    select account_id, as_of_date, sum(views) as pageviews_30d, count(reader) as help_readers_30d
    from (
        select
            pageviews.account_id,
            as_of_window.as_of_date,
            coalesce(pageviews.user_id, pageviews.anonymous_id) as reader,
            count(*) as views
        from as_of_window
        join stg_pageviews as pageviews on cast(pageviews.event_date as int) = as_of_window.day
        where pageviews.account_id is not null
        group by 1, 2, 3
    )
    group by account_id, as_of_date
),

-- The latest response on or before each date, found like last_seen: responses numbered in
-- order per account, each date placed after the responses of its day.
responses as (
    select
        account_id,
        score,
        cast(responded_date as int) as responded_day,
        row_number() over (
            partition by account_id order by responded_at, response_id
        ) as response_number
    from stg_nps
    where account_id is not null
),

nps as (
    select latest.account_id, latest.as_of_date, responses.score as last_nps
    from (
        select
            account_id,
            as_of_date,
            max(response_number) over (
                partition by account_id
                order by day, is_date
                rows between unbounded preceding and current row
            ) as response_number
        from (
            select account_id, cast(null as date) as as_of_date, responded_day as day, response_number, 0 as is_date
            from responses
            union all
            select account_id, as_of_date, as_of_day, cast(null as bigint), 1
            from contract
        )
    ) as latest
    join responses
        on responses.account_id = latest.account_id
        and responses.response_number = latest.response_number
    where latest.as_of_date is not null
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
        case when contract.active then cast(contract.term_end as int) - contract.as_of_day end as days_to_renewal,
        contract.as_of_day - contract.first_start_day as tenure_days,
        latest_handoff.goal,
        latest_handoff.kpi,
        latest_handoff.decision_maker,
        latest_handoff.champion,
        latest_handoff.risks,
        (
            case when nullif(trim(latest_handoff.goal), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.kpi), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.decision_maker), '') is not null then 1 else 0 end
            + case when nullif(trim(latest_handoff.champion), '') is not null then 1 else 0 end
        ) / 4.0 as handoff_completeness,
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

staged as (
    select
        *,
        case
            when not active then 'churned'
            when days_to_renewal is not null and days_to_renewal <= ${renewal_window_days} then 'renewal'
            when tenure_days < ${onboarding_days} then 'onboarding'
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
        ${maturity_level} as maturity_level,
        ${touch_model} as touch_model,
        as_of_date
    from staged
)

select * from final
