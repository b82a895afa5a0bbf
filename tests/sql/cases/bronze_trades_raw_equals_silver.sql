-- args: --role etl
-- Every Bronze trade the exchange served is in Silver with the same price, size and side.
-- (BTC-USD 2024-05-02 is left out: it holds the hand-made object of broken records.)
WITH raw AS (
  SELECT * FROM bronze.trades_raw WHERE product = 'ETH-USD'
  UNION ALL SELECT * FROM bronze.trades_raw WHERE product = 'SOL-USD'
  UNION ALL SELECT * FROM bronze.trades_raw WHERE product = 'BTC-USD' AND date = '2024-05-01'
  UNION ALL SELECT * FROM bronze.trades_raw WHERE product = 'BTC-USD' AND date = '2024-05-03'),
b AS (
  SELECT product AS product_id, (trade->>'trade_id')::BIGINT AS trade_id, (trade->>'price')::DECIMAL(38,18) AS price,
         (trade->>'size')::DECIMAL(38,18) AS size, trade->>'side' AS side
  FROM raw
  WHERE request LIKE '/products/' || product || '/trades%')
SELECT b.product_id, count(*) AS bronze_trades, count(s.trade_id) AS in_silver,
       count(*) FILTER (WHERE s.price = b.price AND s.size = b.size AND s.side = b.side) AS identical
FROM b LEFT JOIN silver.trades s USING (product_id, trade_id)
GROUP BY b.product_id
ORDER BY b.product_id
