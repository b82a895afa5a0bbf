-- gold.bars_1m recomputed from silver.trades (see gold_trades_daily_equals_silver.sql):
-- one row per product with the number of minutes and how many of them differ anywhere.
WITH s AS (
  SELECT product_id, date_trunc('minute', trade_time) AS period_start, count(*) AS n, sum(size) AS volume,
         sum(quote_notional) AS quote, sum(price::DECIMAL(38,8) * size::DECIMAL(38,8)) AS quote_recomputed,
         sum(price) AS sum_price, arg_min(price, trade_id) AS open, max(price) AS high, min(price) AS low,
         arg_max(price, trade_id) AS close,
         coalesce(sum(size) FILTER (WHERE taker_side = 'buy'), 0) AS buy_volume,
         min(trade_id) AS first_trade_id, max(trade_id) AS last_trade_id
  FROM silver.trades
  GROUP BY ALL),
u AS (
  SELECT *, CAST(replace(quote_recomputed::VARCHAR, '.', '') AS HUGEINT) AS q16,
         CAST(replace(volume::DECIMAL(38,8)::VARCHAR, '.', '') AS HUGEINT) AS v8,
         CAST(replace(sum_price::DECIMAL(38,8)::VARCHAR, '.', '') AS HUGEINT) AS p8
  FROM s),
d AS (
  SELECT coalesce(g.product_id, u.product_id) AS product_id,
         g.product_id IS NULL OR u.product_id IS NULL
         OR g.trade_count <> u.n OR g.total_volume <> u.volume OR g.quote_volume <> u.quote
         OR u.quote <> u.quote_recomputed
         OR CAST(replace(g.vwap::VARCHAR, '.', '') AS HUGEINT) <> (2 * u.q16 * 10000000000 + u.v8) // (2 * u.v8)
         OR CAST(replace(g.avg_price::VARCHAR, '.', '') AS HUGEINT) <> (2 * u.p8 * 10000000000 + u.n) // (2 * u.n)
         OR g.open <> u.open OR g.high <> u.high OR g.low <> u.low OR g.close <> u.close
         OR g.buy_volume <> u.buy_volume OR g.first_trade_id <> u.first_trade_id
         OR g.last_trade_id <> u.last_trade_id OR g.date <> g.period_start::DATE AS mismatch
  FROM gold.bars_1m g
  FULL OUTER JOIN u ON g.product_id = u.product_id AND g.period_start = u.period_start)
SELECT product_id, count(*) AS periods, count(*) FILTER (WHERE mismatch) AS mismatches
FROM d
GROUP BY product_id
ORDER BY product_id
