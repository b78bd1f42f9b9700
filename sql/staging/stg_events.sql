-- stg_events: one row per message_id of a Segment track call, partitioned by event_date.
-- A repeated messageId is one event: the first read wins. An event without context.groupId
-- belongs to the account of the user's latest group call at or before it (contract §1); with
-- none it keeps a null account (an orphan).
${first_read}

final as (
    select
        first_read.message_id,
        first_read.timestamp,
        first_read.user_id,
        first_read.anonymous_id,
        coalesce(first_read.account_id, identity_spans.account_id) as account_id,
        first_read.event,
        first_read.properties,
        first_read.event_date
${as_of_account}
)

select * from final
