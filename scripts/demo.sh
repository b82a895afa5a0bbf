#!/usr/bin/env bash
# make demo: the whole pipeline, offline. Starts the built-in exchange
# simulator on 127.0.0.1, backfills a few hours of history for three products
# into a fresh lake, proves what landed, builds Silver and Gold, queries them,
# then starts `tradelake run` (live ingest + ETL + API + dashboard) and prints
# the dashboard's URL. On a terminal it runs until Ctrl-C; otherwise for
# DEMO_RUN_SECONDS (default 30). DEMO_PORT picks the port (default 8080).
set -euo pipefail
TRADELAKE=${1:?usage: demo.sh path/to/tradelake lake-dir}
LAKE=${2:?usage: demo.sh path/to/tradelake lake-dir}
PRODUCTS=BTC-USD,ETH-USD,SOL-USD
work=$(mktemp -d)
run_pid=""
cleanup() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  kill "$sim_pid" 2>/dev/null || true
  wait "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting the exchange simulator (seed 42, 4h of history, 3 products)"
"$TRADELAKE" simulate --port 0 --products "$PRODUCTS" --seed 42 --history 4h \
  --ready-file "$work/url" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 200); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { cat "$work/simulator.log"; echo "demo: simulator did not start" >&2; exit 1; }
url=$(cat "$work/url")
echo "   serving at $url"

rm -rf "$LAKE"
echo
echo "== tradelake ingest --products $PRODUCTS --since 4h --exchange-url $url --lake $LAKE"
"$TRADELAKE" ingest --products "$PRODUCTS" --since 4h --exchange-url "$url" --lake "$LAKE"

echo
echo "== a second run catches up from the checkpoints (only trades printed since)"
"$TRADELAKE" ingest --products "$PRODUCTS" --exchange-url "$url" --lake "$LAKE" --no-progress

echo
echo "== tradelake verify --lake $LAKE   (reads every Bronze object back)"
"$TRADELAKE" verify --lake "$LAKE"

echo
echo "== tradelake etl --lake $LAKE   (Bronze -> Silver -> Gold)"
"$TRADELAKE" etl --lake "$LAKE"

echo
echo "== tradelake reconcile --products $PRODUCTS --from 4h --exchange-url $url   (gold.bars_1m vs the exchange's candles)"
"$TRADELAKE" reconcile --lake "$LAKE" --products "$PRODUCTS" --from 4h --exchange-url "$url" --min-age 2m --show 3

echo
echo "== tradelake dq --lake $LAKE"
"$TRADELAKE" dq --lake "$LAKE" | head -n 8

echo
echo "== tradelake bars --product BTC-USD --interval 1h --limit 5   (from gold.trades_hourly)"
"$TRADELAKE" bars --lake "$LAKE" --product BTC-USD --interval 1h --limit 5

echo
echo "== tradelake sql --lake $LAKE \"SELECT ... FROM gold.trades_daily ...\"   (scan summary on stderr)"
"$TRADELAKE" sql --lake "$LAKE" \
  "SELECT product_id, date, trade_count, round(vwap, 2) AS vwap, total_volume FROM gold.trades_daily ORDER BY ALL"

echo
echo "== tradelake sql: one hour of BTC-USD trades from Silver (only BTC-USD partitions are read)"
"$TRADELAKE" sql --lake "$LAKE" \
  "SELECT count(*) AS trades, min(price), max(price), sum(quote_notional) AS notional FROM silver.trades
   WHERE product_id = 'BTC-USD' AND trade_time >= date_trunc('hour', now()::TIMESTAMP) - INTERVAL 2 HOUR
     AND trade_time < date_trunc('hour', now()::TIMESTAMP) - INTERVAL 1 HOUR"

echo
echo "== tradelake catalog list --lake $LAKE"
"$TRADELAKE" catalog list --lake "$LAKE"

echo
echo "Where to look:"
echo "  Bronze objects:   $LAKE/bronze/source=coinbase/product=*/date=*/<first>-<last>.jsonl.zst"
first=$(find "$LAKE/bronze" -name '*.jsonl.zst' | sort | head -n 1)
echo "  read one:         zstdcat '$first' | head -n 2"
echo "  checkpoints:      $LAKE/_state/ingest/source=coinbase/product=*/checkpoint.json"
echo "  Silver and Gold:  $LAKE/silver/trades/  $LAKE/gold/{trades_hourly,trades_daily,bars_1m}/  (Delta Lake tables: Parquet + _delta_log/)"
echo "  Delta log:        $LAKE/silver/trades/_delta_log/ (what Athena, Trino and Spark read: the committed files)"
echo "  committed state:  $LAKE/_catalog/commits/ (one Delta version per table, bookmarks, totals)"
echo "  SQL shell:        $TRADELAKE sql --lake $LAKE   (.tables, .schema, .help)"
echo "  Athena DDL:       $TRADELAKE catalog ddl --lake $LAKE --location s3://your-bucket/lake"
echo "  live Coinbase:    make run"

echo
echo "== tradelake run --lake $LAKE --products $PRODUCTS   (live: follow, land, transform, serve)"
port=${DEMO_PORT:-8080}
start_run() {
  rm -f "$work/run.url"
  "$TRADELAKE" run --lake "$LAKE" --products "$PRODUCTS" --exchange-url "$url" --port "$1" \
    --ready-file "$work/run.url" >"$work/run.log" 2>&1 &
  run_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/run.url" ] && return 0
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$run_pid" 2>/dev/null || true
  run_pid=""
  return 1
}
if ! start_run "$port"; then
  echo "   port $port is taken; using a free one"
  start_run 0 || { cat "$work/run.log"; echo "demo: tradelake run did not start" >&2; exit 1; }
fi
api=$(cat "$work/run.url")
echo
echo "  Dashboard:        $api/            (candles, volume, pipeline health, SQL box)"
echo "  API:              curl -s $api/api/v1/status"
echo "                    curl -s '$api/api/v1/bars?product=BTC-USD&interval=1m&from=1h'"
echo "  Prometheus:       curl -s $api/metrics"
echo "  Pause / resume:   $TRADELAKE schedule pause --lake $LAKE   (no exchange requests while paused)"
if [ -t 0 ] && [ -z "${DEMO_RUN_SECONDS:-}" ]; then
  echo
  echo "tradelake run is following the simulator; press Ctrl-C to stop it (pending trades are flushed first)."
  trap 'echo; echo "stopping"' INT
  wait "$run_pid" || true
  trap - INT
  kill -TERM "$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
else
  seconds=${DEMO_RUN_SECONDS:-30}
  echo
  echo "(not a terminal: running for $seconds s, then stopping cleanly; DEMO_RUN_SECONDS changes that)"
  sleep "$seconds"
  curl -s "$api/api/v1/status" | head -c 400; echo
  kill -TERM "$run_pid"
  wait "$run_pid" || true
fi
run_pid=""
echo
echo "== what tradelake run did"
tail -n 4 "$work/run.log"
