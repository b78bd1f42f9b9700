-- stg_pageviews: one row per message_id of a Segment page call, partitioned by event_date.
-- The first read wins; the account is context.groupId, else the user's account at the view
-- (as for events); anonymous views keep a null account and count in site totals only.
with source as (
    select * from raw_pageviews
),

ranked as (
    select
        *,
        row_number() over (partition by message_id order by _file_ord, _line) as version_rank
    from source
),

first_read as (
    select * from ranked where version_rank = 1
),

final as (
    select
        first_read.message_id,
        first_read.timestamp,
        first_read.user_id,
        first_read.anonymous_id,
        coalesce(first_read.account_id, identity_spans.account_id) as account_id,
        first_read.path,
        first_read.url,
        first_read.title,
        first_read.referrer,
        first_read.event_date
    from first_read
    left join identity_spans
        on first_read.account_id is null
        and identity_spans.user_id = first_read.user_id
        and identity_spans.valid_from <= first_read.timestamp
        and (identity_spans.valid_to is null or first_read.timestamp < identity_spans.valid_to)
)

select * from final
