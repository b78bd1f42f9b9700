-- stg_handoffs: one row per deal_id (one contract line).
-- The greatest updated_at wins (a missing updated_at loses); equal ones keep the row read last.
-- mrr is in the line's currency (arr / 12 already applied); mrr_reporting converts it at the
-- latest rate on or before start_date, fixed for the line's life (contract §1 fx_rates).
with source as (
    select * from raw_handoffs
),

ranked as (
    select
        *,
        row_number() over (
            partition by deal_id
            order by updated_at desc nulls last, _file_ord desc, _line desc
        ) as version_rank
    from source
),

latest as (
    select * from ranked where version_rank = 1
),

line_rates as (
    select
        latest.deal_id,
        stg_fx_rates.rate,
        row_number() over (
            partition by latest.deal_id
            order by stg_fx_rates.date desc
        ) as rate_rank
    from latest
    join stg_fx_rates
        on stg_fx_rates.currency = latest.currency
        and stg_fx_rates.date <= latest.start_date
    where latest.currency <> '${reporting_currency}'
),

final as (
    select
        latest.deal_id,
        latest.account_id,
        latest.account_name,
        latest.plan,
        latest.segment,
        latest.industry,
        latest.region,
        latest.employees,
        latest.seats,
        latest.start_date,
        latest.end_date,
        latest.mrr,
        latest.arr,
        latest.currency,
        case
            when latest.currency = '${reporting_currency}' then cast(1 as decimal(38, 10))
            else line_rates.rate
        end as fx_rate,
        case
            when latest.currency = '${reporting_currency}' then latest.mrr
            else fx_convert(latest.mrr, line_rates.rate)
        end as mrr_reporting,
        latest.sales_owner,
        latest.csm_owner,
        latest.closed_at,
        latest.updated_at,
        latest.goal,
        latest.kpi,
        latest.decision_maker,
        latest.champion,
        latest.risks,
        latest.notes
    from latest
    left join line_rates
        on line_rates.deal_id = latest.deal_id
        and line_rates.rate_rank = 1
)

select * from final
