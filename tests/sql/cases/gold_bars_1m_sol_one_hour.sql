SELECT * FROM gold.bars_1m
WHERE product_id = 'SOL-USD' AND period_start >= '2024-05-01 10:00:00' AND period_start < '2024-05-01 11:00:00'
ORDER BY period_start
