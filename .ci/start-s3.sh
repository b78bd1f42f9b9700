#!/usr/bin/env bash
# Start a local S3-compatible server (moto) on 127.0.0.1 for tests; idempotent.
#
#   bash .ci/start-s3.sh          install moto into a venv if missing, start it if not answering,
#                                 print the endpoint URL (the only line on stdout)
#   bash .ci/start-s3.sh stop     stop the server this script started
#
# Env: S3_PORT (5055), CHURNLAKE_CI_VENV (venv path), PYTHON (python3).
# moto accepts any credentials (e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test,
# region us-east-1) and needs path-style requests. It honours If-None-Match: * and If-Match on
# PutObject and CompleteMultipartUpload (412 PreconditionFailed), which object_store's
# PutMode::Create / Update use. Log: /tmp/moto.log, pid: /tmp/moto.pid.
set -euo pipefail

MOTO_VERSION=5.2.5
PORT="${S3_PORT:-5055}"
VENV="${CHURNLAKE_CI_VENV:-$HOME/.cache/churnlake-ci/venv}"
ENDPOINT="http://127.0.0.1:$PORT"
LOG=/tmp/moto.log
PIDFILE=/tmp/moto.pid

say() { echo "start-s3: $*" >&2; }

if [ "${1:-}" = stop ]; then
  if [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null; then say "stopped"; fi
  rm -f "$PIDFILE"
  exit 0
fi

answering() {
  curl -s --max-time 2 "$ENDPOINT/" 2>/dev/null | grep -q ListAllMyBucketsResult
}

if answering; then
  say "already answering at $ENDPOINT"
  echo "$ENDPOINT"
  exit 0
fi

stamp="$VENV/.moto-$MOTO_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  say "installing moto[server]==$MOTO_VERSION into $VENV"
  "${PYTHON:-python3}" -m venv "$VENV" || {
    say "python3 -m venv failed (on Debian's python3: apt-get install -y python3-venv)"
    exit 1
  }
  "$VENV/bin/pip" install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION" >&2
  touch "$stamp"
fi

say "starting moto_server on $ENDPOINT (log $LOG)"
nohup setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
echo $! >"$PIDFILE"

for _ in $(seq 1 60); do
  if answering; then
    say "up (pid $(cat "$PIDFILE"))"
    echo "$ENDPOINT"
    exit 0
  fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    say "moto_server exited; last log lines:"
    tail -20 "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done
say "moto_server did not answer within 30 s; last log lines:"
tail -20 "$LOG" >&2
exit 1
