-- stg_events: one row per message_id of a Segment track call, partitioned by event_date.
-- A repeated messageId is one event: the first read wins. An event without context.groupId
-- belongs to the account of the user's latest group call at or before it (contract §1); with
-- none it keeps a null account (an orphan).
with source as (
    select * from raw_events
),

-- A row stands unless its message_id repeats and this is not the first read.
first_read as (
    select source.*
    from repeated_events as repeated
    right join source on source.message_id = repeated.message_id
    where repeated.message_id is null
        or cast(source._file_ord as bigint) * 4294967296 + source._line = repeated.first_read
),

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
