"""Writes the track calls of Segment NDJSON files (plain, .gz, .zst) as one CSV file in the
CSV form of contract §1: message_id,timestamp,user_id,account_id,event,properties.
Used by ingest_throughput.sh only; malformed lines are skipped."""
import csv
import gzip
import io
import json
import pathlib
import subprocess
import sys


def lines(path: pathlib.Path):
    if path.suffix == ".gz":
        yield from gzip.open(path, "rt", encoding="utf-8", errors="replace")
    elif path.suffix == ".zst":
        proc = subprocess.Popen(["zstd", "-dc", str(path)], stdout=subprocess.PIPE)
        yield from io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace")
    else:
        yield from open(path, encoding="utf-8", errors="replace")


source, target = pathlib.Path(sys.argv[1]), sys.argv[2]
with open(target, "w", newline="") as out:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["message_id", "timestamp", "user_id", "account_id", "event", "properties"])
    for path in sorted(source.glob("events-*")):
        for line in lines(path):
            try:
                call = json.loads(line)
            except ValueError:
                continue
            if call.get("type") != "track":
                continue
            writer.writerow([
                call.get("messageId", ""),
                call.get("timestamp", ""),
                call.get("userId", ""),
                (call.get("context") or {}).get("groupId", ""),
                call.get("event", ""),
                json.dumps(call.get("properties") or {}, separators=(",", ":")),
            ])
