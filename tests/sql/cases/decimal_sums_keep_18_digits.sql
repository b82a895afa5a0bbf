SELECT product_id, sum(quote_notional) AS quote, sum(size) AS volume, sum(price) AS price_sum,
       min(size) AS smallest, max(quote_notional) AS largest, typeof(sum(quote_notional)) AS sum_type
FROM silver.trades
GROUP BY product_id
ORDER BY product_id
