-- stg_pageviews: one row per message_id of a Segment page call, partitioned by event_date.
-- The first read wins; the account is context.groupId, else the user's account at the view
-- (as for events); anonymous views keep a null account and count in site totals only.
${first_read}

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
${as_of_account}
)

select * from final
