-- first_read (included by stg_events and stg_pageviews): the calls of ${calls} that stand.
-- A call stands unless its message_id repeats (${repeats}, from repeated_reads.sql) and
-- this is not its first read.
with source as (
    select * from ${calls}
),

first_read as (
    select source.*
    from ${repeats} as repeated
    right join source on source.message_id = repeated.message_id
    where repeated.message_id is null
        or cast(source._file_ord as bigint) * 4294967296 + source._line = repeated.first_read
),
