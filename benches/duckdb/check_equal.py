#!/usr/bin/env python3
"""Compares the tables run_build.py wrote with churnlake's published tables, row by row on
each table's grain, and prints every difference.

For each of the eight build tables (the as_of_date partition only for customer_daily,
health_scores and playbook_actions): row counts, columns present on one side only or with
another type, keys present on one side only, and per common column the rows whose values
differ — exactly for text, dates, booleans, integers and decimals; within a relative
tolerance (default 1e-9) for doubles. Also prints each numeric column's sum on both sides.
Exit code 0 when every table matches, 1 otherwise.

Example:
    python3 benches/duckdb/check_equal.py --warehouse /tmp/bdemo/warehouse \
        --duckdb-out /tmp/duck-out --as-of 2026-10-31
"""

import argparse
import contextlib
import datetime
import io
import sys
from pathlib import Path

import duckdb

# Table → (grain, partitioned by as_of_date); the grains of src/marts/mod.rs.
TABLES = {
    "customer_daily": (["account_id", "as_of_date"], True),
    "health_scores": (["account_id", "as_of_date"], True),
    "playbook_actions": (["account_id", "as_of_date", "rule_id"], True),
    "mrr_monthly": (["account_id", "month"], False),
    "retention_monthly": (["month", "segment"], False),
    "retention_forecast": (["month"], False),
    "churn_cohorts": (["cohort_month", "months_since_start"], False),
    "health_cohorts": (["observation_date", "band"], False),
}

INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                 "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
FLOAT_TYPES = {"FLOAT", "DOUBLE"}
SAMPLES = 5


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text(value: str) -> str:
    return value.replace("'", "''")


def register(con, view: str, root: Path, table: str, dated: bool, as_of: str) -> bool:
    """A view over one side's table (its as_of date only when dated); False when absent."""
    location = root / table
    if not location.is_dir() or not any(location.rglob("*.parquet")):
        return False
    glob = text(str(location / "**" / "*.parquet"))
    if dated:
        con.execute(
            f"create or replace temp view {view} as select * from read_parquet('{glob}', "
            f"hive_partitioning = true, hive_types = {{'as_of_date': date}}) "
            f"where as_of_date = date '{as_of}'"
        )
    else:
        con.execute(f"create or replace temp view {view} as select * from read_parquet('{glob}')")
    return True


def columns(con, view: str) -> dict:
    return {name: kind for name, kind, *_ in con.execute(f"describe {view}").fetchall()}


def is_numeric(kind: str) -> bool:
    return kind in INTEGER_TYPES or kind in FLOAT_TYPES or kind.startswith("DECIMAL")


def differs(column: str, left_kind: str, right_kind: str, tolerance: float) -> str:
    """SQL that is true when the two sides' values of `column` differ."""
    a, b = f"churnlake.{quote(column)}", f"duck.{quote(column)}"
    if left_kind in FLOAT_TYPES or right_kind in FLOAT_TYPES:
        a, b = f"cast({a} as double)", f"cast({b} as double)"
        close = (
            f"({a} = {b} or (isnan({a}) and isnan({b})) "
            f"or abs({a} - {b}) <= {tolerance!r} * greatest(abs({a}), abs({b})))"
        )
        return f"not (({a} is null and {b} is null) or coalesce({close}, false))"
    if left_kind != right_kind and not (is_numeric(left_kind) and is_numeric(right_kind)):
        a, b = f"cast({a} as varchar)", f"cast({b} as varchar)"
    return f"{a} is distinct from {b}"


