#!/usr/bin/env bash
# make bench: every benchmark under bench/, each printing its own table.
set -euo pipefail
BUILD=${1:?usage: bench.sh build-dir}
for b in "$BUILD"/*_bench; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
  echo
done
