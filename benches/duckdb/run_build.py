#!/usr/bin/env python3
"""Runs build.sql — churnlake's `build --as-of D` in DuckDB SQL — over a warehouse's staged
Parquet and prints the elapsed seconds as JSON on stdout: {"seconds": 12.3, ...}.

The timing covers the whole script (reading the staged tables, every model, writing the
eight tables), with DuckDB's memory bounded by --memory-limit (it spills to a temporary
directory past it) and --threads worker threads. Per-statement seconds go to stderr with
--verbose.

Example:
    python3 benches/duckdb/run_build.py --warehouse /tmp/bdemo/warehouse \
        --as-of 2026-10-31 --out /tmp/duck-out --threads 2 --memory-limit 2GiB
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
DATED_TABLES = ["customer_daily", "health_scores", "playbook_actions"]
WHOLE_TABLES = [
    "mrr_monthly",
    "retention_monthly",
    "retention_forecast",
    "churn_cohorts",
    "health_cohorts",
]


def sql_text(value: str) -> str:
    """A value to put inside a single-quoted SQL string."""
    return value.replace("'", "''")


def script(warehouse: str, as_of: str, out: str) -> str:
    text = (HERE / "build.sql").read_text()
    for key, value in [("warehouse", warehouse), ("as_of", as_of), ("out", out)]:
        text = text.replace("${" + key + "}", sql_text(value))
    return text


def prepare_out(out: Path) -> None:
    """Empties the build's table directories in --out (nothing else there is touched)."""
    out.mkdir(parents=True, exist_ok=True)
    for table in DATED_TABLES + WHOLE_TABLES:
        shutil.rmtree(out / table, ignore_errors=True)
    for table in WHOLE_TABLES:
        (out / table).mkdir()


def first_line(statement: str) -> str:
    for line in statement.splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line[:80]
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, help="churnlake warehouse holding stg_*")
    parser.add_argument("--as-of", required=True, help="YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="directory for the eight tables")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--memory-limit",
        default="2GiB",
        help="DuckDB memory_limit (default 2GiB, churnlake's default memory_limit)",
    )
    parser.add_argument("--temp-dir", help="spill directory (default: a fresh one under /tmp)")
    parser.add_argument("--verbose", action="store_true", help="per-statement seconds on stderr")
    args = parser.parse_args()

    as_of = datetime.date.fromisoformat(args.as_of).isoformat()
    warehouse = Path(args.warehouse).resolve()
    if not (warehouse / "stg_handoffs").is_dir():
        print(f"no staged tables in {warehouse}; run `churnlake ingest` first", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    prepare_out(out)
    spill = Path(args.temp_dir) if args.temp_dir else Path(tempfile.mkdtemp(prefix="duckdb-spill-"))

    text = script(str(warehouse), as_of, str(out))
    con = duckdb.connect(config={"threads": args.threads, "memory_limit": args.memory_limit})
    try:
        con.execute(f"set temp_directory = '{sql_text(str(spill))}'")
        con.execute("set timezone = 'UTC'")
        # Row order of the outputs is not part of any table's contract; dropping it lets
        # DuckDB stream and spill more freely.
        con.execute("set preserve_insertion_order = false")

        statements = duckdb.extract_statements(text)
        started = time.perf_counter()
        for statement in statements:
            began = time.perf_counter()
            con.execute(statement)
            if args.verbose:
                seconds = time.perf_counter() - began
                print(f"{seconds:8.3f}s  {first_line(statement.query)}", file=sys.stderr)
        seconds = time.perf_counter() - started
    finally:
        con.close()
        if not args.temp_dir:
            shutil.rmtree(spill, ignore_errors=True)

    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "as_of": as_of,
                "threads": args.threads,
                "memory_limit": args.memory_limit,
                "duckdb": duckdb.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
