#!/usr/bin/env bash
# make demo: the whole pipeline, offline. Starts the built-in exchange
# simulator on 127.0.0.1, backfills a few hours of history for three products
# into a fresh lake, proves what landed, and says where to look.
set -euo pipefail
TRADELAKE=${1:?usage: demo.sh path/to/tradelake lake-dir}
LAKE=${2:?usage: demo.sh path/to/tradelake lake-dir}
PRODUCTS=BTC-USD,ETH-USD,SOL-USD
work=$(mktemp -d)
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

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
echo "  Silver and Gold:  $LAKE/silver/trades/  $LAKE/gold/{trades_hourly,trades_daily,bars_1m}/  (Parquet, product_id=/date=)"
echo "  committed state:  $LAKE/_catalog/commits/ (the newest commit lists every live file)"
echo "  SQL shell:        $TRADELAKE sql --lake $LAKE   (.tables, .schema, .help)"
echo "  Athena DDL:       $TRADELAKE catalog ddl --lake $LAKE --location s3://your-bucket/lake"
echo "  live Coinbase:    make run"
