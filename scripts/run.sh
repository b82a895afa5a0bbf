#!/usr/bin/env bash
# make run: the same pipeline against live Coinbase (needs the internet).
# Catches up the last hour of BTC-USD, ETH-USD and SOL-USD, then verifies.
set -euo pipefail
TRADELAKE=${1:?usage: run.sh path/to/tradelake lake-dir}
LAKE=${2:?usage: run.sh path/to/tradelake lake-dir}
PRODUCTS=${PRODUCTS:-BTC-USD,ETH-USD,SOL-USD}
SINCE=${SINCE:-1h}
echo "== tradelake ingest --products $PRODUCTS --since $SINCE --lake $LAKE (https://api.exchange.coinbase.com)"
"$TRADELAKE" ingest --products "$PRODUCTS" --since "$SINCE" --lake "$LAKE"
echo
"$TRADELAKE" verify --lake "$LAKE"
echo
echo "Keep it fresh: $TRADELAKE ingest --products $PRODUCTS --lake $LAKE --follow"
