-- kept_resolution: before ingest keeps a staged table that resolves an empty account through
-- the identity map (stg_tickets: requester_id at created_at; stg_nps: user_id at
-- responded_at) as the last run staged it, the rows whose account this run's group calls
-- could move: those of a user a new call names, or whose call a new read of the same
-- message_id may replace, at or after that call. Each is resolved through the spans of the
-- calls before (before_stg_identities) and after (stg_identities). A row moves when the two
-- differ and its staged account is not already the one after: a row that took its account
-- from the spans has the one before, and a row whose source named one keeps it (a row of
-- that kind counts when the spans disagree with it; that only costs a restage). The result
-- counts the rows that move, and the table is kept only when it is 0.
-- ${table} is the table as staged last run, ${user} and ${at} its user and time columns.
with new_calls as (
    select message_id, user_id, timestamp from new_raw_identities
),

-- New calls are the hash joins' build side: the staged rows stream past them.
touched as (
    select user_id, timestamp from new_calls
    union all
    select replaced.user_id, replaced.timestamp
    from new_calls
    join before_stg_identities as replaced on replaced.message_id = new_calls.message_id
),

since as (
    select user_id, min(timestamp) as since
    from touched
    where user_id is not null
    group by user_id
),

candidates as (
    select kept.${user} as user_id, kept.${at} as at, kept.account_id
    from since
    join ${table} as kept on kept.${user} = since.user_id and kept.${at} >= since.since
),

-- The spans of identity_spans.sql, for the touched users only, before and after.
calls as (
    select 'before' as side, old.user_id, old.account_id, old.timestamp, old.message_id
    from since
    join before_stg_identities as old on old.user_id = since.user_id
    union all
    select 'after' as side, new.user_id, new.account_id, new.timestamp, new.message_id
    from since
    join stg_identities as new on new.user_id = since.user_id
),

spans as (
    select
        side,
        user_id,
        account_id,
        timestamp as valid_from,
        lead(timestamp) over (
            partition by side, user_id
            order by timestamp, message_id
        ) as valid_to
    from calls
),

resolved as (
    select
        candidates.user_id,
        candidates.at,
        candidates.account_id as staged_account,
        before_spans.account_id as before_account,
        after_spans.account_id as after_account
    from candidates
    left join spans as before_spans
        on before_spans.side = 'before'
        and before_spans.user_id = candidates.user_id
        and before_spans.valid_from <= candidates.at
        and (before_spans.valid_to is null or candidates.at < before_spans.valid_to)
    left join spans as after_spans
        on after_spans.side = 'after'
        and after_spans.user_id = candidates.user_id
        and after_spans.valid_from <= candidates.at
        and (after_spans.valid_to is null or candidates.at < after_spans.valid_to)
)

select count(*) as moved
from resolved
where (before_account is distinct from after_account)
    and (staged_account is distinct from after_account)
