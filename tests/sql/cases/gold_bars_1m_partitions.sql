SELECT product_id, date, count(*) AS minutes, sum(trade_count) AS trades, sum(total_volume) AS volume,
       sum(quote_volume) AS quote, min(period_start) AS first_minute, max(period_start) AS last_minute
FROM gold.bars_1m
GROUP BY product_id, date
ORDER BY product_id, date
