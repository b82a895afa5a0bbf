#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target for FUZZ_SECONDS (default 60) from an
# empty corpus kept under build/fuzz/corpus/<target>.
set -euo pipefail
BUILD=${1:?usage: fuzz.sh build-dir}
SECONDS_EACH=${FUZZ_SECONDS:-60}
for f in "$BUILD"/*_fuzz; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  mkdir -p "$BUILD/corpus/$name"
  echo "== $name (${SECONDS_EACH}s)"
  "$f" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$BUILD/corpus/$name" 2>&1 | tail -n 12
done
