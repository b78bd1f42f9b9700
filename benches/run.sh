#!/usr/bin/env bash
# The scale benchmark: churnlake against DuckDB, same machine, same run (see benches/bench.py).
#
#   bash benches/run.sh                         # scales s, m, l and xl (2 × l)
#   SCALES=s,m bash benches/run.sh              # a quick look
#
# Env: SCALES (default s,m,l,xl), WORK (default /var/tmp/churnlake-bench; the datasets are
# cached there. A scale needs about 2.5× its raw files free: l 13 GB of raw files and a 14 GB
# warehouse, xl 27 + 27 GB, and room for spill files), MEMORY_LIMIT (default 3GiB, for churnlake
# and DuckDB alike), BIN (a churnlake binary; default: a release build copied into WORK so a
# rebuild cannot change what is measured), EXTRA (more bench.py flags: --no-backfill,
# --no-short-history). Prints the results table and writes WORK/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALES=${SCALES:-s,m,l,xl}
WORK=${WORK:-/var/tmp/churnlake-bench}
MEMORY_LIMIT=${MEMORY_LIMIT:-3GiB}
mkdir -p "$WORK"
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked --quiet
  cp target/release/churnlake "$WORK/churnlake"
  BIN="$WORK/churnlake"
fi
python3 -c "import duckdb" 2>/dev/null || pip install --quiet duckdb
[ -x /usr/bin/time ] || apt-get install -y -qq time
exec python3 benches/bench.py --scales "$SCALES" --work "$WORK" --bin "$BIN" \
  --memory-limit "$MEMORY_LIMIT" --duck-memory-limit "$MEMORY_LIMIT" ${EXTRA:-}
