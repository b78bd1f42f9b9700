-- stg_identities: one row per message_id of a Segment group call (user → account).
-- A repeated messageId is one call: the first read wins (files in path order, then lines).
with source as (
    select * from raw_identities
),

ranked as (
    select
        *,
        row_number() over (partition by message_id order by _file_ord, _line) as version_rank
    from source
),

final as (
    select message_id, timestamp, user_id, account_id, traits
    from ranked
    where version_rank = 1
)

select * from final
