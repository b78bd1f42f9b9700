-- repeated_events, repeated_pageviews: one row per message_id of the Segment calls of
-- ${calls} (track calls, page calls) read more than once, with where its first read is
-- (files in path order, then line order, packed as _file_ord * 2^32 + _line) and how many
-- later reads lost to it. Few ids repeat, so this is small: stg_events and stg_pageviews
-- join it to keep each first read without sorting every row.
with source as (
    select * from ${calls}
),

-- Ids are grouped by their 64-bit hash (_id_hash) first: eight bytes a row instead of the
-- id. A hash read more than once is a repeated id's, or two ids' that share it.
repeated_hashes as (
    select _id_hash
    from source
    group by _id_hash
    having count(*) > 1
),

-- The few hashes are the hash join's build side; the ids decide.
final as (
    select
        source.message_id,
        min(cast(source._file_ord as bigint) * 4294967296 + source._line) as first_read,
        count(*) - 1 as later_reads
    from repeated_hashes
    join source on source._id_hash = repeated_hashes._id_hash
    group by source.message_id
    having count(*) > 1
)

select * from final
