-- mrr_monthly: one row per account per month in which the account is active at the month's
-- start S or at its end E (contract §5). Only boundary snapshots count; amounts in reporting
-- currency, exact decimals. `month_boundaries` holds every month start from the first line's
-- month up to the last boundary on or before the as-of date; `boundary_snapshots` the MRR of
-- every active account on each of them.
with lines as (
    select
        account_id,
        deal_id,
        segment,
        closed_at,
        cast(start_date as int) as start_day
    from stg_handoffs
),

snapshots as (
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
        on ends.boundary = cast(starts.boundary + interval '1 month' as date)
),

-- A snapshot is the start of its month and the end of the month before: both sides of an
-- account's month meet in one group (each side at most one snapshot).
sides as (
    select
        snapshots.account_id,
        months.month,
        months.month_end,
        snapshots.mrr as at_start,
        cast(null as decimal(38, 6)) as at_end
    from months
    join snapshots on snapshots.boundary = months.month
    union all
    select
        snapshots.account_id,
        months.month,
        months.month_end,
        cast(null as decimal(38, 6)) as at_start,
        snapshots.mrr as at_end
    from months
    join snapshots on snapshots.boundary = months.month_end
),

account_months as (
    select account_id, month, month_end, max(at_start) as at_start, max(at_end) as at_end
    from sides
    group by account_id, month, month_end
),

movements as (
    select
        account_months.account_id,
        account_months.month,
        account_months.month_end,
        account_months.at_start is not null as active_start,
        account_months.at_end is not null as active_end,
        coalesce(account_months.at_start, cast(0 as decimal(38, 6))) as mrr_start,
        coalesce(account_months.at_end, cast(0 as decimal(38, 6))) as mrr_end,
        first_active.first_boundary
    from first_active
    join account_months on account_months.account_id = first_active.account_id
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

-- contract §5: a month's segment is that of the most recent handoff with start_date before E;
-- an account whose only lines start on E itself takes theirs. Of the lines starting on one
-- day, the latest closed (then the greatest deal_id) counts.
day_lines as (
    select
        account_id,
        segment,
        start_day,
        row_number() over (
            partition by account_id, start_day
            order by closed_at desc nulls last, deal_id desc
        ) as day_rank
    from lines
),

-- So each start day's line holds the segment for the month ends after that day up to and
-- including the next start day, and the first one also on its own day.
segment_spans as (
    select
        account_id,
        segment,
        start_day,
        lead(start_day) over (partition by account_id order by start_day) as next_start_day,
        row_number() over (partition by account_id order by start_day) = 1 as first_span
    from day_lines
    where day_rank = 1
),

final as (
    select
        classified.account_id,
        coalesce(segment_spans.segment, 'unknown') as segment,
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
    left join segment_spans
        on segment_spans.account_id = classified.account_id
        and (
            segment_spans.start_day < cast(classified.month_end as int)
            or (segment_spans.first_span and segment_spans.start_day = cast(classified.month_end as int))
        )
        and (
            segment_spans.next_start_day is null
            or cast(classified.month_end as int) <= segment_spans.next_start_day
        )
)

select * from final
