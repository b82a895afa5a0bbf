-- args: --role etl
SELECT DISTINCT typeof(product), typeof(date), typeof(ingested_at), typeof(request), typeof(trade),
       typeof(bronze_object)
FROM bronze.trades_raw
WHERE date = '2024-05-01'
