-- repeated_pageviews: one row per message_id of a Segment page call read more than once,
-- with where its first read is (files in path order, then line order, packed as
-- _file_ord * 2^32 + _line) and how many later reads lost to it. Few ids repeat, so this is
-- small: stg_pageviews joins it to keep each first read without sorting every row.
with source as (
    select * from raw_pageviews
),

final as (
    select
        message_id,
        min(cast(_file_ord as bigint) * 4294967296 + _line) as first_read,
        count(*) - 1 as later_reads
    from source
    group by message_id
    having count(*) > 1
)

select * from final
