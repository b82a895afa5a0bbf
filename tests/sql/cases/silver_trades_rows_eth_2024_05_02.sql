-- Full rows (ingested_at depends on when the lake was built: left out).
SELECT * EXCLUDE (ingested_at)
FROM silver.trades
WHERE product_id = 'ETH-USD' AND date = '2024-05-02'
ORDER BY trade_id
LIMIT 12
