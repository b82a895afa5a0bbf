#!/usr/bin/env bash
# make bench: every benchmark under bench/, each printing its own table.
# serve_load_bench (~2 min: builds a 26 h lake, then 2 x 22 s of load),
# freshness_bench (its default 300 s of `tradelake run`, ~5.5 min in all) and
# age_bench (a 30-day lake built first) run after the others, their settings
# spelled out.
set -euo pipefail
BUILD=${1:?usage: bench.sh build-dir}
for b in "$BUILD"/*_bench; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  case "$name" in
    serve_load_bench | freshness_bench | age_bench) continue ;;  # run below, with their settings spelled out
  esac
  echo "== $name"
  "$b"
  echo
done
# The HTTP API under 64 keep-alive connections: one-day 1m bars vs /healthz.
if [ -x "$BUILD/serve_load_bench" ]; then
  echo "== serve_load_bench"
  "$BUILD/serve_load_bench" --seconds 20
  echo
fi
# Trade -> gold.bars_1m via the API with `tradelake run`'s defaults, over 5 minutes.
if [ -x "$BUILD/freshness_bench" ]; then
  echo "== freshness_bench"
  "$BUILD/freshness_bench" --seconds 300
  echo
fi
# A step (land 10 s of trades + one ETL run) on a 10-minute vs a 30-day lake:
# time, requests and log bytes must not grow with age. Setup dominates: it
# writes ~1.3 M Bronze objects and brings the old lake up to date first.
if [ -x "$BUILD/age_bench" ]; then
  echo "== age_bench"
  "$BUILD/age_bench" --days 30 --steps 20
  echo
fi
