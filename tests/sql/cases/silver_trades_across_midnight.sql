-- Trades around a partition boundary: each lands in the partition of its UTC date.
SELECT product_id, date, trade_id, trade_time, price, size, side, taker_side
FROM silver.trades
WHERE trade_time >= '2024-05-02 23:00:00' AND trade_time < '2024-05-03 01:00:00'
ORDER BY trade_time, product_id, trade_id
