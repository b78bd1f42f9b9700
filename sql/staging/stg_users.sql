-- stg_users: one row per user_id, from the user's latest Segment identify call
-- (greatest timestamp; equal ones keep the call read last).
with source as (
    select * from raw_users
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id
            order by timestamp desc, _file_ord desc, _line desc
        ) as version_rank
    from source
),

final as (
    select user_id, email, name, role, traits, timestamp as identified_at
    from ranked
    where version_rank = 1
)

select * from final
