SELECT * FROM gold.trades_daily ORDER BY product_id, period_start
