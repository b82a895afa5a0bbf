SELECT product_id, date, rule, count(*) AS records, count(trade_id) AS with_trade_id
FROM silver.trades_rejected
GROUP BY ALL
ORDER BY ALL
