-- stg_nps: one row per response_id; a repeated response keeps the row read last (a later
-- export corrects an earlier one). An empty account_id takes the user's account at
-- responded_at through the identity map. responded_date is the local date of responded_at.
with source as (
    select * from raw_nps
),

ranked as (
    select
        *,
        row_number() over (
            partition by response_id
            order by _file_ord desc, _line desc
        ) as version_rank
    from source
),

latest as (
    select * from ranked where version_rank = 1
),

final as (
    select
        latest.response_id,
        coalesce(latest.account_id, identity_spans.account_id) as account_id,
        latest.user_id,
        latest.responded_at,
        latest.score,
        latest.comment,
        latest.responded_date
${as_of_account}
)

select * from final
