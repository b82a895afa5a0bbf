-- gold.trades_daily recomputed from silver.trades with exact SQL: every d_* column must be 0.
-- DECIMAL(38,18) * DECIMAL(38,18) overflows in DuckDB, so products are taken at
-- scale 8 + 8 (exact: simulator prices and sizes have at most 8 decimals, which
-- inputs_have_8_decimals checks), and the two rounded ratios are recomputed in
-- HUGEINT units of 10^-18, half away from zero:
--   vwap      = quote / volume   = q16 * 10^10 / v8
--   avg_price = sum(price) / n   = p8  * 10^10 / n
WITH s AS (
  SELECT product_id, date, count(*) AS n, sum(size) AS volume, sum(quote_notional) AS quote,
         sum(price::DECIMAL(38,8) * size::DECIMAL(38,8)) AS quote_recomputed,
         bool_and(price::DECIMAL(38,8) = price AND size::DECIMAL(38,8) = size) AS inputs_have_8_decimals,
         sum(price) AS sum_price, arg_min(price, trade_id) AS open, max(price) AS high, min(price) AS low,
         arg_max(price, trade_id) AS close,
         coalesce(sum(size) FILTER (WHERE taker_side = 'buy'), 0) AS buy_volume,
         coalesce(sum(size) FILTER (WHERE taker_side = 'sell'), 0) AS sell_volume,
         min(trade_id) AS first_trade_id, max(trade_id) AS last_trade_id
  FROM silver.trades
  GROUP BY product_id, date),
u AS (
  SELECT *, CAST(replace(quote_recomputed::VARCHAR, '.', '') AS HUGEINT) AS q16,
         CAST(replace(volume::DECIMAL(38,8)::VARCHAR, '.', '') AS HUGEINT) AS v8,
         CAST(replace(sum_price::DECIMAL(38,8)::VARCHAR, '.', '') AS HUGEINT) AS p8
  FROM s)
SELECT coalesce(g.product_id, u.product_id) AS product_id, coalesce(g.date, u.date) AS date,
       u.inputs_have_8_decimals,
       g.period_start = u.date::TIMESTAMP AS starts_at_midnight,
       g.trade_count - u.n AS d_count,
       g.total_volume - u.volume AS d_volume,
       g.quote_volume - u.quote AS d_quote,
       u.quote - u.quote_recomputed AS d_notional,
       CAST(replace(g.vwap::VARCHAR, '.', '') AS HUGEINT) - (2 * u.q16 * 10000000000 + u.v8) // (2 * u.v8) AS d_vwap,
       CAST(replace(g.avg_price::VARCHAR, '.', '') AS HUGEINT) - (2 * u.p8 * 10000000000 + u.n) // (2 * u.n) AS d_avg_price,
       g.open - u.open AS d_open, g.high - u.high AS d_high, g.low - u.low AS d_low, g.close - u.close AS d_close,
       g.buy_volume - u.buy_volume AS d_buy, g.sell_volume - u.sell_volume AS d_sell,
       g.first_trade_id - u.first_trade_id AS d_first, g.last_trade_id - u.last_trade_id AS d_last
FROM gold.trades_daily g
FULL OUTER JOIN u ON g.product_id = u.product_id AND g.date = u.date
ORDER BY 1, 2
