SELECT * FROM gold.trades_daily WHERE product_id = 'DOGE-USD'
