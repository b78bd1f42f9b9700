-- mrr_monthly: one row per account per month in which the account is active at the month's
-- start S or at its end E (SPEC §5). Only boundary snapshots count; amounts in reporting
-- currency, exact decimals. `month_boundaries` holds every month start from the first line's
-- month up to the last boundary on or before the as-of date; `boundary_snapshots` the MRR of
-- every active account on each of them.
with boundaries as (
    select boundary
    from month_boundaries
),

lines as (
    select
        account_id,
        deal_id,
        segment,
        closed_at,
        mrr_reporting,
        start_date,
        cast(start_date as int) as start_day,
        cast(end_date as int) as end_day
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
    from boundaries as starts
    join boundaries as ends
        on ends.boundary = cast(starts.boundary + interval '1 month' as date)
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

segments as (
    select account_id, month, segment
    from (
        select
            classified.account_id,
            classified.month,
            lines.segment,
            -- SPEC §5: the most recent handoff with start_date before E. An account whose
            -- only line starts on E itself takes that line's segment.
            row_number() over (
                partition by classified.account_id, classified.month
                order by
                    lines.start_day < cast(classified.month_end as int) desc,
                    lines.start_date desc,
                    lines.closed_at desc nulls last,
                    lines.deal_id desc
            ) as handoff_rank
        from classified
        join lines
            on lines.account_id = classified.account_id
            and lines.start_day <= cast(classified.month_end as int)
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

select * from final
