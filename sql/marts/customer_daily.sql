-- customer_daily: one row per account per as_of_date, for every date in `as_of_dates`.
-- An account has a row when it is active on the date, or was active on at least one of the
-- 90 days before it (lifecycle_stage 'churned', mrr 0). Strictly point in time: a row for D
-- reads only lines with start_date <= D, events and views with event_date <= D, tickets
-- created on or before D (with their latest state) and responses on or before D.
-- Day numbers (days since 1970-01-01) keep every window a plain integer comparison. The
-- `[[metrics]]` add their swept `w_*` figures, and their `m_<name>` columns after last_nps
-- (src/marts/metrics.rs).
with as_of as (
    select as_of_date, cast(as_of_date as int) as as_of_day
    from as_of_dates
),

-- The handoffs numbered per account in the order they become known: the latest known on a
-- date (latest start, then latest close, then deal_id) names the account, its owners and its
-- notes, and is the one numbered highest among the lines started by then.
handoffs as (
    select
        *,
        row_number() over (
            partition by account_id
            order by start_date, closed_at nulls first, deal_id
        ) as line_number
    from stg_handoffs
),

-- Only the columns the figures need: a line's text (names, notes, owners) is joined last, from
-- the one handoff each row takes, so the rows multiplied by dates carry no strings.
lines as (
    select
        account_id,
        line_number,
        start_date,
        end_date,
        seats,
        mrr_reporting,
        cast(start_date as int) as start_day,
        cast(end_date as int) as end_day
    from handoffs
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
        end as term_end,
        max(line_number) as handoff_line
    from known_lines
    group by account_id, as_of_date, as_of_day
),

-- The median resolution time of the tickets solved in the 90 days ending on each date: each
-- ticket joined to the dates whose window holds its solve day (an equi-join on a 90-day
-- spine, not a range join). The other ticket figures come with window_figures.
resolution as (
    select
        tickets.account_id,
        spine.as_of_date,
        median(
            (date_part('epoch', tickets.solved_at) - date_part('epoch', tickets.created_at)) / 3600.0
        ) as median_resolution_hours_90d
    from (
        select as_of.as_of_date, as_of.as_of_day, cast(as_of.as_of_day - days_back.value as int) as day
        from as_of
        cross join (select unnest(generate_series(0, 89)) as value) as days_back
    ) as spine
    join stg_tickets as tickets
        on cast(tickets.solved_date as int) = spine.day
        and cast(tickets.created_date as int) <= spine.as_of_day
    where tickets.account_id is not null
    group by tickets.account_id, spine.as_of_date
),

-- The latest response on or before each date: an account's responses and dates in one order
-- (a date after the responses of its day, those in the order they were given), each date
-- taking the score of the last response before it (a response always has a score). Counting
-- the responses so far gives a date the same count as the response it follows, and of the
-- rows sharing a count only that response has a score. (`last_value(score) ignore nulls`
-- says the same, but a plan cut into a cluster's stages loses its `ignore nulls`.) The
-- account-dates are window_figures' rows, the same as contract's.
nps as (
    select account_id, as_of_date, last_nps
    from (
        select
            account_id,
            as_of_date,
            max(score) over (partition by account_id, responses_so_far) as last_nps
        from (
            select
                account_id,
                as_of_date,
                score,
                count(score) over (
                    partition by account_id
                    order by day, is_date, responded_at, response_id
                    rows between unbounded preceding and current row
                ) as responses_so_far
            from (
                select
                    account_id,
                    cast(null as date) as as_of_date,
                    cast(responded_date as int) as day,
                    0 as is_date,
                    responded_at,
                    response_id,
                    score
                from stg_nps
                where account_id is not null
                union all
                select account_id, as_of_date, cast(as_of_date as int), 1, null, null, null
                from window_figures
            )
        )
    )
    where as_of_date is not null
),

figures as (
    select
        contract.account_id,
        contract.as_of_date,
        contract.handoff_line,
        contract.active,
        contract.mrr,
        contract.mrr * 12 as arr,
        case when contract.active then contract.seats end as seats,
        contract.first_start_date,
        case when contract.active then contract.term_end end as term_end,
        case when contract.active then cast(contract.term_end as int) - contract.as_of_day end as days_to_renewal,
        contract.as_of_day - contract.first_start_day as tenure_days,
        coalesce(windowed.active_users_7d, 0) as active_users_7d,
        coalesce(windowed.active_users_30d, 0) as active_users_30d,
        coalesce(windowed.events_7d, 0) as events_7d,
        coalesce(windowed.events_30d, 0) as events_30d,
        coalesce(windowed.active_days_30d, 0) as active_days_30d,
        coalesce(windowed.distinct_features_30d, 0) as distinct_features_30d,
        windowed.days_since_last_seen,
        coalesce(windowed.tickets_30d, 0) as tickets_30d,
        coalesce(windowed.tickets_90d, 0) as tickets_90d,
        coalesce(windowed.open_tickets, 0) as open_tickets,
        coalesce(windowed.open_high_urgent, 0) as open_high_urgent,
        coalesce(windowed.bad_csat_90d, 0) as bad_csat_90d,
        resolution.median_resolution_hours_90d,
        coalesce(windowed.pageviews_30d, 0) as pageviews_30d,
        coalesce(windowed.help_readers_30d, 0) as help_readers_30d,
        nps.last_nps${metric_figures}
    -- Right joins: the narrow figures are the hash joins' build sides, the contract rows
    -- (wider with each join) stream past them.
    from nps
    right join (
        resolution
        right join (
            window_figures as windowed
            right join contract
                on windowed.account_id = contract.account_id
                and windowed.as_of_date = contract.as_of_date
        )
            on resolution.account_id = contract.account_id
            and resolution.as_of_date = contract.as_of_date
    )
        on nps.account_id = contract.account_id
        and nps.as_of_date = contract.as_of_date
    where contract.active or contract.recently_active
),

-- The handoffs (one row per line, the smaller side) are the hash join's build side: the text
-- is held once, not once per date.
joined as (
    select
        figures.*,
        handoff.account_name,
        handoff.plan,
        handoff.segment,
        handoff.industry,
        handoff.region,
        handoff.employees,
        handoff.sales_owner,
        handoff.csm_owner,
        handoff.goal,
        handoff.kpi,
        handoff.decision_maker,
        handoff.champion,
        handoff.risks,
        (
            case when nullif(trim(handoff.goal), '') is not null then 1 else 0 end
            + case when nullif(trim(handoff.kpi), '') is not null then 1 else 0 end
            + case when nullif(trim(handoff.decision_maker), '') is not null then 1 else 0 end
            + case when nullif(trim(handoff.champion), '') is not null then 1 else 0 end
        ) / 4.0 as handoff_completeness
    from handoffs as handoff
    join figures
        on figures.account_id = handoff.account_id
        and figures.handoff_line = handoff.line_number
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
        cast(active_users_30d as double) / nullif(seats, 0) as seat_utilization${metric_values}
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
        last_nps,${metric_columns}
        ${maturity_level} as maturity_level,
        ${touch_model} as touch_model,
        as_of_date
    from staged
)

select * from final
