#!/usr/bin/env bash
# End-to-end check of pipelines/airflow/churnlake_dag.py: `airflow dags test churnlake_nightly`
# against the committed fixtures, in a throwaway AIRFLOW_HOME (sqlite) and warehouse.
#
#   CHURNLAKE_BIN=/abs/path/to/churnlake bash tests/airflow/run_dag_test.sh
#
# Env: CHURNLAKE_BIN (required), AS_OF (2026-08-24),
#      CHURNLAKE_CI_VENV_AIRFLOW (venv, installed here if missing),
#      AIRFLOW_CONSTRAINTS (optional pip constraints file or URL for the install),
#      EXPECT_OUTPUT (regex churnlake's output must match; default customer_daily),
#      KEEP_TMP=1 keeps the temp AIRFLOW_HOME and warehouse.
set -euo pipefail

AIRFLOW_VERSION=3.3.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${CHURNLAKE_CI_VENV_AIRFLOW:-$HOME/.cache/churnlake-ci/airflow}"
AS_OF="${AS_OF:-2026-08-24}"
EXPECT_OUTPUT="${EXPECT_OUTPUT:-customer_daily}"

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $* ($(date +%T))"; }

[ -n "${CHURNLAKE_BIN:-}" ] || fail "set CHURNLAKE_BIN to an absolute path of a built churnlake"
case "$CHURNLAKE_BIN" in /*) ;; *) fail "CHURNLAKE_BIN must be absolute: $CHURNLAKE_BIN" ;; esac
[ -x "$CHURNLAKE_BIN" ] || fail "CHURNLAKE_BIN is not executable: $CHURNLAKE_BIN"

stamp="$VENV/.airflow-$AIRFLOW_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/airflow" ]; then
  step "installing apache-airflow==$AIRFLOW_VERSION into $VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check -q -U pip
  constraints=(-c "${AIRFLOW_CONSTRAINTS:-$ROOT/tests/airflow/constraints.txt}")
  "$VENV/bin/pip" install --disable-pip-version-check -q "${constraints[@]}" \
    "apache-airflow==$AIRFLOW_VERSION"
  touch "$stamp"
fi
AIRFLOW="$VENV/bin/airflow"

TMP="$(mktemp -d)"
if [ "${KEEP_TMP:-}" = 1 ]; then
  echo "keeping $TMP"
else
  trap 'rm -rf "$TMP"' EXIT
fi
WAREHOUSE="$TMP/warehouse"

export AIRFLOW_HOME="$TMP/airflow-home"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/pipelines/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export CHURNLAKE_BIN
export CHURNLAKE_PIPELINE="$ROOT/pipelines/default.toml"
export CHURNLAKE_WAREHOUSE="$WAREHOUSE"
export CHURNLAKE_DATA_ROOT="$ROOT/fixtures"
unset CHURNLAKE_WORKDIR
mkdir -p "$AIRFLOW_HOME"
cd "$TMP"

step "airflow db migrate (Airflow $("$AIRFLOW" version 2>/dev/null | tail -1))"
"$AIRFLOW" db migrate >"$TMP/migrate.log" 2>&1 || { tail -30 "$TMP/migrate.log"; fail "db migrate"; }

step "airflow dags test churnlake_nightly $AS_OF"
log="$TMP/dags-test.log"
rc=0
timeout "${AIRFLOW_TEST_TIMEOUT:-900}" "$AIRFLOW" dags test churnlake_nightly "$AS_OF" >"$log" 2>&1 || rc=$?

problems=()
[ "$rc" = 0 ] || problems+=("(a) airflow dags test exited $rc")
part="$WAREHOUSE/customer_daily/as_of_date=$AS_OF"
if ! find "$part" -name '*.parquet' 2>/dev/null | grep -q .; then
  problems+=("(b) no .parquet under $part (task skipped or failed?)")
fi
grep -F "Running command:" "$log" | grep -F " run --as-of $AS_OF" | grep -qF "$CHURNLAKE_BIN" ||
  problems+=("(c) the task did not run '$CHURNLAKE_BIN ... run --as-of $AS_OF'")
grep -Eq "$EXPECT_OUTPUT" "$log" ||
  problems+=("(c) churnlake's output does not match /$EXPECT_OUTPUT/")

if [ "${#problems[@]}" -gt 0 ]; then
  echo "---- last lines of $log"
  tail -60 "$log" | cut -c1-400
  for p in "${problems[@]}"; do echo "FAIL: $p"; done
  exit 1
fi
echo "PASS: churnlake_nightly built $(find "$part" -name '*.parquet' | wc -l) parquet file(s) in $part"
