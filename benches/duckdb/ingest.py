"""DuckDB's side of the ingest benchmark: read the raw source files that `churnlake ingest`
reads (the layout `churnlake generate` writes) and write each source as Parquet.

    python3 benches/duckdb/ingest.py --data DIR --out DIR [--threads 2] [--memory-limit 3GB]

DuckDB parses and types the same fields churnlake maps (timestamps as TIMESTAMPTZ, money as
DECIMAL(38,6)), skipping rows it cannot parse (`ignore_errors`), and writes one zstd Parquet
file per source. It does less than churnlake: no quarantine with file and line, no
deduplication, no identity resolution, no event_date partitions (Segment calls are split
by type in one pass). Prints
{"seconds": S, "rows": {...}, "bytes_read": B} on stdout.
"""

import argparse
import glob
import json
import os
import time

import duckdb


def files(data, pattern):
    found = sorted(glob.glob(os.path.join(data, pattern)))
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in found) + "]", found


SEGMENT_COLUMNS = """{
    'type': 'VARCHAR', 'messageId': 'VARCHAR', 'timestamp': 'VARCHAR', 'userId': 'VARCHAR',
    'anonymousId': 'VARCHAR', 'event': 'VARCHAR', 'groupId': 'VARCHAR',
    'properties': 'JSON', 'traits': 'JSON', 'context': 'STRUCT(groupId VARCHAR)'
}"""

PAGE_COLUMNS = """{
    'type': 'VARCHAR', 'messageId': 'VARCHAR', 'timestamp': 'VARCHAR', 'userId': 'VARCHAR',
    'anonymousId': 'VARCHAR', 'context': 'STRUCT(groupId VARCHAR)',
    'properties': 'STRUCT(path VARCHAR, url VARCHAR, title VARCHAR, referrer VARCHAR)'
}"""

TICKET_COLUMNS = """{
    'id': 'VARCHAR', 'organization_id': 'VARCHAR', 'requester_id': 'VARCHAR',
    'created_at': 'VARCHAR', 'updated_at': 'VARCHAR', 'solved_at': 'VARCHAR',
    'status': 'VARCHAR', 'priority': 'VARCHAR', 'type': 'VARCHAR', 'subject': 'VARCHAR',
    'tags': 'VARCHAR[]', 'satisfaction_rating': 'STRUCT(score VARCHAR)'
}"""


def models(data):
    events, _ = files(data, "segment/events-*.ndjson*")
    pages, _ = files(data, "helpsite/pages-*.ndjson*")
    tickets, _ = files(data, "tickets/*.ndjson*")
    handoffs, _ = files(data, "handoffs/*.csv")
    nps, _ = files(data, "nps/*.csv")
    fx, _ = files(data, "fx/*.csv")
    segment = f"read_json({events}, format = 'newline_delimited', columns = {SEGMENT_COLUMNS}, ignore_errors = true)"
    return {
        # One pass over the Segment files, split by call type as churnlake splits them.
        "segment": f"""
            select type, messageId as message_id, try_cast(timestamp as timestamptz) as timestamp,
                   userId as user_id, anonymousId as anonymous_id,
                   coalesce(groupId, context.groupId) as account_id, event,
                   cast(properties as varchar) as properties, traits->>'email' as email,
                   traits->>'name' as name, traits->>'role' as role
            from {segment} where type in ('track', 'group', 'identify')""",
        "pageviews": f"""
            select messageId as message_id, try_cast(timestamp as timestamptz) as timestamp,
                   userId as user_id, anonymousId as anonymous_id, context.groupId as account_id,
                   properties.path as path, properties.url as url, properties.title as title,
                   properties.referrer as referrer
            from read_json({pages}, format = 'newline_delimited', columns = {PAGE_COLUMNS}, ignore_errors = true)""",
        "tickets": f"""
            select id, organization_id as account_id, requester_id,
                   try_cast(created_at as timestamptz) as created_at,
                   try_cast(updated_at as timestamptz) as updated_at,
                   try_cast(solved_at as timestamptz) as solved_at,
                   status, priority, type, subject, tags,
                   satisfaction_rating.score as satisfaction
            from read_json({tickets}, format = 'newline_delimited', columns = {TICKET_COLUMNS}, ignore_errors = true)""",
        "handoffs": f"""
            select deal_id, account_id, account_name, plan, segment, industry, region,
                   try_cast(employees as bigint) as employees, try_cast(seats as bigint) as seats,
                   try_cast(start_date as date) as start_date, try_cast(end_date as date) as end_date,
                   try_cast(mrr as decimal(38, 6)) as mrr, try_cast(arr as decimal(38, 6)) as arr,
                   currency, sales_owner, csm_owner,
                   try_cast(closed_at as timestamptz) as closed_at,
                   try_cast(updated_at as timestamptz) as updated_at,
                   goal, kpi, decision_maker, champion, risks, notes
            from read_csv({handoffs}, header = true, all_varchar = true, ignore_errors = true)""",
        "nps": f"""
            select response_id, account_id, user_id,
                   try_cast(responded_at as timestamptz) as responded_at,
                   try_cast(score as integer) as score, comment
            from read_csv({nps}, header = true, all_varchar = true, ignore_errors = true)""",
        "fx_rates": f"""
            select try_cast(date as date) as date, currency,
                   try_cast(rate as decimal(38, 10)) as rate
            from read_csv({fx}, header = true, all_varchar = true, ignore_errors = true)""",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    spill = os.path.join(args.out, "_spill")
    con = duckdb.connect()
    con.execute(f"set threads = {args.threads}")
    con.execute(f"set memory_limit = '{args.memory_limit}'")
    con.execute(f"set temp_directory = '{spill}'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set TimeZone = 'UTC'")
    started = time.monotonic()
    rows = {}
    for name, query in models(args.data).items():
        if name == "segment":
            target = os.path.join(args.out, name)
            options = "format parquet, compression zstd, partition_by (type), overwrite_or_ignore"
            pattern = f"{target}/**/*.parquet"
        else:
            target = os.path.join(args.out, f"{name}.parquet")
            options = "format parquet, compression zstd"
            pattern = target
        con.execute(f"copy ({query}) to '{target}' ({options})")
        rows[name] = con.execute(f"select count(*) from '{pattern}'").fetchone()[0]
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": round(seconds, 3), "rows": rows}))


if __name__ == "__main__":
    main()
