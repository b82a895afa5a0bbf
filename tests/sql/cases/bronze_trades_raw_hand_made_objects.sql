-- args: --role etl
-- A hand-made object (fixed ingested_at): records exactly as landed.
SELECT product, date, ingested_at, request, trade::VARCHAR AS trade, bronze_object
FROM bronze.trades_raw
WHERE product = 'ETH-USD' AND date = '2024-05-01' AND ingested_at LIKE '2024-05-03T12:30:00%'
ORDER BY trade::VARCHAR