def compare(con, table: str, grain: list, tolerance: float) -> list:
    """The differences of one table, as lines to print (empty when equal)."""
    problems = []
    left, right = columns(con, "churnlake"), columns(con, "duck")
    left_rows = con.execute("select count(*) from churnlake").fetchone()[0]
    right_rows = con.execute("select count(*) from duck").fetchone()[0]
    print(f"{table}: {left_rows} rows (churnlake), {right_rows} rows (duckdb)")
    if left_rows != right_rows:
        problems.append(f"row count {left_rows} (churnlake) vs {right_rows} (duckdb)")
    for name in left:
        if name not in right:
            problems.append(f"column {name} only in churnlake")
    for name in right:
        if name not in left:
            problems.append(f"column {name} only in duckdb")
    common = [name for name in left if name in right]
    for name in common:
        if left[name] != right[name]:
            # Types are informative only: DuckDB's integer widths differ from DataFusion's.
            print(f"  note: {name} is {left[name]} (churnlake), {right[name]} (duckdb)")

    for side in ["churnlake", "duck"]:
        keys = ", ".join(quote(k) for k in grain)
        repeated = con.execute(
            f"select count(*) from (select {keys} from {side} group by {keys} having count(*) > 1)"
        ).fetchone()[0]
        if repeated:
            problems.append(f"{side}: {repeated} keys of ({keys}) repeat")

    on = " and ".join(f"churnlake.{quote(k)} is not distinct from duck.{quote(k)}" for k in grain)
    key_list = ", ".join(f"coalesce(churnlake.{quote(k)}, duck.{quote(k)}) as {quote(k)}" for k in grain)
    con.execute(
        f"create or replace temp table paired as select {key_list}, "
        f"churnlake.{quote(grain[0])} is not null as in_churnlake, "
        f"duck.{quote(grain[0])} is not null as in_duck, "
        + ", ".join(
            f"({differs(name, left[name], right[name], tolerance)}) as {quote('diff_' + name)}, "
            f"cast(churnlake.{quote(name)} as varchar) as {quote('left_' + name)}, "
            f"cast(duck.{quote(name)} as varchar) as {quote('right_' + name)}"
            for name in common
            if name not in grain
        )
        + f" from churnlake full outer join duck on {on}"
    )
    keys_sql = ", ".join(f"cast({quote(k)} as varchar)" for k in grain)
    for side, flag in [("churnlake", "not in_duck"), ("duckdb", "not in_churnlake")]:
        missing = con.execute(f"select count(*) from paired where {flag}").fetchone()[0]
        if missing:
            sample = con.execute(f"select {keys_sql} from paired where {flag} order by all limit {SAMPLES}").fetchall()
            problems.append(f"{missing} keys only in {side}, e.g. {sample}")
    for name in common:
        if name in grain:
            continue
        diff = quote("diff_" + name)
        count = con.execute(f"select count(*) from paired where in_churnlake and in_duck and {diff}").fetchone()[0]
        if count:
            sample = con.execute(
                f"select {keys_sql}, {quote('left_' + name)}, {quote('right_' + name)} "
                f"from paired where in_churnlake and in_duck and {diff} order by all limit {SAMPLES}"
            ).fetchall()
            lines = "".join(f"\n      {list(row[:len(grain)])}: {row[-2]!r} vs {row[-1]!r}" for row in sample)
            problems.append(f"{name}: {count} rows differ (churnlake vs duckdb){lines}")

    sums = [name for name in common if is_numeric(left[name]) and is_numeric(right[name])]
    if sums:
        totals = con.execute(
            "select "
            + ", ".join(
                f"(select cast(sum({quote(n)}) as varchar) from churnlake), "
                f"(select cast(sum({quote(n)}) as varchar) from duck)"
                for n in sums
            )
        ).fetchone()
        for i, name in enumerate(sums):
            print(f"  sum {name}: {totals[2 * i]} | {totals[2 * i + 1]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, help="churnlake's warehouse")
    parser.add_argument("--duckdb-out", required=True, help="run_build.py's --out")
    parser.add_argument("--as-of", required=True, help="the date both builds were run for")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="relative, for doubles")
    parser.add_argument("--quiet", action="store_true", help="no column sums")
    parser.add_argument(
        "--tables",
        help="comma-separated subset, e.g. the dated tables after a churnlake backfill "
        "(which rewrites the whole tables as of its last date only)",
    )
    args = parser.parse_args()
    as_of = datetime.date.fromisoformat(args.as_of).isoformat()

    con = duckdb.connect(config={"threads": 2})
    con.execute("set timezone = 'UTC'")
    chosen = args.tables.split(",") if args.tables else list(TABLES)
    unknown = [t for t in chosen if t not in TABLES]
    if unknown:
        parser.error(f"unknown table(s) {', '.join(unknown)}; tables are: {', '.join(TABLES)}")
    failed = []
    for table in chosen:
        grain, dated = TABLES[table]
        have_left = register(con, "churnlake", Path(args.warehouse), table, dated, as_of)
        have_right = register(con, "duck", Path(args.duckdb_out), table, dated, as_of)
        if not (have_left and have_right):
            # A dated table with no row for the date may have no partition at all.
            present = "churnlake" if have_left else "duck" if have_right else None
            rows = con.execute(f"select count(*) from {present}").fetchone()[0] if present else 0
            missing = "duckdb" if have_left else "churnlake"
            if rows == 0:
                print(f"{table}: no rows on either side ({missing} wrote no file)")
                print(f"  equal: {table}")
            else:
                print(f"{table}: MISSING in {missing} ({rows} rows on the other side)")
                failed.append(table)
            continue
        if args.quiet:
            with contextlib.redirect_stdout(io.StringIO()):
                problems = compare(con, table, grain, args.tolerance)
        else:
            problems = compare(con, table, grain, args.tolerance)
        if problems:
            failed.append(table)
            print(f"  DIFFERENT: {table}")
            for problem in problems:
                print(f"    - {problem}")
        else:
            print(f"  equal: {table}")
    print()
    if failed:
        print(f"{len(failed)} of {len(chosen)} tables differ: {', '.join(failed)}")
        return 1
    print(f"all {len(chosen)} tables equal for as_of {as_of}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
