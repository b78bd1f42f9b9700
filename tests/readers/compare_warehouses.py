"""Reads two warehouses of the same inputs with DuckDB and prints one JSON object: for every
table (a folder not starting with `_`), the row count in each and the rows found in only one
of them (EXCEPT ALL both ways), for tests/cluster_cli.rs to assert on.

    python compare_warehouses.py WAREHOUSE_A WAREHOUSE_B

Run-log tables (runs, data_quality, quarantine) differ between two runs by their run ids and
times, so only their row counts are compared.
"""

import json
import os
import sys

import duckdb

from warehouse import RUN_LOG, tables


def scan(warehouse, table):
    path = os.path.join(warehouse, table, "**", "*.parquet")
    return f"read_parquet('{path}', hive_partitioning = true, union_by_name = true)"


def main():
    a, b = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    seen = {}
    in_a, in_b = set(tables(a)), set(tables(b))
    for table in sorted(in_a | in_b):
        if table not in in_a or table not in in_b:
            seen[table] = {"missing_in": "a" if table not in in_a else "b"}
            continue
        count = lambda w: con.execute(f"select count(*) from {scan(w, table)}").fetchall()[0][0]
        entry = {"rows_a": count(a), "rows_b": count(b)}
        if table not in RUN_LOG:
            only = lambda x, y: con.execute(
                f"select count(*) from (select * from {scan(x, table)} "
                f"except all select * from {scan(y, table)})"
            ).fetchall()[0][0]
            entry["only_a"] = only(a, b)
            entry["only_b"] = only(b, a)
        seen[table] = entry
    print(json.dumps(seen, indent=1))


main()
