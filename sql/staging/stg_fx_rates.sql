-- stg_fx_rates: one row per (currency, date).
-- A pair given twice keeps the row read last (files in path order, then lines).
with source as (
    select * from raw_fx_rates
),

ranked as (
    select
        *,
        row_number() over (
            partition by currency, date
            order by _file_ord desc, _line desc
        ) as version_rank
    from source
),

final as (
    select date, currency, rate
    from ranked
    where version_rank = 1
)

select * from final
