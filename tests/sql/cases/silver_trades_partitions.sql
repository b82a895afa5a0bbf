-- One row per partition: sizes and exact sums (all 18 decimals).
SELECT product_id, date, count(*) AS trades, min(trade_id) AS first_id, max(trade_id) AS last_id,
       count(DISTINCT trade_id) AS distinct_ids, min(trade_time) AS first_time, max(trade_time) AS last_time,
       sum(size) AS volume, sum(quote_notional) AS quote, min(price) AS low, max(price) AS high,
       count(*) FILTER (WHERE taker_side = 'buy') AS taker_buys, count(DISTINCT bronze_object) AS bronze_objects,
       bool_and(trade_time::DATE = date) AS time_matches_partition
FROM silver.trades
GROUP BY product_id, date
ORDER BY product_id, date
