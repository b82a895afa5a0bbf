#!/usr/bin/env bash
# Runs every libFuzzer target in a build dir (make fuzz; CI's .ci/run) for
# FUZZ_SECONDS each (default 60), FUZZ_JOBS of them at a time (default 1).
#
# Each target <t> starts from the committed seed corpus tests/fuzz-corpus/<t>/
# (read only) plus what earlier runs found, kept in <build>/corpus/<t>/. A
# crash, leak, timeout (10 s per input) or out-of-memory (2 GiB) fails the
# run; the input that did it is saved as <build>/artifacts/<t>-crash-... and
# the end of the fuzzer's log is printed. The summary gives each target's
# executions and coverage.
set -euo pipefail
BUILD=${1:?usage: fuzz.sh build-dir}
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SEEDS="$ROOT/tests/fuzz-corpus"
mkdir -p "$BUILD/logs" "$BUILD/artifacts"

targets=()
for f in "$BUILD"/*_fuzz; do
  [ -x "$f" ] && targets+=("$(basename "$f")")
done
if ((${#targets[@]} == 0)); then
  echo "fuzz: no *_fuzz targets in $BUILD (configure with -DTRADELAKE_FUZZ=ON, build --target fuzzers)" >&2
  exit 1
fi

run_one() {
  local name=$1
  mkdir -p "$BUILD/corpus/$name"
  local dirs=("$BUILD/corpus/$name")
  if [ -d "$SEEDS/$name" ]; then
    dirs+=("$SEEDS/$name")
  else
    echo "fuzz: $name has no seed corpus in tests/fuzz-corpus/$name" >&2
  fi
  "$BUILD/$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" "${dirs[@]}" \
    >"$BUILD/logs/$name.log" 2>&1
}

echo "fuzz: ${#targets[@]} targets, ${SECONDS_EACH}s each, $JOBS at a time"
declare -A pid_of
failed=()
for name in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  run_one "$name" &
  pid_of[$name]=$!
done
for name in "${targets[@]}"; do
  if ! wait "${pid_of[$name]}"; then failed+=("$name"); fi
done

printf '%-20s %12s %10s %8s %s\n' target executions exec/s cov result
for name in "${targets[@]}"; do
  log="$BUILD/logs/$name.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  result=ok
  for f in "${failed[@]+"${failed[@]}"}"; do [ "$f" = "$name" ] && result=FAILED; done
  printf '%-20s %12s %10s %8s %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done
if ((${#failed[@]})); then
  for name in "${failed[@]}"; do
    echo "== $name failed; end of $BUILD/logs/$name.log:" >&2
    tail -n 40 "$BUILD/logs/$name.log" >&2
  done
  exit 1
fi
