-- stg_tickets: one row per ticket id, its latest version (greatest updated_at; equal ones
-- keep the row read last). An empty organization takes the requester's account at the
-- ticket's created_at through the identity map. created_date and solved_date are the local
-- (pipeline timezone) dates of created_at and solved_at.
with source as (
    select * from raw_tickets
),

ranked as (
    select
        *,
        row_number() over (
            partition by id
            order by updated_at desc nulls last, _file_ord desc, _line desc
        ) as version_rank
    from source
),

latest as (
    select * from ranked where version_rank = 1
),

final as (
    select
        latest.id,
        coalesce(latest.account_id, identity_spans.account_id) as account_id,
        latest.requester_id,
        latest.created_at,
        latest.updated_at,
        latest.solved_at,
        latest.status,
        latest.priority,
        latest.type,
        latest.subject,
        latest.tags,
        latest.satisfaction,
        latest.created_date,
        latest.solved_date
${as_of_account}
)

select * from final
