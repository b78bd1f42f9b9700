"""Reads a Parquet-format and a Delta-format warehouse of the same inputs with real readers
and prints one JSON object of what each saw, for tests/table_format_cli.rs to assert on.

    python compare_formats.py PARQUET_WAREHOUSE DELTA_WAREHOUSE [--spark]

For every output table (a folder not starting with `_`):
- python deltalake reads the Delta table; pyarrow reads the Parquet folder (Hive partitions);
  the rows must be equal after casting both to the Delta table's Arrow types;
- DuckDB reads the Delta table with delta_scan (the extension from its PyPI wheel) and the
  Parquet folder with read_parquet(hive_partitioning); rows must equal the above;
- with --spark, Spark reads the Parquet folder with partition discovery; its row count and
  the sum of every numeric column must equal DuckDB's.
Run-log tables (runs, data_quality, quarantine) differ between two runs by their run ids and
times, so only their row counts are compared.
"""

import json
import os
import sys

import duckdb
import duckdb_extension_delta
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from warehouse import RUN_LOG, tables


def delta_extension():
    root = os.path.dirname(duckdb_extension_delta.__file__)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".duckdb_extension"):
                return os.path.join(folder, name)
    raise SystemExit("no delta.duckdb_extension in the duckdb-extension-delta wheel")


def normalized(table, schema):
    """The table's columns in the schema's order and types, rows sorted."""
    columns = []
    for field in schema:
        column = table.column(field.name)
        if not column.type.equals(field.type):
            column = column.cast(field.type)
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=pa.schema(list(schema)))
    keys = [(f.name, "ascending") for f in schema if not pa.types.is_nested(f.type)]
    return table.sort_by(keys) if keys else table


def plain_schema(schema):
    # Nullability differs between readers; compare values and types.
    return pa.schema([pa.field(f.name, f.type, True) for f in schema])


def main():
    parquet_wh, delta_wh = sys.argv[1], sys.argv[2]
    spark_on = "--spark" in sys.argv
    con = duckdb.connect()
    con.execute(f"LOAD '{delta_extension()}'")
    spark = None
    if spark_on:
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
    report = {"tables": {}, "timestamp_types": []}
    for name in tables(parquet_wh):
        entry = {}
        delta_path = os.path.join(delta_wh, name)
        parquet_path = os.path.join(parquet_wh, name)
        delta = DeltaTable(delta_path)
        from_delta = delta.to_pyarrow_table()
        schema = plain_schema(from_delta.schema)
        for field in schema:
            if pa.types.is_timestamp(field.type):
                report["timestamp_types"].append([name, field.name, str(field.type)])
        from_parquet = ds.dataset(parquet_path, format="parquet", partitioning="hive").to_table()
        duck_delta = con.execute(f"select * from delta_scan('{delta_path}')").fetch_arrow_table()
        duck_parquet = con.execute(
            f"select * from read_parquet('{parquet_path}/**/*.parquet', hive_partitioning = true,"
            " union_by_name = true)"
        ).fetch_arrow_table()
        entry["rows"] = {
            "deltalake": from_delta.num_rows,
            "pyarrow": from_parquet.num_rows,
            "duckdb_delta": duck_delta.num_rows,
            "duckdb_parquet": duck_parquet.num_rows,
        }
        entry["version"] = delta.version()
        if name not in RUN_LOG:
            reference = normalized(from_delta, schema)
            entry["pyarrow_equal"] = normalized(from_parquet, schema).equals(reference)
            entry["duckdb_delta_equal"] = normalized(duck_delta, schema).equals(reference)
            entry["duckdb_parquet_equal"] = normalized(duck_parquet, schema).equals(reference)
        if spark is not None:
            numeric = [
                f.name
                for f in schema
                if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
            ]
            frame = spark.read.option("basePath", parquet_path).parquet(parquet_path)
            sums = {}
            if numeric:
                row = frame.selectExpr(*[f"cast(sum(`{c}`) as double) as `{c}`" for c in numeric]).collect()[0]
                sums = {c: row[c] for c in numeric}
            duck_sums = {}
            if numeric:
                selected = ", ".join(f'cast(sum("{c}") as double) as "{c}"' for c in numeric)
                values = con.execute(
                    f"select {selected} from read_parquet('{parquet_path}/**/*.parquet',"
                    " hive_partitioning = true, union_by_name = true)"
                ).fetchone()
                duck_sums = dict(zip(numeric, values))
            entry["spark_rows"] = frame.count()
            entry["spark_sums_equal"] = all(
                (sums[c] is None and duck_sums[c] is None)
                or (sums[c] is not None and duck_sums[c] is not None and abs(sums[c] - duck_sums[c]) <= 1e-6 * max(1.0, abs(duck_sums[c])))
                for c in numeric
            )
            entry["spark_sums"] = sums
        report["tables"][name] = entry
    if spark is not None:
        spark.stop()
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
