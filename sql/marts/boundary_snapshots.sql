-- boundary_snapshots: one row per account per month start (`month_boundaries`) on which at
-- least one of its lines is in force: MRR(a, d) of contract §5, the sum of the reporting-currency
-- mrr of the lines in force (a zero-MRR line still makes a row). A helper view, not written.
with boundaries as (
    select boundary, cast(boundary as int) as boundary_day
    from month_boundaries
),

lines as (
    select
        account_id,
        mrr_reporting,
        cast(start_date as int) as start_day,
        cast(end_date as int) as end_day
    from stg_handoffs
),

final as (
    select
        lines.account_id,
        boundaries.boundary,
        sum(lines.mrr_reporting) as mrr
    from boundaries
    join lines
        on lines.start_day <= boundaries.boundary_day
        and (lines.end_day is null or boundaries.boundary_day < lines.end_day)
    group by lines.account_id, boundaries.boundary
)

select * from final
