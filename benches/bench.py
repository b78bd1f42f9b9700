"""churnlake against DuckDB at the benchmark scales, on this machine, in one run.

    bash benches/run.sh                      # scales s m l xl; see run.sh for the knobs

For each scale it generates the dataset once (cached under WORK), then measures with
/usr/bin/time (wall seconds, peak RSS):
  1. ingest: `churnlake ingest` of every raw file but the last day's, against DuckDB reading
     the same files into Parquet (benches/duckdb/ingest.py);
  2. build: `churnlake build --as-of LAST-1` of every table, against DuckDB running the
     equivalent SQL (benches/duckdb/build.sql) on the same staged Parquet;
  3. backfill: `churnlake backfill` of the 730 dates ending LAST-1;
  4. daily run: the last day's files land, then `churnlake run --as-of LAST`; and the same
     on a 91-day dataset of the same accounts (history 90 days), to see whether a daily run
     grows with history.
Every churnlake command runs with --memory-limit, DuckDB with the same memory_limit. The
results go to WORK/results.md (and stdout) as a table with ratios.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
END = datetime.date(2026, 10, 31)
HISTORY_DAYS = 730
SHORT_HISTORY_DAYS = 91


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Step:
    """One measured command: wall seconds and peak RSS of the process tree's largest member."""

    def __init__(self, seconds, rss_bytes, stdout):
        self.seconds = seconds
        self.rss = rss_bytes
        self.stdout = stdout
        self.note = ""


class StepFailed(Exception):
    """A command that failed where failing is a result (a DuckDB step at its memory limit)."""

    def __init__(self, reason, seconds):
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds


def failure_reason(stderr):
    """Why a DuckDB step failed, in a few words for the table."""
    if "Out of Memory" in stderr:
        return "out of memory"
    if "No space left on device" in stderr:
        return "out of disk for its spill files"
    lines = [l for l in stderr.splitlines()
             if l.strip() and not l.startswith(("__time__", "Command exited"))]
    return lines[-1][:120] if lines else "failed"


