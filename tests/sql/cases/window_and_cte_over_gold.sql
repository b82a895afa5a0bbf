-- Ordinary analytics: running totals and ranks over Gold.
WITH d AS (SELECT product_id, date, trade_count, quote_volume FROM gold.trades_daily)
SELECT product_id, date, trade_count,
       sum(trade_count) OVER (PARTITION BY product_id ORDER BY date) AS running_trades,
       rank() OVER (PARTITION BY date ORDER BY quote_volume DESC) AS rank_by_quote
FROM d
ORDER BY product_id, date
