"""churnlake with `table_format = "parquet"` against `"delta"`, same data, same machine, one run.

    python3 benches/table_formats.py --bin BIN [--scale m] [--work DIR] [--backfill-days N]

On the benchmark dataset of the scale (generated once by `churnlake generate`, cached under
WORK as benches/bench.py caches it), for each format in turn: `ingest` of every file but the
last day's, `build --as-of` the day before the last, a `backfill` of the N daily dates before
that (default 30), then the last day's files land and `run --as-of` the last day; and the
daily run again after `compact`. Wall seconds and peak RSS per step (/usr/bin/time), the
delta/parquet ratio, and each warehouse's files and bytes. Prints a Markdown table.
"""

import argparse
import datetime
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared dataset cache and measuring)


def tree_size(path):
    files, size = 0, 0
    for directory, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(directory, name))
    return files, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="m")
    parser.add_argument("--work", default="/var/tmp/churnlake-bench")
    parser.add_argument("--bin", required=True)
    parser.add_argument("--memory-limit", default="3GiB")
    parser.add_argument("--backfill-days", type=int, default=30)
    args = parser.parse_args()
    scale = bench.Scale(args.scale, args)
    last = bench.END.isoformat()
    before = (bench.END - datetime.timedelta(days=1)).isoformat()
    first = (bench.END - datetime.timedelta(days=1 + args.backfill_days)).isoformat()
    until = (bench.END - datetime.timedelta(days=2)).isoformat()
    data = scale.generate(bench.HISTORY_DAYS, "730d")
    steps = {}
    sizes = {}
    for fmt in ["parquet", "delta"]:
        view = os.path.join(scale.dir, f"view-formats-{fmt}")
        bench.link_tree(data, view, [last])
        warehouse = os.path.join(scale.dir, f"warehouse-{fmt}")
        shutil.rmtree(warehouse, ignore_errors=True)
        run = lambda *command: bench.measure(
            scale.churnlake(view, warehouse, "--table-format", fmt, *command), scale.log)
        steps[("ingest", fmt)] = run("ingest")
        steps[("build --as-of", fmt)] = run("build", "--as-of", before)
        steps[(f"backfill of {args.backfill_days} dates", fmt)] = run(
            "backfill", "--from", first, "--to", until)
        bench.link_files(data, view, last)
        steps[("daily run", fmt)] = run("run", "--as-of", last)
        if fmt == "delta":
            steps[("compact (delta only)", fmt)] = run("compact")
        steps[("daily run again (delta: after compact)", fmt)] = run("run", "--as-of", last)
        sizes[fmt] = tree_size(warehouse)
    names = []
    for (name, _) in steps:
        if name not in names:
            names.append(name)
    lines = [
        f"| step ({args.scale}) | parquet | delta | delta / parquet |",
        "|---|---|---|---|",
    ]
    for name in names:
        p, d = steps.get((name, "parquet")), steps.get((name, "delta"))
        cell = lambda s: f"{s.seconds:.1f} s, {bench.gib(s.rss)}" if s else "–"
        ratio = f"{d.seconds / p.seconds:.2f}" if p and d else "–"
        lines.append(f"| {name} | {cell(p)} | {cell(d)} | {ratio} |")
    for fmt, (files, size) in sizes.items():
        lines.append(f"\n{fmt} warehouse: {files} files, {size / 2**30:.2f} GiB")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