def measure(command, log_file, env=None, failure_ok=False):
    log("$ " + " ".join(command))
    timed = ["/usr/bin/time", "-f", "__time__ %e %M"] + command
    started = time.monotonic()
    result = subprocess.run(timed, capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - started
    with open(log_file, "a") as out:
        out.write("$ " + " ".join(command) + "\n" + result.stdout + result.stderr + "\n")
    if result.returncode != 0 and failure_ok:
        raise StepFailed(failure_reason(result.stderr), elapsed)
    if result.returncode != 0:
        raise SystemExit(
            f"failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stderr[-3000:]}\nsee {log_file}"
        )
    line = [l for l in result.stderr.splitlines() if l.startswith("__time__")][-1]
    _, seconds, rss_kb = line.split()
    return Step(float(seconds) if float(seconds) > 0 else elapsed, int(rss_kb) * 1024, result.stdout)


def link_tree(source, target, skip_suffixes):
    """A directory of symlinks to `source`'s files, leaving out names ending in a suffix."""
    if os.path.exists(target):
        shutil.rmtree(target)
    for directory, _, names in os.walk(source):
        relative = os.path.relpath(directory, source)
        os.makedirs(os.path.join(target, relative), exist_ok=True)
        for name in names:
            if any(name.split(".")[0].endswith(s) for s in skip_suffixes):
                continue
            os.symlink(os.path.join(directory, name), os.path.join(target, relative, name))


def link_files(source, target, suffix):
    for directory, _, names in os.walk(source):
        relative = os.path.relpath(directory, source)
        for name in names:
            if name.split(".")[0].endswith(suffix):
                os.symlink(os.path.join(directory, name), os.path.join(target, relative, name))


def decoded_bytes(command):
    """Bytes churnlake parsed (after decompression) in its latest ingest, from data_quality."""
    out = subprocess.run(
        command + ["query",
                   "select sum(bytes_decoded) as b from data_quality "
                   "where run_id = (select max(run_id) from runs where command = 'ingest')"],
        capture_output=True, text=True, check=True,
    ).stdout
    digits = [t for t in out.replace("|", " ").split() if t.isdigit()]
    return int(digits[-1]) if digits else 0


class Scale:
    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.dir = os.path.join(args.work, name)
        self.log = os.path.join(self.dir, "bench.log")
        os.makedirs(self.dir, exist_ok=True)

    def churnlake(self, data, warehouse, *command):
        """A churnlake command; its JSON events (each table's seconds and peak RSS in
        `table_written`) go to bench.log."""
        return [*self.churnlake_base(data, warehouse), "--log-format", "json", *command]

    def churnlake_base(self, data, warehouse):
        return [
            self.args.bin, "--pipeline", os.path.join(ROOT, "pipelines", "default.toml"),
            "--data-root", data, "--warehouse", warehouse,
            "--memory-limit", self.args.memory_limit,
        ]

    def generate(self, days, label):
        data = os.path.join(self.dir, f"data-{label}")
        done = os.path.join(data, ".complete")
        if not os.path.exists(done):
            if os.path.exists(data):
                shutil.rmtree(data)
            step = measure(
                [self.args.bin, "generate", "--scale", self.name, "--days", str(days),
                 "--seed", "1", "--end-date", END.isoformat(),
                 "--daily-files-from", END.isoformat(), "--out", data],
                self.log,
            )
            log(step.stdout.strip())
            open(done, "w").write(step.stdout)
        return data

    def duck(self, script, arguments):
        """A DuckDB step at the memory limit; if it fails there (out of memory, or out of
        disk for what it spills), again at the retry limit, noted in the table. A step that
        fails at both is a result too: the table says so and the benchmark goes on."""
        args = self.args
        command = lambda limit: [sys.executable, os.path.join(ROOT, "benches", "duckdb", script),
                                 *arguments, "--memory-limit", limit]
        limit, retry = args.duck_memory_limit, args.duck_retry_memory_limit
        try:
            return measure(command(limit), self.log, failure_ok=True)
        except StepFailed as first:
            at_limit = f"{first.reason} at {limit} after {first.seconds:.0f} s"
            log(f"DuckDB: {at_limit}; again at {retry}")
        try:
            step = measure(command(retry), self.log, failure_ok=True)
        except StepFailed as second:
            log(f"DuckDB: {second.reason} at {retry} too")
            step = Step(None, None, "")
            step.note = f" (failed: {at_limit}; {second.reason} at {retry})"
            return step
        step.note = f" ({at_limit}; this at {retry})"
        return step

    def run(self):
        args = self.args
        results = {"scale": self.name}
        last = END.isoformat()
        before = (END - datetime.timedelta(days=1)).isoformat()
        data = self.generate(HISTORY_DAYS, "730d")
        results["generated"] = open(os.path.join(data, ".complete")).read().strip()

        # Every file but the last day's, so the daily run can land it later.
        view = os.path.join(self.dir, "view-730d")
        link_tree(data, view, [last])
        warehouse = os.path.join(self.dir, "warehouse")
        if args.daily_only:
            link_files(data, view, last)
            results["daily_730"] = self.daily(view, warehouse, last)
            return self.short_history(results, last, before)
        shutil.rmtree(warehouse, ignore_errors=True)
        results["ingest"] = measure(self.churnlake(view, warehouse, "ingest"), self.log)
        results["ingest_bytes"] = decoded_bytes(self.churnlake_base(view, warehouse))

        duck = os.path.join(self.dir, "duckdb")
        shutil.rmtree(duck, ignore_errors=True)
        results["duck_ingest"] = self.duck(
            "ingest.py", ["--data", view, "--out", os.path.join(duck, "staged")])
        # Nothing reads DuckDB's copies again (its build reads churnlake's staged tables, as
        # churnlake's does), and at xl the disk needs their room.
        shutil.rmtree(duck, ignore_errors=True)

        results["build"] = measure(
            self.churnlake(view, warehouse, "build", "--as-of", before), self.log)
        results["duck_build"] = self.duck(
            "run_build.py",
            ["--warehouse", warehouse, "--as-of", before, "--out", os.path.join(duck, "marts")])
        shutil.rmtree(duck, ignore_errors=True)

        if not args.no_backfill:
            first = (END - datetime.timedelta(days=HISTORY_DAYS)).isoformat()
            results["backfill"] = measure(
                self.churnlake(view, warehouse, "backfill", "--from", first, "--to", before),
                self.log,
            )

        link_files(data, view, last)
        results["daily_730"] = self.daily(view, warehouse, last)
        return self.short_history(results, last, before)

    def short_history(self, results, last, before):
        """The daily run on a 91-day dataset of the same accounts (90 days of history)."""
        args = self.args
        if not args.no_short_history:
            short = self.generate(SHORT_HISTORY_DAYS, "91d")
            short_view = os.path.join(self.dir, "view-91d")
            link_tree(short, short_view, [last])
            short_warehouse = os.path.join(self.dir, "warehouse-91d")
            if not args.daily_only:
                shutil.rmtree(short_warehouse, ignore_errors=True)
                measure(self.churnlake(short_view, short_warehouse, "run", "--as-of", before),
                        self.log)
            link_files(short, short_view, last)
            results["daily_90"] = self.daily(short_view, short_warehouse, last)
        return results

    def daily(self, view, warehouse, last):
        """The daily run of `last` on `warehouse`. The warehouse as it stood before is kept as
        WAREHOUSE-before-last-day (hard links: churnlake replaces files, never rewrites one),
        and --daily-only starts from that copy again."""
        before = warehouse + "-before-last-day"
        if self.args.daily_only:
            if not os.path.isdir(before):
                raise SystemExit(f"--daily-only: no {before}; run the whole benchmark once")
            shutil.rmtree(warehouse, ignore_errors=True)
            subprocess.run(["cp", "-al", before, warehouse], check=True)
        else:
            shutil.rmtree(before, ignore_errors=True)
            subprocess.run(["cp", "-al", warehouse, before], check=True)
        return measure(self.churnlake(view, warehouse, "run", "--as-of", last), self.log)


def gib(n):
    return f"{n / 2**30:.2f} GiB" if n is not None else "–"


def secs(step):
    return f"{step.seconds:.1f} s" if step and step.seconds is not None else "–"


def ratio(a, b):
    if not (a and b and a.seconds is not None and b.seconds):
        return "–"
    return f"{a.seconds / b.seconds:.2f}×"


def rate(nbytes, step):
    return f" ({nbytes / step.seconds / 1e6:.0f} MB/s)" if step.seconds else ""


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    duck = subprocess.run([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"],
                          capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {memory / 2**30:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}; churnlake {commit}, DuckDB {duck}; "
            f"{datetime.date.today().isoformat()}")


def report(all_results, args):
    lines = [
        f"Machine: {machine()}. Memory limit: churnlake `--memory-limit {args.memory_limit}`, "
        f"DuckDB `memory_limit = '{args.duck_memory_limit}'`.",
        "",
        "| scale | step | churnlake | peak RSS | DuckDB | peak RSS | churnlake ÷ DuckDB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in all_results:
        if "ingest" in r:  # not with --daily-only
            ingest_rows(lines, r)
        daily_rows(lines, r)
    lines.append("")
    lines.append("Datasets (`churnlake generate --scale …`):")
    for r in all_results:
        lines.append(f"- {r['scale']}: {r['generated']}")
    return "\n".join(lines)


def ingest_rows(lines, r):
    lines.append(
        f"| {r['scale']} | ingest ({r['ingest_bytes'] / 1e9:.2f} GB decoded) | "
        f"{secs(r['ingest'])}{rate(r['ingest_bytes'], r['ingest'])} | {gib(r['ingest'].rss)} | "
        f"{secs(r['duck_ingest'])}{rate(r['ingest_bytes'], r['duck_ingest'])}"
        f"{r['duck_ingest'].note} | "
        f"{gib(r['duck_ingest'].rss)} | "
        f"{ratio(r['ingest'], r['duck_ingest'])} |")
    lines.append(
        f"| {r['scale']} | build, every table, one as_of | {secs(r['build'])} | "
        f"{gib(r['build'].rss)} | {secs(r['duck_build'])}{r['duck_build'].note} | "
        f"{gib(r['duck_build'].rss)} | "
        f"{ratio(r['build'], r['duck_build'])} |")
    if "backfill" in r:
        lines.append(
            f"| {r['scale']} | backfill, 730 daily dates | {secs(r['backfill'])} | "
            f"{gib(r['backfill'].rss)} | | | {ratio(r['backfill'], r['build'])} of one build |")


def daily_rows(lines, r):
    for key, label in [("daily_90", "daily run after 90 days"),
                       ("daily_730", "daily run after 730 days")]:
        if key in r:
            lines.append(f"| {r['scale']} | {label} | {secs(r[key])} | {gib(r[key].rss)} "
                         f"| | | |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="s,m,l,xl")
    parser.add_argument("--work", default="/var/tmp/churnlake-bench")
    parser.add_argument("--bin", required=True)
    parser.add_argument("--memory-limit", default="3GiB")
    parser.add_argument("--duck-memory-limit", default="3GiB")
    parser.add_argument("--duck-retry-memory-limit", default="12GiB",
                        help="DuckDB's limit for a second try when it runs out at the first")
    parser.add_argument("--no-backfill", action="store_true")
    parser.add_argument("--no-short-history", action="store_true")
    parser.add_argument("--daily-only", action="store_true",
                        help="only the daily runs again, each from the copy of its warehouse "
                             "an earlier whole run kept")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = []
    for name in args.scales.split(","):
        log(f"== scale {name}")
        results.append(Scale(name, args).run())
        text = report(results, args)
        open(os.path.join(args.work, "results.md"), "w").write(text + "\n")
        raw = [{k: (vars(v) | {"stdout": None}) if isinstance(v, Step) else v
                for k, v in r.items()} for r in results]
        json.dump(raw, open(os.path.join(args.work, "results.json"), "w"), indent=1)
    print(text)


if __name__ == "__main__":
    main()
