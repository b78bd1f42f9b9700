-- window_figures: the sweep's input for customer_daily's windowed figures (contract §4) —
-- grain: one row per account and day on which a figure changes (is_date = 0), and one row
-- per account and as-of date (is_date = 1) for every account with a contract line started
-- by that date, in account and day order with a date after the changes it takes in. The
-- running sums over these rows (src/marts/sweep.rs) give one row per account and as-of date:
-- events, active users, active days and features over the 7 and 30 days ending on the date,
-- help-site views and readers over 30, tickets created over 30 and 90, open tickets on the
-- date, bad CSAT over 90, and the days since the latest active day. Point in time: a date's
-- figures read only events and views dated on or before it and tickets created on or before
-- it (with their latest state).
--
-- Each fact becomes a change on the day it enters a window and one on the day it leaves;
-- a date's figure is the sum of its account's changes up to its day. Distinct keys (users,
-- features, readers) are grouped per key, never sorted by key and day. The changes are first
-- added up per account and per date they first reach (the dates run from day ${first_day}
-- to day ${last_day}), so the running sums go over dates, not days. Only the days from
-- ${from_date} (29 days before the first date) through ${last_date} reach the dates'
-- windows, so events and views outside them are not swept: of those before, only each
-- account's latest active day counts (days_since_last_seen), kept per month. The cost
-- follows the days swept and the account-dates summed, so a backfill sweeps its dates in
-- parts.
with as_of as (
    select as_of_date, cast(as_of_date as int) as as_of_day
    from as_of_dates
),

events as (
    select account_id, event_date, user_id, event
    from stg_events
    where account_id is not null
        and event_date between date '${from_date}' and date '${last_date}'
),

pageviews as (
    select account_id, event_date, coalesce(user_id, anonymous_id) as reader
    from stg_pageviews
    where account_id is not null
        and event_date between date '${from_date}' and date '${last_date}'
),

account_starts as (
    select account_id, min(cast(start_date as int)) as first_day
    from stg_handoffs
    group by account_id
),

account_dates as (
    select account_starts.account_id, as_of.as_of_date, as_of.as_of_day
    from as_of
    join account_starts on account_starts.first_day <= as_of.as_of_day
),

-- What each account did per day: its product events and its help-site views.
day_amounts as (
    select account_id, cast(event_date as int) as day, 'events' as kind, count(*) as amount
    from events
    group by account_id, event_date
    union all
    select account_id, cast(event_date as int), 'pageviews', count(*)
    from pageviews
    group by account_id, event_date
),

-- Each key's changes to the distinct counts: active users, features and help-site readers.
-- A key active on day d is in the W-day windows of the dates d to d + W - 1, so a run of its
-- active days at most W apart counts once, from the run's first day to its last day + W - 1
-- (`key_window_changes`, src/marts/key_windows.rs, gives +1 on the first day and -1 W days
-- after the last, for W = 7 and 30). Null keys (no user, no reader) are never counted.
key_windows as (
    select account_id, kind, changes
    from (
        select
            account_id,
            case when grouping(user_id) = 0 then 'active_users' else 'features' end as kind,
            case when grouping(user_id) = 0 then user_id else event end as key,
            key_window_changes(cast(event_date as int), ${from_day}, ${last_day}) as changes
        from events
        group by grouping sets ((account_id, user_id), (account_id, event))
    )
    where key is not null
    union all
    select account_id, 'help_readers',
        key_window_changes(cast(event_date as int), ${from_day}, ${last_day})
    from pageviews
    where reader is not null
    group by account_id, reader
),

key_changes as (
    select account_id, kind, cast(change['day'] as bigint) as day,
        cast(change['in_7d'] as bigint) as in_7d, cast(change['in_30d'] as bigint) as in_30d
    from (
        select account_id, kind, unnest(changes) as change
        from key_windows
    )
),

-- Each day's amounts as changes on the day they enter a window (days = 0) and on the days
-- they leave the 7 and 30-day windows (days = 7, 30), then the keys' changes.
activity_changes as (
    select
        account_id,
        cast(day + days as bigint) as day,
        case
            when kind <> 'events' or days = 30 then 0
            when days = 0 then amount
            else -amount
        end as events_7d,
        case
            when kind <> 'events' or days = 7 then 0
            when days = 0 then amount
            else -amount
        end as events_30d,
        case
            when kind <> 'events' or days = 7 then 0
            when days = 0 then 1
            else -1
        end as active_days_30d,
        0 as active_users_7d,
        0 as active_users_30d,
        0 as distinct_features_30d,
        case
            when kind <> 'pageviews' or days = 7 then 0
            when days = 0 then amount
            else -amount
        end as pageviews_30d,
        0 as help_readers_30d,
        case when kind = 'events' and days = 0 then day end as active_day
    from (
        select *, unnest(make_array(0, 7, 30)) as days
        from day_amounts
    )
    union all
    select
        account_id,
        day,
        0,
        0,
        0,
        case when kind = 'active_users' then in_7d else 0 end,
        case when kind = 'active_users' then in_30d else 0 end,
        case when kind = 'features' then in_30d else 0 end,
        0,
        case when kind = 'help_readers' then in_30d else 0 end,
        cast(null as int)
    from key_changes
),

