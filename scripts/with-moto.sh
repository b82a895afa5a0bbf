#!/usr/bin/env bash
# Runs a command with one moto_server (S3 + IAM) on 127.0.0.1 for all the
# tests it starts: TRADELAKE_MOTO_ENDPOINT tells them where it is (see
# tests/support/moto_server.h); without it every test process would start its own.
# The server is stopped when the command ends, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
moto=${TRADELAKE_MOTO_SERVER:-$(command -v moto_server || true)}
[ -n "$moto" ] || [ ! -x .venv/bin/moto_server ] || moto=.venv/bin/moto_server
if [ -z "$moto" ]; then
  echo "with-moto: moto_server not found (run make deps); S3 tests will fail" >&2
  exec "$@"
fi
log=$(mktemp /tmp/tradelake-moto.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
S3_UPLOAD_PART_MIN_SIZE=65536 MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=33554432 \
  setsid "$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill -TERM -- -"$moto_pid" 2>/dev/null || kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 150); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$moto_pid" 2>/dev/null || { cat "$log" >&2; echo "with-moto: moto_server exited" >&2; exit 1; }
  sleep 0.1
done
export TRADELAKE_MOTO_ENDPOINT="http://127.0.0.1:$port"
echo "with-moto: moto_server at $TRADELAKE_MOTO_ENDPOINT"
"$@"
