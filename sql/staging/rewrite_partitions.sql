-- rewrite_partitions: when ingest appends to a staged table partitioned by event_date
-- (stg_events, stg_pageviews), the partitions it rewrites: every message_id the new files
-- carry, restaged from all its reads (${model}_restaged), and the other rows those partitions
-- held. ${model} is the staged table, ${raw} its raw table, ${dates} the partitions.
with restaged as (
    select * from ${model}_restaged
),

new_ids as (
    select distinct message_id from new_raw_${raw}
),

-- The new ids are the hash join's build side: the staged rows stream past them, and only
-- the partitions rewritten are read.
kept as (
    select staged.*
    from new_ids
    right join previous_${model} as staged on staged.message_id = new_ids.message_id
    where new_ids.message_id is null
        and staged.event_date in (${dates})
)

select * from restaged
union all
select * from kept