tickets as (
    select
        account_id,
        cast(created_date as int) as created_day,
        -- A ticket solved before it was created is never open (greatest skips nulls, so an
        -- unsolved ticket's null is kept apart).
        case
            when solved_date is not null
            then greatest(cast(solved_date as int), cast(created_date as int))
        end as closed_day,
        case when priority in ('high', 'urgent') then 1 else 0 end as high_urgent,
        case when satisfaction = 'bad' then 1 else 0 end as bad_csat
    from stg_tickets
    where account_id is not null
),

-- A ticket counts in the 30 and 90 days from its creation, and is open from its creation
-- until the day it is solved.
ticket_changes as (
    select account_id, cast(created_day as bigint) as day, 1 as tickets_30d, 1 as tickets_90d,
        1 as open_tickets, high_urgent as open_high_urgent, bad_csat as bad_csat_90d
    from tickets
    union all
    select account_id, cast(created_day + 30 as bigint), -1, 0, 0, 0, 0
    from tickets
    union all
    select account_id, cast(created_day + 90 as bigint), 0, -1, 0, 0, -bad_csat
    from tickets
    union all
    select account_id, cast(closed_day as bigint), 0, 0, -1, -high_urgent, 0
    from tickets
    where closed_day is not null
),

${metric_ctes}changes as (
    select
        *,
        0 as tickets_30d,
        0 as tickets_90d,
        0 as open_tickets,
        0 as open_high_urgent,
        0 as bad_csat_90d${metric_zeros}
    from activity_changes
    where events_7d <> 0 or events_30d <> 0 or active_days_30d <> 0 or active_users_7d <> 0
        or active_users_30d <> 0 or distinct_features_30d <> 0 or pageviews_30d <> 0
        or help_readers_30d <> 0 or active_day is not null
    union all
    select account_id, day, 0, 0, 0, 0, 0, 0, 0, 0, cast(null as int),
        tickets_30d, tickets_90d, open_tickets, open_high_urgent, bad_csat_90d${metric_zeros}
    from ticket_changes
    union all
    -- The latest active day before the swept days: from the months kept before the first
    -- swept day's month (last_active_months, src/marts/last_active.rs) and that month's
    -- days before it.
    select account_id, cast(max(day) as bigint), 0, 0, 0, 0, 0, 0, 0, 0, max(day), 0, 0, 0, 0, 0${metric_zeros}
    from (
        select account_id, last_active_day as day
        from last_active_months
        union all
        select account_id, cast(event_date as int)
        from stg_events
        where account_id is not null
            and event_date >= date '${month_start}' and event_date < date '${from_date}'
    )
    group by account_id
${metric_branch}),

-- Every day through the last date, with the first date on or after it: the date whose
-- running sums first take in that day's changes. Changes before the first date go to it.
buckets as (
    select cast(days.value as bigint) as day, min(as_of.as_of_day) as as_of_day
    from (select unnest(generate_series(${first_day}, ${last_day})) as value) as days
    join as_of on as_of.as_of_day >= days.value
    group by days.value
),

-- Each account's changes added up per date they first reach: one row per account and date
-- at most, so the running sums below go over dates, not over days.
date_changes as (
    select
        changes.account_id,
        buckets.as_of_day as day,
        sum(events_7d) as events_7d,
        sum(events_30d) as events_30d,
        sum(active_days_30d) as active_days_30d,
        sum(active_users_7d) as active_users_7d,
        sum(active_users_30d) as active_users_30d,
        sum(distinct_features_30d) as distinct_features_30d,
        sum(pageviews_30d) as pageviews_30d,
        sum(help_readers_30d) as help_readers_30d,
        max(active_day) as active_day,
        sum(tickets_30d) as tickets_30d,
        sum(tickets_90d) as tickets_90d,
        sum(open_tickets) as open_tickets,
        sum(open_high_urgent) as open_high_urgent,
        sum(bad_csat_90d) as bad_csat_90d${metric_sums}
    from buckets
    join changes on buckets.day = greatest(changes.day, ${first_day})
    group by changes.account_id, buckets.as_of_day
),

-- The sweep's rows: each account's changes per date and its dates, in day order with a date
-- after the changes it takes in. The running sums are taken over them as they come, in
-- src/marts/sweep.rs: each date gets its account's sum of every change column up to it, and
-- days_since_last_seen from the latest active_day (a window sum per column here cost more
-- than the rest of the sweep).
final as (
    select
        account_id,
        cast(null as date) as as_of_date,
        day,
        0 as is_date,
        events_7d,
        events_30d,
        active_users_7d,
        active_users_30d,
        active_days_30d,
        distinct_features_30d,
        pageviews_30d,
        help_readers_30d,
        tickets_30d,
        tickets_90d,
        open_tickets,
        open_high_urgent,
        bad_csat_90d,
        active_day${metric_columns}
    from date_changes
    union all
    select account_id, as_of_date, cast(as_of_day as bigint), 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, cast(null as int)${metric_date_zeros}
    from account_dates
)

select * from final
order by account_id, day, is_date
