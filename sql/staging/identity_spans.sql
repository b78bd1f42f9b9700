-- identity_spans: one row per group call, giving the interval in which it is the user's
-- latest group call: [valid_from, valid_to). Spans of one user never overlap, so an as-of
-- lookup is a join on user_id and valid_from <= t < valid_to, matching at most one span.
with identities as (
    select * from stg_identities
),

final as (
    select
        user_id,
        account_id,
        timestamp as valid_from,
        lead(timestamp) over (
            partition by user_id
            order by timestamp, message_id
        ) as valid_to
    from identities
)

select * from final
