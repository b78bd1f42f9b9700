-- identity_spans: one row per group call, giving the interval in which it is the user's
-- latest group call: [valid_from, valid_to). Spans of one user never overlap, so an as-of
-- lookup is a join on user_id and valid_from <= t < valid_to, matching at most one span.
-- ${identities} is stg_identities, or (in an append) the calls of the users whose new rows
-- resolve through their spans: a user's spans come from their calls alone.
with identities as (
    select * from ${identities}
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
