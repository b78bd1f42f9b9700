#!/usr/bin/env bash
# Install the real readers the table-format tests check our output with; idempotent.
#
#   bash .ci/readers.sh      create the venv if missing, print its path (the only stdout line)
#
# Python deltalake and pyarrow, DuckDB with its Delta extension as a PyPI wheel of the same
# version (DuckDB's own INSTALL downloads from a host CI cannot reach), and pyspark 4 with
# Debian's Java 17. Env: CHURNLAKE_READERS_VENV (venv path), PYTHON (python3).
set -euo pipefail

VENV="${CHURNLAKE_READERS_VENV:-$HOME/.cache/churnlake-ci/readers}"
PINS="deltalake==1.6.6 pyarrow==26.0.1 duckdb==1.5.5 duckdb-extension-delta==1.5.5 pyspark==4.0.5"
stamp="$VENV/.pins-$(echo "$PINS" | cksum | cut -d' ' -f1)"

say() { echo "readers: $*" >&2; }

if ! command -v java >/dev/null 2>&1; then
  say "installing Java 17 (Spark's runtime)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
fi

if [ ! -f "$stamp" ]; then
  say "installing $PINS into $VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --disable-pip-version-check -q $PINS >&2
  touch "$stamp"
fi
echo "$VENV"
