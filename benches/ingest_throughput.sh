#!/usr/bin/env bash
# Ingest throughput and peak memory on a generated dataset of at least 1 GB.
#
#   bash benches/ingest_throughput.sh            # ACCOUNTS=1500 DAYS=365 by default
#
# Runs two ingests with the release binary and prints churnlake's per-source MB/s (bytes
# after decompression / seconds spent reading, converting and writing raw rows) and the
# peak RSS reported by /usr/bin/time:
#   1. the generated sources as they are (Segment and Zendesk NDJSON, plain/.gz/.zst);
#   2. the same track calls as an uncompressed CSV events source (contract §1's CSV form).
set -euo pipefail
cd "$(dirname "$0")/.."

ACCOUNTS=${ACCOUNTS:-1500}
DAYS=${DAYS:-365}
WORK=${WORK:-/tmp/churnlake-bench}
mkdir -p "$WORK"
# A copy, so that rebuilding while the benchmark runs cannot change what is measured.
# BIN=path/to/churnlake skips the build.
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  cp target/release/churnlake "$WORK/churnlake"
  BIN="$WORK/churnlake"
fi
if [ ! -f "$WORK/data/_planted.csv" ]; then
  rm -rf "$WORK/data"
  "$BIN" generate --accounts "$ACCOUNTS" --days "$DAYS" --seed 1 --out "$WORK/data"
fi
echo "input on disk: $(du -sh "$WORK/data" | cut -f1)"

run() {
  local label=$1; shift
  # Extra options for every run, e.g. EXTRA="--memory-limit 1GiB".
  set -- "$@" ${EXTRA:-}
  rm -rf "$WORK/wh"
  echo "== $label"
  /usr/bin/time -v "$BIN" "$@" --warehouse "$WORK/wh" ingest 2> "$WORK/time.txt" | sed -n '2,9p'
  grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt"
}

run "NDJSON sources" --data-root "$WORK/data"

# The same track calls as CSV (message_id,timestamp,user_id,account_id,event,properties).
if [ ! -f "$WORK/csv/segment/events.csv" ]; then
  mkdir -p "$WORK/csv/segment" "$WORK/csv/handoffs" "$WORK/csv/fx"
  cp "$WORK/data/handoffs/handoffs.csv" "$WORK/csv/handoffs/"
  cp "$WORK/data/fx/fx_rates.csv" "$WORK/csv/fx/"
  python3 benches/events_to_csv.py "$WORK/data/segment" "$WORK/csv/segment/events.csv"
fi
cat > "$WORK/csv.toml" <<TOML
[pipeline]
name = "bench-csv"
data_root = "$WORK/csv"

[sources.handoffs]
kind = "handoffs"
path = "handoffs/*.csv"

[sources.fx_rates]
kind = "fx_rates"
path = "fx/*.csv"

[sources.events]
kind = "events"
path = "segment/events.csv"
TOML
echo "CSV events: $(du -sh "$WORK/csv/segment/events.csv" | cut -f1)"
run "CSV events" --pipeline "$WORK/csv.toml"
