SELECT product_id, date, count(*) AS hours, sum(trade_count) AS trades, sum(total_volume) AS volume,
       sum(quote_volume) AS quote, min(period_start) AS first_hour, max(period_start) AS last_hour
FROM gold.trades_hourly
GROUP BY product_id, date
ORDER BY product_id, date
