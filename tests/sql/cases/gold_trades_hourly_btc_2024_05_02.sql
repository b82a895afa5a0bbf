SELECT * FROM gold.trades_hourly
WHERE product_id = 'BTC-USD' AND date = '2024-05-02'
ORDER BY period_start
